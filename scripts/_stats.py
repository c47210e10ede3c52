"""The project's statistics, with tasks as the unit of replication.

Runs on the same task share that task's difficulty, so the (task, seed) runs of a comparison are
not independent: every interval here is computed over *tasks* (each task first summarised by the
mean over its seeds). Where fewer than two tasks, or no variation between them, are left, the result
is a typed ``insufficient`` estimate: never a zero-width interval, never "excludes zero".

- :func:`cluster_mean` / :func:`cluster_stats`: the mean over tasks of each task's mean, with a
  Student-t interval and p-value on T - 1 degrees of freedom (the "summary statistics" form of a
  random-intercept mixed model; the same interval as statsmodels' MixedLM in a balanced design,
  but defined for any number of tasks >= 2 and exact under normal task means).
- :func:`task_slopes`: each task's least-squares line against x (vectorised; missing cells are NaN).
- :func:`two_stage_bootstrap_index`: resample tasks, then seeds within each resampled task.
- :func:`holm`: Holm's step-down adjustment (statsmodels' ``multipletests``).

The older helpers (:func:`sem`, :func:`bootstrap_ci`, :func:`sign_test`) stay for single-sample
uses; no comparison between policies uses them any more. docs/STATISTICS.md says which method is
used where and why.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

import numpy as np

__all__ = ["SEED", "RESAMPLES", "LEVEL", "finite", "sem", "bootstrap_ci", "sign_test", "ClusterEstimate",
           "cluster_stats", "cluster_mean", "task_means", "task_slopes", "two_stage_bootstrap_index", "holm",
           "OK", "INSUFFICIENT"]

SEED = 0
RESAMPLES = 2000
LEVEL = 0.95
OK, INSUFFICIENT = "ok", "insufficient"


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


def bootstrap_ci(values: Sequence[float], level: float = LEVEL, resamples: int = RESAMPLES,
                 seed: int = SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of independent ``values``; (NaN, NaN) with fewer
    than two values or none that differ (no interval, rather than a zero-width one)."""
    arr = finite(values)
    if arr.size < 2 or np.all(arr == arr[0]):
        return float("nan"), float("nan")
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
class ClusterEstimate:
    """A mean over tasks with its task-clustered interval. ``status`` is ``"ok"`` or
    ``"insufficient"`` (then ``reason`` says why and the interval and p are NaN)."""

    status: str
    estimate: float
    ci_low: float
    ci_high: float
    p: float
    se: float
    n_tasks: int
    n_runs: int
    reason: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def excludes_zero(self) -> bool:
        """True only for an ``ok`` estimate whose interval lies wholly on one side of 0."""
        return self.ok and (self.ci_low > 0 or self.ci_high < 0)

    @property
    def sign(self) -> int:
        """+1 / -1 where the interval excludes zero on that side, else 0."""
        return 0 if not self.excludes_zero else (1 if self.ci_low > 0 else -1)

    def text(self, digits: int = 3) -> str:
        if not self.ok:
            est = "-" if math.isnan(self.estimate) else f"{self.estimate:+.{digits}f}"
            return f"{est} (insufficient data: {self.reason})"
        return (f"{self.estimate:+.{digits}f} [{self.ci_low:+.{digits}f}, {self.ci_high:+.{digits}f}] "
                f"p={self.p:.3g}")


def cluster_stats(per_task: np.ndarray, level: float = LEVEL) -> dict[str, np.ndarray]:
    """Vectorised t statistics over the last axis (tasks; NaN = absent): ``mean, se, n, df, low,
    high, p, ok``. ``ok`` is False with fewer than 2 tasks or a zero spread between them."""
    from scipy import stats

    x = np.asarray(per_task, dtype=float)
    have = np.isfinite(x)
    n = have.sum(axis=-1)
    total = np.where(have, x, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
        dev = np.where(have, x - mean[..., None], 0.0)
        var = (dev ** 2).sum(axis=-1) / (n - 1)
        se = np.sqrt(var / n)
        # a spread this small relative to the values is rounding, not variation
        scale = np.maximum(np.abs(mean), 1.0)
        ok = (n >= 2) & np.isfinite(se) & (se > 1e-12 * scale)
        df = np.maximum(n - 1, 1)
        crit = stats.t.ppf(0.5 + level / 2, df)
        tval = np.where(ok, mean / np.where(ok, se, 1.0), np.nan)
        p = np.where(ok, 2 * stats.t.sf(np.abs(tval), df), np.nan)
    low = np.where(ok, mean - crit * se, np.nan)
    high = np.where(ok, mean + crit * se, np.nan)
    return {"mean": mean, "se": np.where(ok, se, np.nan), "n": n, "df": df, "low": low, "high": high,
            "p": p, "ok": ok}


def task_means(values: Sequence[float], tasks: Sequence) -> tuple[np.ndarray, int]:
    """Each task's mean of its finite values (tasks with none left out), and the number of values used."""
    v = np.asarray(values, dtype=float)
    keys = np.asarray([str(t) for t in tasks], dtype=object)
    keep = np.isfinite(v)
    v, keys = v[keep], keys[keep]
    means = [float(v[keys == k].mean()) for k in sorted(set(keys))]
    return np.asarray(means, dtype=float), int(v.size)


def cluster_mean(values: Sequence[float], tasks: Sequence, level: float = LEVEL) -> ClusterEstimate:
    """The mean over tasks of each task's mean of ``values`` (one value per run; ``tasks`` names
    each run's task), with a Student-t interval over tasks; ``insufficient`` with fewer than two
    tasks or no variation between the task means."""
    means, n_runs = task_means(values, tasks)
    s = cluster_stats(means, level)
    est = float(s["mean"]) if means.size else math.nan
    if not bool(s["ok"]):
        reason = (f"{means.size} task(s); at least 2 are needed" if means.size < 2
                  else "no variation between tasks")
        return ClusterEstimate("insufficient", est, math.nan, math.nan, math.nan, math.nan, int(means.size), n_runs,
                               reason)
    return ClusterEstimate("ok", est, float(s["low"]), float(s["high"]), float(s["p"]), float(s["se"]),
                           int(means.size), n_runs)


def task_slopes(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares ``(slope, intercept)`` of ``y[..., m]`` on ``x[m]`` for every leading index
    (vectorised; NaN cells are left out; NaN where fewer than two distinct x remain)."""
    y = np.asarray(y, dtype=float)
    x = np.broadcast_to(np.asarray(x, dtype=float), y.shape)
    w = np.isfinite(y)
    n = w.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        xbar = np.where(w, x, 0.0).sum(axis=-1) / n
        ybar = np.where(w, y, 0.0).sum(axis=-1) / n
        dx = np.where(w, x - xbar[..., None], 0.0)
        sxx = (dx ** 2).sum(axis=-1)
        sxy = (dx * np.where(w, y - ybar[..., None], 0.0)).sum(axis=-1)
        good = sxx > 1e-12
        slope = np.where(good, sxy / np.where(good, sxx, 1.0), np.nan)
        intercept = np.where(good, ybar - slope * xbar, np.nan)
    return slope, intercept


def two_stage_bootstrap_index(counts: np.ndarray, resamples: int = RESAMPLES, seed: int = SEED,
                              max_seeds: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Indices for a two-stage bootstrap: ``counts[t, m]`` values (seeds) in cell (task t, model m).
    Returns ``tasks`` (B, T): the tasks drawn with replacement, and ``seeds`` (B, T, M, K): for each
    drawn task and model, K seed positions drawn with replacement from that cell's ``counts``
    (positions >= the count are padding: the caller masks them)."""
    counts = np.asarray(counts, dtype=int)
    n_tasks, n_models = counts.shape
    k = int(max_seeds or max(1, counts.max(initial=1)))
    rng = np.random.default_rng(seed)
    tasks = rng.integers(0, n_tasks, size=(resamples, n_tasks))
    drawn = counts[tasks]  # (B, T, M)
    u = rng.random((resamples, n_tasks, n_models, k))
    seeds = np.floor(u * np.maximum(drawn, 1)[..., None]).astype(int)
    return tasks, seeds


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values (NaN stays NaN and is left out of the family)."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    keep = np.isfinite(p)
    if keep.any():
        out[keep] = multipletests(p[keep], method="holm")[1]
    return [float(v) for v in out]
