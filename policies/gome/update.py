"""GOME's update: implement the chosen hypothesis as an edit of the trace's best solution (or, for
a fallback fix, of the failed node it came from), and decide whether the result replaces the
best (RD-Agent's feedback decision, or the dev-score rule).

Every score comparison goes through :class:`gome_env.grading.direction.Direction`.
"""

from __future__ import annotations

from gome_env.grading.direction import Direction, is_missing

from policies import prompts
from policies.edits import FORMAT_INSTRUCTIONS
from policies.gome.diagnosis import Hypothesis

__all__ = ["implement_prompt", "accepts", "success_gain"]


def implement_prompt(task_text: str, sections: list[str], hypothesis: Hypothesis, cfg, form: str,
                     new_solution: bool = False) -> list[dict]:
    """The update conversation: the task, the given ``sections`` (the code to edit and its
    diagnostics, or the note that there is none; the failed experiments) and the hypothesis.
    ``new_solution``: there is no code to edit (``start="scratch"`` before a first success)."""
    parts = ["# Task\n" + prompts.clip(task_text, cfg.max_task_chars), *[s for s in sections if s]]
    parts.append("# Hypothesis to implement\n" + hypothesis.describe())
    what = "a complete new solution" if new_solution else "an edit of the current solution"
    parts.append(f"# Instructions\nImplement exactly this hypothesis as {what}. Keep everything else working.\n"
                 + FORMAT_INSTRUCTIONS[form])
    return [{"role": "system", "content": prompts.SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


def accepts(new: float | None, best: float | None, direction: Direction, *, buggy: bool, decision: bool | None,
            min_gain: float = 0.0) -> bool:
    """Whether a result replaces the trace's best.

    A failed run never does; the first valid result always does (RD-Agent: "if this is the first
    valid submission ever, replace"); otherwise the feedback's ``decision`` when there is one
    (RD-Agent), else the dev score must beat the best by more than ``min_gain``."""
    if buggy or is_missing(new):
        return False
    if is_missing(best):
        return True
    if decision is not None:
        return decision
    return direction.gain(new, best) > min_gain


def success_gain(new: float | None, best: float | None, direction: Direction) -> float:
    """The improvement an accepted result brings: ``direction.gain(new, best)``; when there was no
    valid best before (a failed baseline, or ``start="scratch"``), the whole score counts
    (``|new|``, or 1.0 for a score of 0), so a first success is never worth 0."""
    if is_missing(new):
        return 0.0
    if is_missing(best):
        return abs(new) or 1.0
    return direction.gain(new, best)
