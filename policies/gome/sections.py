"""What a GOME trace's prompts show: the SOTA (the trace's best), its history, the previous
trial's feedback, what other traces accepted and the siblings' hypotheses, gathered once per
trace and round into a :class:`DiagnosisInput`, and the conversations built from it.

The history is kept whole (every experiment, every entry in full, as RD-Agent's
``describe.trace`` shows it); only when a conversation would not fit the model's context window
are its oldest entries left out, marked (``policies.context.fit_prompt``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from policies import prompts
from policies.context import fit_prompt
from policies.gome.diagnosis import diagnosis_prompt
from policies.gome.history import history_entries, no_history, render_last_feedback, render_siblings

__all__ = ["DiagnosisInput", "diagnosis_input", "solution_sections", "combined_conversation", "fitted"]

NO_SOTA = "No previous complete experiment available."


@dataclass
class DiagnosisInput:
    """Everything one trace's diagnosis may show. ``history``: whole entries, oldest first (all
    experiments with the success memory on, the failed ones with it off); ``multiplier``:
    RD-Agent's ``scen_prob_multiplier`` for this trace."""

    task_text: str
    sota: list[str]
    history: list[str]
    failed_only: bool
    previous: str = ""
    shared: list[str] = field(default_factory=list)
    siblings: list[str] = field(default_factory=list)
    multiplier: int = 3

    @property
    def has_sota(self) -> bool:
        return not (len(self.sota) == 1 and NO_SOTA in self.sota[0])

    def to_dict(self) -> dict:
        return asdict(self)


def solution_sections(episode, node_id: int | None, cfg, heading: str = "Current best solution") -> list[str]:
    """The code of ``node_id`` and its diagnostics (the shared renderer), or the note that there
    is no solution yet."""
    if node_id is None:
        return [f"# {heading}\n{NO_SOTA} Write a complete new solution."]
    node = episode.tree[node_id]
    score = f" ({episode.metric_name} {node.dev_score})" if node.dev_score is not None else ""
    return [f"# {heading}{score}\n" + prompts.code_block(episode.files(node_id), cfg.max_code_chars),
            "# Its diagnostics\n" + prompts.node_feedback(node.diagnostics, cfg)]


def diagnosis_input(episode, trace, cfg, siblings: list[str], multiplier: int) -> DiagnosisInput:
    """``trace``'s input to this round's diagnosis."""
    metric, on = episode.metric_name, cfg.enable_success_memory
    previous = trace.experiments[-1] if trace.experiments else None
    last = render_last_feedback(previous if previous is None or on or not previous.decision else None)
    shared = [f"- {' '.join(e.hypothesis.split())} -> {metric} {e.dev_score}"
              for e in trace.success.entries if e.trace != trace.id] if on else []
    return DiagnosisInput(episode.task_text, solution_sections(episode, trace.best_id, cfg),
                          history_entries(trace.experiments, metric, failed_only=not on), not on, last, shared,
                          list(siblings), multiplier)


def fitted(episode, build, entries: list[str], max_tokens: int, noun: str = "experiments") -> list[dict]:
    """``build(history_text)`` with the whole history, or its newest entries that let the
    conversation fit the model's context window (the rest marked as left out)."""
    conversation, _ = fit_prompt(episode.model, build, entries, max_tokens=max_tokens, noun=noun, sep="\n\n")
    return conversation


def combined_conversation(episode, inp: DiagnosisInput, cfg) -> list[dict]:
    """This project's single diagnosis call (``diagnosis_calls="combined"``): the SOTA, the
    previous trial's feedback, the history, what other traces accepted and the siblings'
    hypotheses, then the JSON problem list asked for."""

    def build(history: str) -> list[dict]:
        sections = list(inp.sota)
        if inp.previous:
            sections.append("# Previous trial and feedback\n" + inp.previous)
        if inp.history:
            title = "Failed experiments so far" if inp.failed_only else "Experiments so far (accepted and failed)"
            sections.append(f"# {title}\n{history}")
        if inp.shared:
            sections.append("# Accepted in other traces\n" + "\n".join(inp.shared))
        diversity = render_siblings(inp.siblings)
        if diversity:
            sections.append("# Diversity to your siblings\n" + diversity)
        return diagnosis_prompt(inp.task_text, sections, cfg)

    return fitted(episode, build, inp.history, cfg.diagnosis_max_tokens)


def history_text(inp: DiagnosisInput, history: str) -> str:
    """RD-Agent's ``# Previous Experiments and Feedbacks`` body: the (fitted) history, or its
    line for none, then what other traces accepted."""
    body = history if inp.history else no_history(inp.failed_only)
    if inp.shared:
        body += "\n\n## Accepted in other traces\n" + "\n".join(inp.shared)
    return body
