"""Rewards: what a step earns, from its diagnostics and the episode's context.

A reward function is ``reward(diagnostics, context) -> float`` where ``context`` is a
:class:`RewardContext`: ``previous_best`` (the best dev score before the step), ``baseline`` (the
root's dev score, or the leaderboard's worst when the baseline failed), ``gold`` (the
leaderboard's gold threshold) and ``higher_is_better``. Scores are normalised so that the baseline
is 0 and gold is 1, whichever way the metric points (the span's sign carries the direction).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable

from gome_env.grading.direction import Direction
from gome_env.records import MappingRecord

__all__ = ["RewardContext", "RewardFn", "REWARDS", "FAILED_STEP_PENALTY", "normalised", "improvement_reward",
           "dev_score_reward", "ladder_reward", "LADDER"]

FAILED_STEP_PENALTY = 0.01


@dataclass(eq=False)
class RewardContext(MappingRecord):
    """What a reward function gets besides the diagnostics (``MLEEnv.reward_context()``). Dev
    figures only. For one release it also reads like the dict it replaces (``context["gold"]``)."""

    previous_best: float | None  # the best dev score before the step (None: there was none)
    baseline: float | None  # the root's dev score, or the leaderboard's worst when the baseline failed
    gold: float  # the leaderboard's gold threshold
    higher_is_better: bool = True

    @property
    def direction(self) -> Direction:
        return Direction(self.higher_is_better)

    @classmethod
    def of(cls, context: "RewardContext | Mapping[str, Any]") -> "RewardContext":
        """A ``RewardContext``, or one built from a mapping with its keys (the old dict form)."""
        if isinstance(context, RewardContext):
            return context
        return cls(previous_best=context.get("previous_best"), baseline=context["baseline"], gold=context["gold"],
                   higher_is_better=bool(context.get("higher_is_better", True)))


RewardFn = Callable[[Mapping, RewardContext], float]
"""``reward(diagnostics, context) -> float``; ``context`` is a :class:`RewardContext`."""


def normalised(score: float | None, context: RewardContext | Mapping) -> float:
    """0 at the baseline's dev score, 1 at the leaderboard's gold threshold (0 for a missing score);
    positive means better than the baseline, whichever way the metric points."""
    c = RewardContext.of(context)
    span = c.direction.gain(c.gold, c.baseline)
    if not span:
        return 0.0
    return c.direction.gain(score, c.baseline) / span


def improvement_reward(d: Mapping, context: RewardContext | Mapping) -> float:
    """Default: the improvement of the best dev score, normalised by the baseline-to-gold range,
    minus ``FAILED_STEP_PENALTY`` for a step whose status is not ``ok``."""
    c = RewardContext.of(context)
    gain = normalised(d["best_dev_score"], c) - normalised(c.previous_best, c)
    return float(gain - (FAILED_STEP_PENALTY if d["status"] != "ok" else 0.0))


def dev_score_reward(d: Mapping, context: RewardContext | Mapping) -> float:
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


def ladder_reward(d: Mapping, context: RewardContext | Mapping) -> float:
    """A shaped reward for RL: each status a rung, ``patch_failed`` (-1) < ``syntax_error`` (-0.75)
    < ``runtime_error``/``timeout``/``memory_exceeded`` (-0.5) < ``invalid_submission`` (-0.25) <
    ``ok``: the step's normalised dev score (0 = baseline, 1 = gold), floored at -0.2. Dev only."""
    if d["status"] != "ok":
        return LADDER.get(d["status"], LADDER["patch_failed"])
    return float(max(LADDER_OK_FLOOR, normalised(d["dev_score"], context)))


REWARDS: dict[str, RewardFn] = {"improvement": improvement_reward, "dev_score": dev_score_reward, "ladder": ladder_reward}
