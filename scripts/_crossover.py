"""Where GOME's advantage over tree search changes sign with model size: only where the data show it.

For each model (a point; models of the same size stay separate points) the *advantage* is the
focus policy's mean minus its rival's on the (task, seed) runs both have, the rival being the
other policy with the best mean on that model. Its 95% interval is a seeded bootstrap over those
(task, seed) runs. A crossover between two adjacent model sizes is reported only where the
advantage changes sign **and** both intervals exclude zero; its position is interpolated in log
model size. Otherwise: "no crossover detected", with every interval printed.

Budgets are matched two ways: by steps (each run's final figures, or its best dev score after the
same number of steps) and by tokens (its best dev score after the same number of tokens, the
smallest median total any policy used on that model; see :func:`matched_runs`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from scripts._stats import bootstrap_ci

__all__ = ["Point", "Crossover", "CrossoverResult", "advantage_points", "find_crossovers", "crossover_study",
           "matched_runs", "fmt_params"]


def fmt_params(n: float) -> str:
    """1.5e9 -> "1.5B"."""
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:.3g}"


@dataclass(frozen=True)
class Point:
    """The focus policy's advantage on one model."""

    name: str
    params: float
    rival: str | None
    n: int
    advantage: float
    ci_low: float
    ci_high: float

    @property
    def sign(self) -> int:
        """+1 / -1 where the interval excludes zero on that side, else 0."""
        return 1 if self.ci_low > 0 else -1 if self.ci_high < 0 else 0

    def to_dict(self) -> dict:
        return {**asdict(self), "sign": self.sign}


@dataclass(frozen=True)
class Crossover:
    """A sign change of the advantage between two adjacent model sizes, both intervals clear of 0."""

    lower: str
    upper: str
    lower_params: float
    upper_params: float
    at_params: float
    overtakes: bool  # True: the focus policy pulls ahead as models grow; False: it falls behind

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CrossoverResult:
    metric: str
    focus: str
    points: list[Point] = field(default_factory=list)
    crossovers: list[Crossover] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"metric": self.metric, "focus": self.focus, "points": [p.to_dict() for p in self.points],
                "crossovers": [c.to_dict() for c in self.crossovers]}

    def text(self) -> str:
        lines = [f"{self.metric}: {self.focus} minus the best other policy per model "
                 "(bootstrap 95% interval over (task, seed) runs):"]
        for p in self.points:
            if p.rival is None or not p.n:
                lines.append(f"  {p.name} ({fmt_params(p.params)}): no shared runs with another policy")
                continue
            lines.append(f"  {p.name} ({fmt_params(p.params)}) vs {p.rival}: {p.advantage:+.3f} "
                         f"[{p.ci_low:+.3f}, {p.ci_high:+.3f}]  n={p.n}")
        if not self.crossovers:
            lines.append("  no crossover detected (no adjacent sizes whose intervals exclude zero on opposite sides)")
        for c in self.crossovers:
            how = "overtakes" if c.overtakes else "falls behind"
            lines.append(f"  crossover between {c.lower} ({fmt_params(c.lower_params)}) and {c.upper} "
                         f"({fmt_params(c.upper_params)}): {self.focus} {how}, near {fmt_params(c.at_params)}")
        return "\n".join(lines)


def advantage_points(runs: pd.DataFrame, models: list[dict], value: str, focus: str = "gome",
                     seed: int = 0) -> list[Point]:
    """One :class:`Point` per model in ``models`` (``name``, ``spec``, ``params``); ``runs`` has
    columns policy, model (the spec), task, seed and ``value``."""
    points = []
    for m in sorted(models, key=lambda m: (m["params"], m["name"])):
        mine = runs[runs["model"] == m["spec"]]
        means = mine.groupby("policy")[value].mean().drop(focus, errors="ignore").dropna()
        if focus not in set(mine["policy"]) or means.empty:
            points.append(Point(m["name"], float(m["params"]), None, 0, math.nan, math.nan, math.nan))
            continue
        rival = str(means.sort_values(ascending=False, kind="stable").index[0])
        a = mine[mine["policy"] == focus].groupby(["task", "seed"])[value].mean()
        b = mine[mine["policy"] == rival].groupby(["task", "seed"])[value].mean()
        units = a.index.intersection(b.index).sort_values()
        diff = (a.loc[units].astype(float) - b.loc[units].astype(float)).dropna().to_numpy()
        low, high = bootstrap_ci(diff, seed=seed)
        points.append(Point(m["name"], float(m["params"]), rival, int(diff.size),
                            float(diff.mean()) if diff.size else math.nan, low, high))
    return points


def find_crossovers(points: list[Point], log_x: bool = True) -> list[Crossover]:
    """Crossovers between adjacent model sizes (see the module docstring). Points of the same size
    are not merged: each point of one size is compared with each point of the next size."""
    sizes = sorted({p.params for p in points})
    out = []
    for small, large in zip(sizes, sizes[1:]):
        for p in (p for p in points if p.params == small):
            for q in (q for q in points if q.params == large):
                if p.sign == 0 or q.sign == 0 or p.sign == q.sign:
                    continue
                x0, x1 = (math.log10(small), math.log10(large)) if log_x else (small, large)
                t = x0 + p.advantage / (p.advantage - q.advantage) * (x1 - x0)
                out.append(Crossover(p.name, q.name, small, large, float(10 ** t if log_x else t), q.sign > 0))
    return out


def crossover_study(runs: pd.DataFrame, models: list[dict], value: str, focus: str = "gome",
                    metric: str | None = None) -> CrossoverResult:
    points = advantage_points(runs, models, value, focus)
    return CrossoverResult(metric or value, focus, points, find_crossovers(points))


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
