"""Leaderboards and MLE-bench's medal rule, plus the submission's percentile on the board.

Every score comparison goes through :class:`gome_env.grading.direction.Direction`: a missing score
(``None`` or NaN) earns nothing and beats nobody.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from gome_env.grading.direction import Direction, is_missing
from gome_env.records import MappingRecord

__all__ = ["Leaderboard", "MedalThresholds", "Rank", "medal_thresholds", "rank_medal", "percentile"]

MEDALS = ("gold", "silver", "bronze")


@dataclass(frozen=True)
class MedalThresholds:
    gold: float
    silver: float
    bronze: float
    median: float


@dataclass(frozen=True, eq=False)
class Rank(MappingRecord):
    """Where one score lands on a leaderboard: THE medal fields, which every report embeds
    (``FinalReport``, ``RefitResult``, the benchmark's ``RunFigures``) rather than copying them.

    ``medal`` is "gold", "silver", "bronze" or "none" (with one flag per medal), ``above_median``
    means strictly better than the board's median, and ``percentile`` (0..1) is the share of the
    board the score beats, ties counting half (1.0 = better than every team; 0.0 for a missing
    score). Reads like the dict it replaces: ``rank["medal"]``, ``rank.get("percentile")``,
    ``"gold" in rank``, ``dict(rank)``; ``to_dict()`` gives a plain dict.
    """

    above_median: bool = False
    medal: str | None = "none"  # None only in a benchmark run's figures without a valid submission
    gold: bool = False
    silver: bool = False
    bronze: bool = False
    percentile: float | None = 0.0


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
    ordered = Direction(higher_is_better).sorted(scores)
    g, s, b = _positions(len(ordered))
    return MedalThresholds(ordered[g - 1], ordered[s - 1], ordered[b - 1], float(np.median(ordered)))


def _quality(scores, higher_is_better: bool) -> np.ndarray:
    """The board's scores as sorted qualities (``Direction.sign * score``: larger is better)."""
    board = np.asarray([float(s) for s in scores if not is_missing(s)], dtype=float)
    return np.sort(Direction(higher_is_better).sign * board)


def percentile(score: float | None, scores, higher_is_better: bool, _sorted_quality: np.ndarray | None = None) -> float:
    """Share of the board's teams that ``score`` beats, ties counting half (0..1); 0.0 when the
    score is missing or the board is empty."""
    quality = _quality(scores, higher_is_better) if _sorted_quality is None else _sorted_quality
    if is_missing(score) or not np.isfinite(score) or not quality.size:
        return 0.0
    q = Direction(higher_is_better).sign * float(score)
    beaten = int(np.searchsorted(quality, q, side="left"))  # teams strictly worse
    tied = int(np.searchsorted(quality, q, side="right")) - beaten
    return (beaten + 0.5 * tied) / quality.size


def rank_medal(score: float | None, thresholds: MedalThresholds, higher_is_better: bool,
               scores=None, _sorted_quality: np.ndarray | None = None) -> Rank:
    """Medal and above-median flags for one score (ties with a threshold earn it); the percentile
    when the board's ``scores`` are given."""
    if is_missing(score) or not np.isfinite(score):
        return Rank()
    d = Direction(higher_is_better)
    medal = next((m for m in MEDALS if d.at_least(score, getattr(thresholds, m))), "none")
    return Rank(
        medal=medal,
        gold=medal == "gold",
        silver=medal == "silver",
        bronze=medal == "bronze",
        above_median=d.better(score, thresholds.median),
        percentile=percentile(score, scores, higher_is_better, _sorted_quality) if scores is not None else 0.0,
    )


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
    def direction(self) -> Direction:
        return Direction(self.higher_is_better)

    @cached_property
    def thresholds(self) -> MedalThresholds:
        return medal_thresholds(self.scores, self.higher_is_better)

    @cached_property
    def _sorted_quality(self) -> np.ndarray:
        return _quality(self.scores, self.higher_is_better)

    def rank(self, score: float | None) -> Rank:
        """The :class:`Rank` of a test score: medal, flags, above-median and percentile."""
        return rank_medal(score, self.thresholds, self.higher_is_better, self.scores, self._sorted_quality)
