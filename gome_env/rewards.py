"""Rewards: what a step earns, from its diagnostics and the episode's context.

A reward function is ``reward(diagnostics, context) -> float``. The context holds
``previous_best`` (the best dev score before the step), ``baseline`` (the root's dev score, or the
leaderboard's worst when the baseline failed), ``gold`` (the leaderboard's gold threshold) and
``higher_is_better``. Scores are normalised so that the baseline is 0 and gold is 1, whichever way
the metric points (the span's sign carries the direction).
"""

from __future__ import annotations

from typing import Callable, Mapping

from gome_env.direction import Direction

__all__ = ["RewardFn", "REWARDS", "FAILED_STEP_PENALTY", "normalised", "improvement_reward", "dev_score_reward"]

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


REWARDS: dict[str, RewardFn] = {"improvement": improvement_reward, "dev_score": dev_score_reward}
