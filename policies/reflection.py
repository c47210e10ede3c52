"""The tree searches' analysis of every run: AIDE's feedback call and AIRA-dojo's analyze operator.

After each run (draft, improvement, debug, crossover alike) both references ask the model to read
the code and its output and to submit a review: whether the run has a bug and a short analysis
(aideml ``aide/agent.py``: ``parse_exec_result`` with ``review_func_spec``; aira-dojo
``core/solvers/operators/analyze.py`` with ``configs/solver/operators/mlebench/aide_operators/
analyze.yaml``, the same prompt and schema). The analysis is the node's ``analysis``: it fills the
"Results" line of the memory (AIDE's journal summary, AIRA's ``simple_memory``); the verdict makes
the node buggy (``node.is_buggy = is_bug or exception or no metric``).

Here the environment has already run and scored the program exactly, so the model is asked for
the verdict and the analysis only (AIRA's schema without the metric: the dev score comes from the
environment, as AIRA takes a task's own validation fitness over the model's number). What it reads
is the reference's (task, implementation, execution output at 2,500 characters per end) plus the
environment's feedback on the run through the shared renderer (``prompts.node_feedback``).

Switches (fields of every tree search's config, :class:`ReflectionConfig`):

- ``reflect`` (default True): make the call after every run. False turns it off (no call; the
  memory's analysis is then the environment's feedback line). One place turns it off for every
  tree search at once: a preset's ``"*"`` options (``preset_options`` keeps only the options a
  policy has, so GOME is unaffected), or ``gome-benchmark --policies greedy,mcts,evolutionary
  --set reflect=false`` (with ``gome`` listed too, name each: ``--set greedy.reflect=false``).
- ``reflection_marks_bugs`` (default True, the references' rule): a run the model calls buggy is
  treated as buggy by the search (not a good node, debugged, backs up nothing) even when it ran.
- ``reflection_temperature`` 0.5 and ``reflection_top_p`` 1.0: aideml ``aide/utils/config.yaml``
  ``agent.feedback.temp: 0.5``; aira-dojo ``configs/solver/mlebench/mcts.yaml`` and ``evo.yaml``
  ``operators.analyze.llm.generation_kwargs.temperature: 0.5``; neither sets a top-p.
- ``reflection_max_tokens`` (384): room for the verdict and a few sentences.

Every call goes through ``episode.chat`` (``request_json``), so it is counted and charged to the
token budget like GOME's feedback call; its exchanges are attached to the policy's next step
(``Reflector.take_calls``) and the reflection itself is written into the reflected node's step
record (``note["reflection"]``) and kept in ``Reflector.by_node``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import asdict, dataclass, field

from gome_env.diagnostics import render_feedback

from policies import prompts
from policies.gome.jsoncall import json_objects, request_json

__all__ = ["ReflectionConfig", "Reflection", "Reflector", "REFLECTION_SCHEMA", "REVIEW_INTRO", "parse_reflection",
           "reflection_prompt", "REFLECTION_TEMPERATURE", "REFLECTION_TOP_P", "env_analysis"]

REFLECTION_TEMPERATURE = 0.5  # aideml aide/utils/config.yaml agent.feedback.temp; aira-dojo mlebench/{mcts,evo}.yaml analyze
REFLECTION_TOP_P = 1.0  # neither reference sets one (the API's default)

REVIEW_INTRO = (
    "You are a Kaggle grandmaster taking part in a competition. You have written code for this task "
    "and must now judge the output of running it: say whether the run has any bug, and report what "
    "it found."
)
REFLECTION_SCHEMA = {
    "type": "object",
    "properties": {"is_bug": {"type": "boolean"}, "summary": {"type": "string"}},
    "required": ["is_bug", "summary"],
}
EXAMPLE = '{"is_bug": false, "summary": "..."}'
INSTRUCTIONS = (
    "Submit your review as JSON only, like:\n" + EXAMPLE + "\n"
    '"is_bug": true if the output shows that the run failed or has a bug, otherwise false; '
    '"summary": if there is a bug, propose a fix; otherwise a short summary (2-3 sentences) of the '
    "empirical findings."
)


@dataclass
class ReflectionConfig:
    """The reflection switches every tree search's config has (see the module's docstring)."""

    reflect: bool = True
    reflection_marks_bugs: bool = True
    reflection_temperature: float = REFLECTION_TEMPERATURE
    reflection_top_p: float = REFLECTION_TOP_P
    reflection_max_tokens: int = 384


@dataclass
class Reflection:
    """The model's review of one run: ``is_bug`` (None when no answer could be parsed), the
    ``summary`` (the node's analysis) and ``source`` (``model`` or ``unparsed``)."""

    node_id: int
    is_bug: bool | None
    summary: str
    source: str = "model"

    def to_dict(self) -> dict:
        return asdict(self)


def env_analysis(diagnostics: dict, detail: str = "full") -> str:
    """One line on a run from the environment's feedback (run, warnings, error analysis), without
    the headline of scores and without output excerpts: the memory's analysis when the model made
    none (``reflect=False``, or no answer could be parsed)."""
    lines = render_feedback(diagnostics, detail).split("\n")[2:]
    kept, fence = [], False
    for line in lines:
        if line.strip().startswith("```"):
            fence = not fence
            continue
        if not fence and line.strip() and not line.strip().startswith("- output tail"):
            kept.append(line.strip().lstrip("- ").strip())
    return "; ".join(kept) or "ran without errors"


def _flag(value) -> bool | None:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    return True if word.startswith(("true", "yes")) else False if word.startswith(("false", "no")) else None


def parse_reflection(text: str) -> tuple[bool, str]:
    """``(is_bug, summary)`` from the first JSON object in ``text`` that has a true/false
    ``is_bug``; ValueError (with a message for the model) when there is none."""
    for value in json_objects(text):
        keys = {re.sub(r"[^a-z]", "", str(k).lower()): v for k, v in value.items()}
        flag = _flag(keys.get("isbug", ""))
        if flag is not None:
            return flag, " ".join(str(keys.get("summary", "")).split())
    raise ValueError(f'no JSON object with "is_bug": true or false was found; answer with JSON only, like {EXAMPLE}')


def reflection_prompt(task_text: str, files: dict[str, str], diagnostics: dict, cfg) -> list[dict]:
    """The review conversation for one run: the task, the implementation, the execution output
    (the first and last ``cfg.max_output_chars`` characters) and the environment's feedback."""
    user = "\n\n".join([
        prompts.task_section(task_text, cfg),
        "# Implementation\n" + prompts.code_block(files, cfg.max_code_chars),
        "# Execution output\n```\n" + prompts.execution_output(diagnostics, cfg.max_output_chars) + "\n```",
        "# Feedback from the environment\n" + prompts.node_feedback(diagnostics, cfg),
        "# Instructions\n" + INSTRUCTIONS,
    ])
    return [{"role": "system", "content": REVIEW_INTRO}, {"role": "user", "content": user}]


@dataclass
class Reflector:
    """A policy's reflections: makes them (``reflect``), keeps them by node, carries their
    exchanges to the next step and says whether the search treats a node as buggy."""

    cfg: object
    by_node: dict[int, Reflection] = field(default_factory=dict)
    pending: list = field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return bool(getattr(self.cfg, "reflect", False))

    def reflect(self, episode, node_ids: list[int]) -> list[Reflection]:
        """Review the runs of ``node_ids`` in one batched call (nothing when ``reflect`` is off, a
        node was already reviewed, or no step is left to use it). Raises Stop like any call when
        the token or time budget cannot take it."""
        todo = [i for i in dict.fromkeys(node_ids) if i not in self.by_node and not episode.tree[i].is_root]
        if not self.enabled or not todo or episode.done or episode.steps_left <= 0:
            return []  # after the episode's last step a review would inform nothing
        cfg = self.cfg
        convs = [reflection_prompt(episode.task_text, episode.files(i), dict(episode.tree[i].diagnostics), cfg) for i in todo]
        sampling = dataclasses.replace(cfg, temperature=cfg.reflection_temperature, top_p=cfg.reflection_top_p)
        outcomes = request_json(episode, convs, sampling, parse=parse_reflection, kind="reflection",
                                max_tokens=cfg.reflection_max_tokens, schema=REFLECTION_SCHEMA)
        made = []
        for node_id, outcome in zip(todo, outcomes):
            is_bug, summary = outcome.value if outcome.ok else (None, "")
            reflection = Reflection(node_id, is_bug, summary, "model" if outcome.ok else "unparsed")
            self.by_node[node_id] = reflection
            self.pending.extend(outcome.calls)
            for record in reversed(episode.steps):
                if record["node_id"] == node_id:
                    record.setdefault("note", {})["reflection"] = reflection.to_dict()
                    break
            made.append(reflection)
        return made

    def take_calls(self) -> list:
        """The reflections' exchanges not yet attached to a step (pass them to the next
        ``episode.apply``); empties the list."""
        calls, self.pending = self.pending, []
        return calls

    def analysis(self, node_id: int) -> str | None:
        """The model's analysis of ``node_id``'s run, or None when there is none."""
        r = self.by_node.get(node_id)
        return r.summary if r is not None and r.source == "model" and r.summary else None

    def analysis_of(self, node) -> str:
        """The node's analysis for the memories: the model's, else the environment's feedback line."""
        return self.analysis(node.id) or env_analysis(dict(node.diagnostics), getattr(self.cfg, "diagnostics", "full"))

    def is_buggy(self, node) -> bool:
        """Buggy for the search: the environment says so, or (``reflection_marks_bugs``) the
        model's review does."""
        if node.is_buggy:
            return True
        r = self.by_node.get(node.id)
        return bool(getattr(self.cfg, "reflection_marks_bugs", False) and r is not None and r.is_bug)

    def summary(self) -> dict:
        return {str(k): v.to_dict() for k, v in sorted(self.by_node.items())}
