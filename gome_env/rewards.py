"""Rewards: what a step earns, from its diagnostics and the episode's context.

A reward function is ``reward(diagnostics, context) -> float``. The context holds
``previous_best`` (the best dev score before the step), ``baseline`` (the root's dev score, or the
leaderboard's worst when the baseline failed), ``gold`` (the leaderboard's gold threshold) and
``higher_is_better``. Scores are normalised so that the baseline is 0 and gold is 1, whichever way
the metric points (the span's sign carries the direction).
"""

from __future__ import annotations

from typing import Callable, Mapping

from gome_env.grading.direction import Direction

__all__ = ["RewardFn", "REWARDS", "FAILED_STEP_PENALTY", "normalised", "improvement_reward", "dev_score_reward",
           "ladder_reward", "LADDER"]

FAILED_STEP_PENALTY = 0.01

RewardFn = Callable[[Mapping, dict], float]
"""``reward(diagnostics, context) -> float``; context holds ``previous_best``, ``baseline``, ``gold``, ``higher_is_better``."""


def normalised(score: float | None, context: dict) -> float:
    """0 at the baseline's dev score, 1 at the leaderboard's gold threshold (0 for a missing score);
    positive means better than the baseline, whichever way the metric points."""
    direction = Direction(bool(context.get("higher_is_better", True)))
    span = direction.gain(context["gold"], context["baseline"])
    if not span:
        return 0.0
    return direction.gain(score, context["baseline"]) / span


def improvement_reward(d: Mapping, context: dict) -> float:
    """Default: the improvement of the best dev score, normalised by the baseline-to-gold range,
    minus ``FAILED_STEP_PENALTY`` for a step whose status is not ``ok``."""
    gain = normalised(d["best_dev_score"], context) - normalised(context["previous_best"], context)
    return float(gain - (FAILED_STEP_PENALTY if d["status"] != "ok" else 0.0))


def dev_score_reward(d: Mapping, context: dict) -> float:
    """The step's own normalised dev score (dense; failed steps get -1)."""
    return float(normalised(d["dev_score"], context)) if d["status"] == "ok" else -1.0


LADDER: dict[str, float] = {
    "patch_failed": -1.0,
    "syntax_error": -0.75,
    "runtime_error": -0.5,
    "timeout": -0.5,
    "memory_exceeded": -0.5,
    "invalid_submission": -0.25,
}
"""The ladder reward of each failure status; ``ok`` earns the normalised dev score instead."""
LADDER_OK_FLOOR = -0.2  # an ok run worse than the baseline still ranks above an invalid submission


def ladder_reward(d: Mapping, context: dict) -> float:
    """A shaped reward for RL: each status a rung, ``patch_failed`` (-1) < ``syntax_error`` (-0.75)
    < ``runtime_error``/``timeout``/``memory_exceeded`` (-0.5) < ``invalid_submission`` (-0.25) <
    ``ok``: the step's normalised dev score (0 = baseline, 1 = gold), floored at -0.2. Dev only."""
    if d["status"] != "ok":
        return LADDER.get(d["status"], LADDER["patch_failed"])
    return float(max(LADDER_OK_FLOOR, normalised(d["dev_score"], context)))


REWARDS: dict[str, RewardFn] = {"improvement": improvement_reward, "dev_score": dev_score_reward, "ladder": ladder_reward}
