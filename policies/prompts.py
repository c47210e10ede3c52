"""Prompt pieces shared by every policy: one function per section, one per prompt.

The protocol (docs/POLICIES.md) every policy follows through these builders:

- **one task text**: ``episode.task_text`` (the env's task text with a data preview, the runtime
  limit and the packages: ``policies.taskinfo``), shown by ``task_section``;
- **one feedback renderer**: ``node_feedback(diagnostics, cfg)`` renders a node's diagnostics at
  the policy's ``diagnostics`` level, so the same node shows byte-identical feedback in every
  policy's draft, improve, debug and crossover prompts (and GOME's);
- **one start protocol**: under ``cfg.start == "baseline"`` a draft prompt shows node 0's code and
  feedback (``baseline_section``); under ``"scratch"`` it shows the task text only.

Sections are clipped at line boundaries with a marker (``clip``): nothing is cut mid-line.
``SYSTEM``, ``clip``, ``code_block``, ``score_line``, ``feedback``, ``node_feedback`` and
``execution_output`` are the environment's text views (``gome_env.views``, shared with the RL
prompts and tools), re-exported here.
The ``*_request`` helpers build the whole :class:`~policies.edits.EditRequest` for a node of an
episode; policies call those.
"""

from __future__ import annotations

from gome_env.views.feedback import execution_output, feedback, node_feedback
from gome_env.views.text import SYSTEM, clip, code_block, score_line

from policies.edits import FORMAT_INSTRUCTIONS, EditRequest

__all__ = [
    "SYSTEM", "START_MODES", "clip", "code_block", "execution_output", "feedback", "node_feedback", "task_section",
    "memory_section", "baseline_section", "draft_prompt", "improve_prompt", "debug_prompt", "crossover_prompt",
    "merge_prompt", "draft_request", "improve_request", "debug_request", "crossover_request", "score_line",
]

START_MODES = ("baseline", "scratch")


def task_section(task_text: str, cfg) -> str:
    return "# Task\n" + clip(task_text, cfg.max_task_chars)


def memory_section(memory: str) -> str:
    return f"\n\n# Memory of earlier attempts\n{memory}" if memory.strip() else ""


def baseline_section(files: dict[str, str], diagnostics: dict, cfg, score: str = "") -> str:
    """Node 0 (the working baseline the environment starts from): its code and its feedback."""
    label = f" ({score})" if score else ""
    return (f"# Baseline solution (node 0){label}\n{code_block(files, cfg.max_code_chars)}\n\n"
            f"# Feedback on the baseline\n{node_feedback(diagnostics, cfg)}")


def _messages(user: str) -> list[dict]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def draft_prompt(task_text: str, memory: str, cfg, *, baseline_files: dict[str, str] | None = None,
                 baseline_diagnostics: dict | None = None, baseline_score: str = "") -> list[dict]:
    """AIDE's draft: a new whole solution. With ``baseline_files`` (the ``start="baseline"``
    protocol) the baseline's code and feedback are shown; without, the task text alone."""
    base = ""
    if baseline_files is not None:
        base = "\n\n" + baseline_section(baseline_files, baseline_diagnostics or {}, cfg, baseline_score)
    hint = ("Write a new, complete solution for this task; you may build on the baseline or replace it. "
            if baseline_files is not None else "Write a new, complete solution for this task. ")
    user = (f"{task_section(task_text, cfg)}{base}{memory_section(memory)}\n\n# Instructions\n{hint}"
            "Propose a simple, sound approach that differs from the earlier ones.\n" + FORMAT_INSTRUCTIONS["whole"])
    return _messages(user)


def improve_prompt(task_text: str, files: dict[str, str], memory: str, cfg, score_line: str = "", *,
                   diagnostics: dict | None = None) -> list[dict]:
    """AIDE's improve: one atomic improvement of a good node's code (with its feedback when
    ``diagnostics`` is given)."""
    fb = f"\n\n# Feedback on this solution\n{node_feedback(diagnostics, cfg)}" if diagnostics is not None else ""
    user = (
        f"{task_section(task_text, cfg)}{memory_section(memory)}\n\n# Current solution{(' (' + score_line + ')') if score_line else ''}\n"
        f"{code_block(files, cfg.max_code_chars)}{fb}\n\n# Instructions\nPropose one specific improvement that should raise "
        f"the dev score, and implement it.\n{FORMAT_INSTRUCTIONS[cfg.edit_form]}"
    )
    return _messages(user)


def debug_prompt(task_text: str, files: dict[str, str], diagnostics: dict, cfg, detail: str | None = None, *,
                 memory: str = "") -> list[dict]:
    """AIDE's debug: fix a buggy node given its code, its feedback and its execution output (the
    output is left out at the ``minimal`` diagnostics level). ``detail`` must be None or equal
    ``cfg.diagnostics`` (kept for old callers)."""
    detail = detail or cfg.diagnostics
    output = "" if detail == "minimal" else f"# Execution output\n```\n{execution_output(diagnostics, cfg.max_output_chars)}\n```\n\n"
    user = (
        f"{task_section(task_text, cfg)}{memory_section(memory)}\n\n# Buggy solution\n{code_block(files, cfg.max_code_chars)}\n\n"
        f"# Feedback on this solution\n{feedback(diagnostics, detail, cfg.max_feedback_chars)}\n\n{output}"
        f"# Instructions\nFind the bug and fix it.\n{FORMAT_INSTRUCTIONS[cfg.edit_form]}"
    )
    return _messages(user)


def crossover_prompt(task_text: str, a: dict[str, str], b: dict[str, str], cfg, scores: tuple = ("", ""), *,
                     diagnostics: tuple[dict | None, dict | None] = (None, None), memory: str = "") -> list[dict]:
    """Evolutionary crossover: combine the best ideas of two parents into one program (each
    parent's feedback shown when its diagnostics are given)."""
    half = max(200, cfg.max_code_chars // 2)

    def parent(label: str, files: dict[str, str], score: str, diag: dict | None) -> str:
        fb = f"\n\n# Feedback on parent {label}\n{node_feedback(diag, cfg)}" if diag is not None else ""
        return f"# Parent {label} {score}\n{code_block(files, half)}{fb}"

    user = (
        f"{task_section(task_text, cfg)}{memory_section(memory)}\n\n{parent('A', a, scores[0], diagnostics[0])}\n\n"
        f"{parent('B', b, scores[1], diagnostics[1])}\n\n# Instructions\nWrite one new solution that combines the "
        "strengths of both parents.\n" + FORMAT_INSTRUCTIONS["whole"]
    )
    return _messages(user)


merge_prompt = crossover_prompt
"""GOME's final merge of the two best traces uses the crossover prompt."""


# ---------------------------------------------------------------------- requests for an episode's nodes


def draft_request(episode, cfg, memory: str = "") -> EditRequest:
    """A draft from the root under the policy's start protocol (``cfg.start``): with node 0's
    code and feedback under ``"baseline"``, from the task text alone under ``"scratch"``. The
    edit is a whole new solution.py, applied to node 0's files."""
    root = episode.tree.root
    files = episode.files(root.id)
    if getattr(cfg, "start", "baseline") == "baseline":
        messages = draft_prompt(episode.task_text, memory, cfg, baseline_files=files, baseline_diagnostics=root.diagnostics,
                                baseline_score=score_line(episode.metric_name, root.dev_score))
    else:
        messages = draft_prompt(episode.task_text, memory, cfg)
    return EditRequest(messages, files, "whole", "draft")


def improve_request(episode, node_id: int, cfg, memory: str = "", kind: str = "improve") -> EditRequest:
    """Improve node ``node_id``: its code, score and feedback."""
    node = episode.tree[node_id]
    files = episode.files(node_id)
    messages = improve_prompt(episode.task_text, files, memory, cfg, score_line(episode.metric_name, node.dev_score),
                              diagnostics=node.diagnostics)
    return EditRequest(messages, files, cfg.edit_form, kind)


def debug_request(episode, node_id: int, cfg, memory: str = "") -> EditRequest:
    """The request to fix node ``node_id``: its files, its diagnostics and the debug prompt."""
    node = episode.tree[node_id]
    files = episode.files(node_id)
    return EditRequest(debug_prompt(episode.task_text, files, node.diagnostics, cfg, memory=memory), files, cfg.edit_form, "debug")


def crossover_request(episode, a_id: int, b_id: int, cfg, memory: str = "", kind: str = "crossover") -> EditRequest:
    """Combine nodes ``a_id`` and ``b_id`` (the edit applies to ``a_id``'s files)."""
    a, b = episode.tree[a_id], episode.tree[b_id]
    scores = (f"({score_line(episode.metric_name, a.dev_score)})", f"({score_line(episode.metric_name, b.dev_score)})")
    files_a = episode.files(a_id)
    messages = crossover_prompt(episode.task_text, files_a, episode.files(b_id), cfg, scores,
                                diagnostics=(a.diagnostics, b.diagnostics), memory=memory)
    return EditRequest(messages, files_a, "whole", kind)
