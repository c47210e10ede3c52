"""Score direction: the one definition of "score a is better than score b".

Every comparison of scores in the project (the metric, the node tree, the medal rule, the
policies' acceptance rules, the benchmark's aggregation) goes through a :class:`Direction`, so
that missing values are handled the same way everywhere: ``None`` and NaN are the worst possible
score, never better than anything and never equal to a real score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

__all__ = ["Direction", "is_missing"]


def is_missing(score: float | None) -> bool:
    """True for ``None`` and NaN: a score that was never obtained."""
    return score is None or (isinstance(score, float) and math.isnan(score))


@dataclass(frozen=True)
class Direction:
    """Which way a metric improves, and every comparison that follows from it.

    >>> d = Direction(higher_is_better=False)   # e.g. RMSE
    >>> d.better(0.3, 0.5), d.gain(0.3, 0.5), d.worst
    (True, 0.2, inf)
    """

    higher_is_better: bool

    @property
    def worst(self) -> float:
        """The worst possible score: ``-inf`` when higher is better, else ``+inf``."""
        return -math.inf if self.higher_is_better else math.inf

    @property
    def sign(self) -> int:
        """+1 when higher is better, else -1: ``sign * score`` always grows with quality."""
        return 1 if self.higher_is_better else -1

    def better(self, a: float | None, b: float | None) -> bool:
        """Whether ``a`` is strictly better than ``b`` (a missing score is never better; any real
        score beats a missing one)."""
        if is_missing(a):
            return False
        if is_missing(b):
            return True
        return a > b if self.higher_is_better else a < b

    def at_least(self, a: float | None, b: float | None) -> bool:
        """Whether ``a`` is as good as ``b`` or better (ties count, as for medal thresholds);
        False when either is missing."""
        if is_missing(a) or is_missing(b):
            return False
        return a >= b if self.higher_is_better else a <= b

    def gain(self, new: float | None, old: float | None) -> float:
        """How much ``new`` improves on ``old`` in this direction (negative when worse); 0.0 when
        either is missing."""
        if is_missing(new) or is_missing(old):
            return 0.0
        return self.sign * (new - old)

    def best(self, scores: Iterable[float | None]) -> float | None:
        """The best of ``scores`` ignoring missing ones; None when there is none."""
        present = [s for s in scores if not is_missing(s)]
        if not present:
            return None
        return max(present) if self.higher_is_better else min(present)

    def sorted(self, scores: Iterable[float]) -> list[float]:
        """``scores`` from best to worst (missing ones dropped)."""
        return sorted((float(s) for s in scores if not is_missing(s)), reverse=self.higher_is_better)
