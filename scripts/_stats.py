"""The benchmark's shared statistics: SEM, seeded bootstrap intervals, the sign test.

Every bootstrap here takes a seed (default :data:`SEED`), so the same data always print the same
interval.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

import numpy as np

__all__ = ["SEED", "RESAMPLES", "finite", "sem", "bootstrap_ci", "sign_test", "PairedResult", "paired_compare"]

SEED = 0
RESAMPLES = 2000


def finite(values: Iterable[float | None]) -> np.ndarray:
    """The values that are real numbers (None and NaN dropped), as a float array."""
    out = []
    for v in values:
        if v is None:
            continue
        v = float(v)
        if math.isfinite(v):
            out.append(v)
    return np.asarray(out, dtype=float)


def sem(values: Iterable[float | None]) -> float:
    """Standard error of the mean (ddof=1); NaN for fewer than two values."""
    arr = finite(values)
    if arr.size < 2:
        return float("nan")
    return float(arr.std(ddof=1) / math.sqrt(arr.size))


def bootstrap_ci(values: Sequence[float], level: float = 0.95, resamples: int = RESAMPLES,
                 seed: int = SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (resampled with replacement);
    (NaN, NaN) with no values, (v, v) with one."""
    arr = finite(values)
    if arr.size == 0:
        return float("nan"), float("nan")
    if arr.size == 1 or np.all(arr == arr[0]):
        return float(arr[0]), float(arr[0])
    rng = np.random.default_rng(seed)
    means = arr[rng.integers(0, arr.size, size=(resamples, arr.size))].mean(axis=1)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def sign_test(differences: Iterable[float]) -> tuple[int, int, int, float]:
    """Two-sided exact sign test: ``(wins, losses, ties, p)``; ties are left out of the test
    (p = 1.0 when every pair ties)."""
    arr = finite(differences)
    wins, losses = int((arr > 0).sum()), int((arr < 0).sum())
    ties = int(arr.size - wins - losses)
    n = wins + losses
    if n == 0:
        return wins, losses, ties, 1.0
    k = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return wins, losses, ties, float(min(1.0, 2 * tail))


@dataclass(frozen=True)
class PairedResult:
    """``a`` against ``b`` on the same units: the mean of ``a - b``, its bootstrap interval and
    the sign test."""

    n: int
    mean_diff: float
    ci_low: float
    ci_high: float
    wins: int
    losses: int
    ties: int
    p_sign: float

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def excludes_zero(self) -> bool:
        return self.ci_low > 0 or self.ci_high < 0


def paired_compare(a: Sequence[float], b: Sequence[float], level: float = 0.95, resamples: int = RESAMPLES,
                   seed: int = SEED) -> PairedResult:
    """Compare paired values (``a[i]`` and ``b[i]`` come from the same unit; pairs with a missing
    value are dropped)."""
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    keep = np.isfinite(xa) & np.isfinite(xb)
    diff = xa[keep] - xb[keep]
    low, high = bootstrap_ci(diff, level, resamples, seed)
    wins, losses, ties, p = sign_test(diff)
    mean = float(diff.mean()) if diff.size else float("nan")
    return PairedResult(int(diff.size), mean, low, high, wins, losses, ties, p)
