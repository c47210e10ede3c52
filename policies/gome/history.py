"""A GOME trace's history of experiments, as RD-Agent keeps and shows it.

Each round adds one :class:`Experiment`: the hypothesis tried, the node it made, the run's
status and dev score, and the post-experiment feedback (code-change summary, reasoning and the
replace-best decision). ``render_history`` writes the list the way RD-Agent's
``scenarios/data_science/share.yaml`` (``describe.trace``) does: per experiment the target
problem, the hypothesis, the code-change summary, whether it surpassed the previous best, and
the score (or "running buggy" and the error). With the success memory off
(``enable_success_memory=False``) only the failed experiments are shown. Every entry is whole, as
RD-Agent shows it; only the context window leaves the oldest out (``policies.context``).

``render_last_feedback`` is RD-Agent's ``describe.feedback`` (the previous trial's decision,
code-change summary and reason), ``render_siblings`` its "Diversity to your siblings" section.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["Experiment", "history_entries", "no_history", "render_history", "render_last_feedback", "render_siblings"]


@dataclass
class Experiment:
    """One round of one trace: what was tried, what came of it and what the feedback said."""

    round: int
    node_id: int | None  # None: the answer could not be used, nothing ran
    base_id: int
    problem: str
    hypothesis: str
    status: str
    dev_score: float | None
    decision: bool
    code_change_summary: str = ""
    reason: str = ""
    feedback_source: str = "model"  # model | rule | failed_run | first_valid

    def to_dict(self) -> dict:
        return asdict(self)


def _one_line(text: str) -> str:
    """``text`` on one line (whitespace runs made one space), whole."""
    return " ".join((text or "").split())


def _entry(index: int, e: Experiment, metric: str) -> str:
    lines = [f"## Experiment Index: {index} (round {e.round}, node {e.node_id})"]
    if e.problem:
        lines.append(f"Target problem: {_one_line(e.problem)}")
    lines.append(f"Proposed hypothesis: {_one_line(e.hypothesis)}")
    if e.code_change_summary:
        lines.append(f"Code change summary: {_one_line(e.code_change_summary)}")
    lines.append(f"Surpass previous best: {'yes' if e.decision else 'no'}")
    if e.status != "ok":
        lines.append(f"Experiment score: running buggy ({e.status})")
        lines.append(f"Experiment error: {_one_line(e.reason)}")
    else:
        lines.append(f"Experiment score: {metric} {e.dev_score}")
        if e.reason:
            lines.append(f"Experiment feedback: {_one_line(e.reason)}")
    return "\n".join(lines)


def history_entries(experiments: list[Experiment], metric: str, failed_only: bool = False) -> list[str]:
    """The trace's experiments as whole entries, oldest first; ``failed_only``: only those not
    accepted. Empty when there are none."""
    chosen = [e for e in experiments if not (failed_only and e.decision)]
    return [_entry(i, e, metric) for i, e in enumerate(chosen, 1)]


def no_history(failed_only: bool = False) -> str:
    """RD-Agent's line for an empty history."""
    return f"No previous {'failed ' if failed_only else ''}experiments available."


def render_history(experiments: list[Experiment], metric: str, failed_only: bool = False) -> str:
    """The whole history (every entry of :func:`history_entries`, oldest first)."""
    entries = history_entries(experiments, metric, failed_only)
    return "\n\n".join(entries) if entries else no_history(failed_only)


def render_last_feedback(e: Experiment | None) -> str:
    """The previous trial's hypothesis, decision, code-change summary and reason ('' if none)."""
    if e is None:
        return ""
    lines = [f"The experiment was designed on the hypothesis: {_one_line(e.hypothesis)}",
             f"Feedback decision (replace the best): {'yes' if e.decision else 'no'}"]
    if e.code_change_summary:
        lines.append(f"Code change summary: {_one_line(e.code_change_summary)}")
    if e.reason:
        lines.append(f"Reason: {_one_line(e.reason)}")
    return "\n".join(lines)


def render_siblings(hypotheses: list[str]) -> str:
    """RD-Agent's cross-trace diversity request: the sibling traces' hypotheses ('' if none)."""
    if not hypotheses:
        return ""
    listed = "\n".join(f"=== Sibling {i} hypothesis ===\n{_one_line(h)}" for i, h in enumerate(hypotheses, 1))
    return (
        "You work on one of several exploration traces in parallel. Your problems and hypotheses MUST be diverse "
        "from those of the other traces; here are theirs:\n" + listed + "\nGuide the work towards a different "
        "approach (another model, other features, another way of validating or ensembling); avoid proposals "
        "that would give solutions similar to these."
    )
