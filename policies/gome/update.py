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
    """The update conversation, with RD-Agent's sections for its task and coder steps
    (``prompts_v2.yaml`` ``task_gen``; the coder's CoSTEER prompts): the scenario, the given
    ``sections`` (the SOTA code to edit and its feedback, or the note that there is none; the
    previous failed experiments), the proposed hypothesis, then the instructions: a short
    step-by-step sketch of the changes, then the code, under the pipeline's standards.
    ``new_solution``: there is no code to edit (``start="scratch"`` before a first success)."""
    parts = ["# Scenario Description\n" + prompts.clip(task_text, cfg.max_task_chars), *[s for s in sections if s]]
    parts.append("# Proposed Hypothesis\n" + hypothesis.describe())
    what = "a complete new solution" if new_solution else "an edit of the current SOTA implementation"
    parts.append(
        f"# Instructions\nImplement exactly this hypothesis as {what}. First sketch the changes step by step in a "
        "few lines (data loading, preprocessing, features, model, validation, submission: only the steps that "
        "change), then write the code. Standards: the program runs as it is, without arguments; it loads the "
        "real data files, never the sample submission to infer the test rows; no progress bars; it fits the "
        "runtime limit; everything the hypothesis does not touch keeps working. Learn from the previous failed "
        "experiments, if any.\n" + FORMAT_INSTRUCTIONS[form])
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
