"""GOME's update: implement the chosen hypothesis as an edit of the current best solution,
debug a failed run a bounded number of times, and accept the result as the new best when the
dev score improves (a step along the gradient that is kept only if it lowers the loss)."""

from __future__ import annotations

from policies import prompts
from policies.edits import FORMAT_INSTRUCTIONS
from policies.gome.diagnosis import Hypothesis

__all__ = ["implement_prompt", "improves"]


def implement_prompt(task_text: str, files: dict[str, str], hypothesis: Hypothesis, best_diag: dict,
                     success: str, failure: str, cfg, score_line: str = "") -> list[dict]:
    """The update conversation: the best code, its diagnostics, the memories and the hypothesis."""
    parts = [
        "# Task\n" + prompts.clip(task_text, cfg.max_task_chars),
        f"# Current best solution{(' (' + score_line + ')') if score_line else ''}\n" + prompts.code_block(files, cfg.max_code_chars),
        "# Its diagnostics\n" + prompts.feedback(best_diag, cfg.diagnostics, cfg.max_feedback_chars),
    ]
    if success:
        parts.append("# What worked (accepted changes, strongest first)\n" + success)
    if failure:
        parts.append("# What did not work\n" + failure)
    parts.append("# Hypothesis to implement\n" + hypothesis.describe())
    parts.append("# Instructions\nImplement exactly this hypothesis as an edit of the current best solution. "
                 "Keep everything else working.\n" + FORMAT_INSTRUCTIONS[cfg.edit_form])
    return [{"role": "system", "content": prompts.SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


def improves(new: float | None, old: float | None, higher_is_better: bool, min_gain: float = 0.0) -> bool:
    """Accept rule: the new dev score beats the trace's best by more than ``min_gain``."""
    if new is None:
        return False
    if old is None:
        return True
    gain = (new - old) if higher_is_better else (old - new)
    return gain > min_gain
