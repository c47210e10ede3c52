"""The pre-declared crossover analysis: does the focus policy's advantage over a named rival change
sign as models grow, and where?

Declared before the data are seen (see docs/STATISTICS.md):

- the **rival** is named (``greedy`` by default), never chosen as the best policy on the same data;
- the **advantage** on one model is the focus policy's figure minus the rival's on the same (task,
  seed), averaged over seeds within each task, then over tasks, with a Student-t interval over tasks
  (:func:`scripts._stats.cluster_mean`); fewer than two tasks, or no variation, is "insufficient";
- a **crossover** is a claim about a trend: each task's advantage is fitted by a line against
  log10(model size); the mean slope over tasks has a t-interval over tasks that excludes zero
  (p < 0.05; for a secondary curve its Holm-adjusted p < 0.05), **and** the fitted mean line changes
  sign between the smallest and the largest size studied. Its size is where the fitted line crosses
  zero, with a two-stage bootstrap interval (tasks, then seeds within each task);
- otherwise: "no crossover detected", with the slope and the fitted advantages at the two ends.

Budgets are matched two ways in the full study: by steps and by tokens (:func:`matched_runs`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from scripts._stats import (INSUFFICIENT, LEVEL, OK, RESAMPLES, SEED, ClusterEstimate, cluster_mean, cluster_stats,
                            holm, task_slopes, two_stage_bootstrap_index)

__all__ = ["Point", "Trend", "CurveResult", "advantage_points", "paired_cells", "fit_trend", "curve_result",
           "adjust_secondary", "matched_runs", "fmt_params", "ALPHA"]

ALPHA = 1 - LEVEL


def fmt_params(n: float) -> str:
    """1.5e9 -> "1.5B"."""
    if n is None or not math.isfinite(n):
        return "unbounded"
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:.3g}"


@dataclass(frozen=True)
class Point:
    """The focus policy's advantage over the rival on one model."""

    name: str
    spec: str
    params: float
    rival: str
    advantage: ClusterEstimate

    def to_dict(self) -> dict:
        a = self.advantage
        return {"model": self.name, "spec": self.spec, "params": self.params, "rival": self.rival,
                "status": a.status, "advantage": a.estimate, "ci_low": a.ci_low, "ci_high": a.ci_high, "p": a.p,
                "n_tasks": a.n_tasks, "n_runs": a.n_runs, "reason": a.reason}


@dataclass(frozen=True)
class Trend:
    """The advantage against log10(model size): the mean over tasks of each task's slope (per
    tenfold size), its t-interval, the fitted mean line's values at the two ends, and the crossover
    size where that line is zero (with a two-stage bootstrap interval)."""

    status: str
    reason: str = ""
    slope: float = math.nan
    slope_low: float = math.nan
    slope_high: float = math.nan
    p: float = math.nan
    n_tasks: int = 0
    small_params: float = math.nan
    large_params: float = math.nan
    at_small: float = math.nan
    at_large: float = math.nan
    sign_change: bool = False
    at_params: float = math.nan
    at_low: float = math.nan
    at_high: float = math.nan
    lower: str = ""
    upper: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Crossover:
    """A reported crossover (what :func:`scripts._plots.plot_scaling` marks)."""

    figure: str
    role: str
    lower: str
    upper: str
    at_params: float
    at_low: float
    at_high: float
    overtakes: bool
    p: float

    def to_dict(self) -> dict:
        return {"figure": self.figure, "role": self.role, "lower": self.lower, "upper": self.upper,
                "estimated_params": self.at_params, "ci_low_params": self.at_low, "ci_high_params": self.at_high,
                "direction": "overtakes" if self.overtakes else "falls behind", "p": self.p}


CROSSOVER_COLUMNS = ["figure", "role", "lower", "upper", "estimated_params", "ci_low_params", "ci_high_params",
                     "direction", "p"]


@dataclass(frozen=True)
class CurveResult:
    """One figure's analysis. ``role`` is "primary" (decides "crossover" at p < 0.05) or
    "secondary" (decides at Holm-adjusted p < 0.05 over the secondary curves)."""

    figure: str
    focus: str
    rival: str
    role: str
    unit: str
    points: list[Point] = field(default_factory=list)
    trend: Trend = field(default_factory=lambda: Trend(INSUFFICIENT, "not analysed"))
    p_decide: float = math.nan  # the p that decides: the slope's p (primary) or its Holm-adjusted p
    budget: str = ""

    @property
    def crossovers(self) -> list[Crossover]:
        t = self.trend
        if t.status != OK or not t.sign_change or not (self.p_decide < ALPHA):
            return []
        return [Crossover(self.figure, self.role, t.lower, t.upper, t.at_params, t.at_low, t.at_high, t.slope > 0,
                          self.p_decide)]

    def to_dict(self) -> dict:
        return {"figure": self.figure, "focus": self.focus, "rival": self.rival, "role": self.role,
                "unit": self.unit, "budget": self.budget, "points": [p.to_dict() for p in self.points],
                "trend": self.trend.to_dict(), "p_decide": self.p_decide,
                "crossovers": [c.to_dict() for c in self.crossovers]}

    def text(self) -> str:
        head = (f"{self.role.upper()} {self.figure} ({self.unit}): {self.focus} - {self.rival} per model, "
                f"mean over tasks of the per-task mean over seeds, 95% t-interval over tasks")
        lines = [head + (f"; budget: {self.budget}" if self.budget else "")]
        for p in self.points:
            a = p.advantage
            lines.append(f"  {p.name} ({fmt_params(p.params)}): {a.text(2)}  tasks={a.n_tasks} runs={a.n_runs}")
        t = self.trend
        if t.status != OK:
            lines.append(f"  trend: insufficient data ({t.reason}); no crossover can be claimed")
            return "\n".join(lines)
        p_text = f"p={t.p:.3g}" + (f", Holm-adjusted p={self.p_decide:.3g}" if self.role != "primary" else "")
        lines.append(f"  trend: {t.slope:+.2f} per tenfold model size [{t.slope_low:+.2f}, {t.slope_high:+.2f}] "
                     f"{p_text}, tasks={t.n_tasks}; fitted advantage {t.at_small:+.2f} at "
                     f"{fmt_params(t.small_params)}, {t.at_large:+.2f} at {fmt_params(t.large_params)}")
        for c in self.crossovers:
            how = "overtakes" if c.overtakes else "falls behind"
            lines.append(f"  CROSSOVER: {self.focus} {how} {self.rival} near {fmt_params(c.at_params)} "
                         f"[{fmt_params(c.at_low)}, {fmt_params(c.at_high)}] (between {c.lower} and {c.upper})")
        if not self.crossovers:
            why = ("the slope's interval includes zero" if not self.p_decide < ALPHA
                   else "the fitted advantage keeps one sign over the sizes studied")
            lines.append(f"  no crossover detected ({why})")
        return "\n".join(lines)


def paired_cells(runs: pd.DataFrame, models: list[dict], value: str, focus: str, rival: str,
                 scale: float = 1.0) -> tuple[list[str], np.ndarray]:
    """``(tasks, cells)``: ``cells[t][m]`` is the array of focus-minus-rival differences (one per seed
    both ran) on task t and model m (models sorted by size then name), times ``scale``."""
    ordered = sorted(models, key=lambda m: (m["params"], m["name"]))
    tasks = sorted({str(t) for t in runs["task"].dropna()})
    cells = np.empty((len(tasks), len(ordered)), dtype=object)
    for i in range(len(tasks)):
        for j in range(len(ordered)):
            cells[i, j] = np.empty(0)
    frame = runs.assign(task=runs["task"].astype(str))
    for j, m in enumerate(ordered):
        mine = frame[frame["model"] == m["spec"]]
        a = mine[mine["policy"] == focus].groupby(["task", "seed"])[value].mean()
        b = mine[mine["policy"] == rival].groupby(["task", "seed"])[value].mean()
        diff = (a - b).dropna() * scale
        for (task, _), d in diff.items():
            i = tasks.index(task)
            cells[i, j] = np.append(cells[i, j], float(d))
    have = [i for i in range(len(tasks)) if any(c.size for c in cells[i])]
    return [tasks[i] for i in have], cells[have] if have else np.empty((0, len(ordered)), dtype=object)


def advantage_points(runs: pd.DataFrame, models: list[dict], value: str, focus: str = "gome",
                     rival: str = "greedy", scale: float = 1.0) -> list[Point]:
    """One :class:`Point` per model (sorted by size, then name)."""
    ordered = sorted(models, key=lambda m: (m["params"], m["name"]))
    tasks, cells = paired_cells(runs, models, value, focus, rival, scale)
    points = []
    for j, m in enumerate(ordered):
        values = [v for i in range(len(tasks)) for v in cells[i, j]]
        labels = [tasks[i] for i in range(len(tasks)) for _ in cells[i, j]]
        points.append(Point(m["name"], m["spec"], float(m["params"]), rival, cluster_mean(values, labels)))
    return points


def _pack(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, M, K) values padded with NaN, and the (T, M) counts."""
    counts = np.vectorize(len, otypes=[int])(cells) if cells.size else np.zeros(cells.shape, dtype=int)
    k = max(1, int(counts.max(initial=1)))
    packed = np.full((*cells.shape, k), np.nan)
    for (i, j), c in np.ndenumerate(counts):
        packed[i, j, :c] = cells[i, j]
    return packed, counts


def _nanmean(a: np.ndarray, axis: int = -1) -> np.ndarray:
    """``np.nanmean`` without the warning for an all-NaN slice (a cell or task without values: NaN)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(a, axis=axis)


def _line(means: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-task lines, and the mean line's (slope, intercept) over tasks, for (..., T, M) means."""
    slope, intercept = task_slopes(means, x)
    return slope, _nanmean(slope), _nanmean(intercept)


def fit_trend(cells: np.ndarray, models: list[dict], resamples: int = RESAMPLES, seed: int = SEED) -> Trend:
    """The trend of the advantage against log10(size) (see the module docstring)."""
    ordered = sorted(models, key=lambda m: (m["params"], m["name"]))
    sizes = np.asarray([float(m["params"]) for m in ordered])
    if len(set(sizes)) < 2:
        return Trend(INSUFFICIENT, "fewer than 2 model sizes")
    x = np.log10(sizes)
    x0 = float(np.mean(np.unique(x)))
    xc = x - x0
    packed, counts = _pack(cells)
    means = _nanmean(packed) if packed.size else np.empty((0, len(ordered)))
    per_task, _, _ = _line(means, xc) if len(means) else (np.empty(0), None, None)
    s = cluster_stats(per_task[np.isfinite(per_task)])
    n = int(s["n"])
    if not bool(s["ok"]):
        return Trend(INSUFFICIENT, f"{n} task(s) with runs at 2+ sizes; at least 2 are needed" if n < 2
                     else "no variation between the tasks' slopes", n_tasks=n)
    slope = float(s["mean"])
    intercept = float(_nanmean(task_slopes(means, xc)[1]))
    small, large = float(sizes.min()), float(sizes.max())
    at_small = intercept + slope * (math.log10(small) - x0)
    at_large = intercept + slope * (math.log10(large) - x0)
    change = at_small * at_large < 0
    at = at_low = at_high = math.nan
    lower = upper = ""
    if change:
        at = 10 ** (x0 - intercept / slope)
        below = [m for m in ordered if m["params"] <= at]
        above = [m for m in ordered if m["params"] > at]
        lower, upper = below[-1]["name"], above[0]["name"]
        at_low, at_high = _bootstrap_crossing(packed, counts, xc, x0, slope, resamples, seed)
    return Trend(OK, "", slope, float(s["low"]), float(s["high"]), float(s["p"]), n, small, large, at_small,
                 at_large, change, at, at_low, at_high, lower, upper)


def _bootstrap_crossing(packed: np.ndarray, counts: np.ndarray, xc: np.ndarray, x0: float, slope: float,
                        resamples: int, seed: int) -> tuple[float, float]:
    """Two-stage bootstrap (tasks, then seeds within each drawn task and model) percentile interval
    of the crossing size; a replicate whose slope has the other sign (no crossing) counts as beyond
    either end, so a fragile crossing gets an unbounded side (NaN)."""
    tasks, seeds = two_stage_bootstrap_index(counts, resamples, seed, packed.shape[-1])
    n_models = counts.shape[1]
    values = packed[tasks[..., None, None], np.arange(n_models)[None, None, :, None], seeds]
    keep = np.arange(packed.shape[-1])[None, None, None, :] < counts[tasks][..., None]
    means = _nanmean(np.where(keep, values, np.nan))
    _, b_slope, b_int = _line(means, xc)
    with np.errstate(invalid="ignore", divide="ignore"):
        x_star = x0 - b_int / b_slope
    valid = np.isfinite(x_star) & (np.sign(b_slope) == np.sign(slope))
    low = np.quantile(np.where(valid, x_star, -np.inf), ALPHA / 2, method="inverted_cdf")
    high = np.quantile(np.where(valid, x_star, np.inf), 1 - ALPHA / 2, method="inverted_cdf")
    return (float(10 ** low) if np.isfinite(low) else math.nan, float(10 ** high) if np.isfinite(high) else math.nan)


def curve_result(runs: pd.DataFrame, models: list[dict], value: str, figure: str, focus: str = "gome",
                 rival: str = "greedy", role: str = "primary", unit: str = "", scale: float = 1.0,
                 budget: str = "") -> CurveResult:
    """Analyse one figure (column ``value`` of ``runs``: policy, model (the spec), task, seed)."""
    points = advantage_points(runs, models, value, focus, rival, scale)
    _, cells = paired_cells(runs, models, value, focus, rival, scale)
    trend = fit_trend(cells, models)
    return CurveResult(figure, focus, rival, role, unit, points, trend, trend.p, budget)


def adjust_secondary(results: list[CurveResult]) -> list[CurveResult]:
    """The same results with every secondary curve's deciding p Holm-adjusted over the secondaries."""
    secondary = [i for i, r in enumerate(results) if r.role != "primary"]
    adjusted = holm([results[i].trend.p for i in secondary])
    out = list(results)
    for i, p in zip(secondary, adjusted):
        r = results[i]
        out[i] = CurveResult(r.figure, r.focus, r.rival, r.role, r.unit, r.points, r.trend, p, r.budget)
    return out


def matched_runs(steps: pd.DataFrame, budget: str = "steps") -> pd.DataFrame:
    """Each run's best normalised dev score at a budget every policy reached on its model.

    ``steps`` is :func:`scripts._aggregate.steps_table`'s frame. ``budget="steps"``: after the
    fewest steps any run of that model made; ``"tokens"``: after the smallest median total of
    tokens (prompt + completion) any policy used per run on that model. A run that had not yet
    finished a step within the budget scores 0 (its baseline). Columns: policy, model, task, seed,
    budget, best_normalised."""
    col = "step" if budget == "steps" else "cumulative_tokens"
    if budget not in ("steps", "tokens"):
        raise ValueError(f"budget must be 'steps' or 'tokens', got {budget!r}")
    rows = []
    for model, frame in steps.groupby("model", sort=True):
        totals = frame.groupby(["policy", "run_key"])[col].max()
        limit = (totals.min() if budget == "steps" else totals.groupby("policy").median().min())
        for (policy, run_key), run in frame.groupby(["policy", "run_key"], sort=True):
            within = run[run[col] <= limit].sort_values("step")
            best = within["best_normalised"].iloc[-1] if len(within) else 0.0
            first = run.iloc[0]
            rows.append({"policy": policy, "model": model, "task": first["task"], "seed": first["seed"],
                         "budget": float(limit), "best_normalised": float(best) if best is not None else np.nan})
    return pd.DataFrame(rows, columns=["policy", "model", "task", "seed", "budget", "best_normalised"])
