"""Leaderboards and MLE-bench's medal rule."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["Leaderboard", "MedalThresholds", "medal_thresholds", "rank_medal"]


@dataclass(frozen=True)
class MedalThresholds:
    gold: float
    silver: float
    bronze: float
    median: float


def _positions(n: int) -> tuple[int, int, int]:
    """1-indexed leaderboard positions of the gold, silver and bronze thresholds for N teams."""
    if n < 1:
        raise ValueError("a leaderboard needs at least one team")
    if n < 100:
        return max(1, int(0.1 * n)), max(1, int(0.2 * n)), max(1, int(0.4 * n))
    if n < 250:
        return 10, int(0.2 * n), int(0.4 * n)
    if n < 1000:
        return 10 + int(0.002 * n), 50, 100
    return 10 + int(0.002 * n), int(0.05 * n), int(0.1 * n)


def medal_thresholds(scores, higher_is_better: bool) -> MedalThresholds:
    """Scores that earn gold, silver and bronze on a leaderboard (MLE-bench's rule)."""
    ordered = sorted((float(s) for s in scores), reverse=higher_is_better)
    g, s, b = _positions(len(ordered))
    return MedalThresholds(ordered[g - 1], ordered[s - 1], ordered[b - 1], float(np.median(ordered)))


def rank_medal(score: float | None, thresholds: MedalThresholds, higher_is_better: bool) -> dict:
    """Medal and above-median flags for one score; ties with a threshold earn it."""
    out = {"medal": "none", "gold": False, "silver": False, "bronze": False, "above_median": False}
    if score is None or not np.isfinite(score):
        return out

    def at_least(threshold: float) -> bool:
        return score >= threshold if higher_is_better else score <= threshold

    for medal in ("gold", "silver", "bronze"):
        if at_least(getattr(thresholds, medal)):
            out["medal"] = medal
            out[medal] = True
            break
    out["above_median"] = bool(score > thresholds.median if higher_is_better else score < thresholds.median)
    return out


@dataclass(frozen=True)
class Leaderboard:
    """A competition's private leaderboard: one score per team."""

    scores: tuple[float, ...]
    higher_is_better: bool

    @classmethod
    def from_csv(cls, path: str | Path, higher_is_better: bool) -> "Leaderboard":
        frame = pd.read_csv(path)
        if "score" not in frame.columns:
            raise ValueError(f"{path}: a leaderboard needs a 'score' column, found {list(frame.columns)}")
        scores = frame["score"].dropna().astype(float)
        return cls(tuple(scores), higher_is_better)

    @property
    def thresholds(self) -> MedalThresholds:
        return medal_thresholds(self.scores, self.higher_is_better)

    def rank(self, score: float | None) -> dict:
        """``{"medal", "gold", "silver", "bronze", "above_median"}`` for a test score."""
        return rank_medal(score, self.thresholds, self.higher_is_better)
