"""Simulate the pre-declared crossover analysis (:mod:`scripts._crossover`) on made-up studies whose
noise comes from the suite itself, to size a design before spending GPU time.

A simulated study draws its tasks from the suite's boards (``envs/*/leaderboard.csv``). On each
task the rival's level is a random position on the board (so tasks differ as much as the board's
entries do); the focus policy sits above or below it by the shift of board position that gives,
on average over the suite, the planted gap in the primary figure (``effect``: points of the
figure, e.g. any-medal percentage points; :func:`calibrate`), the gap running linearly in log
model size from ``start`` at the smallest size to ``end`` at the largest (each task's own ends
scattered by ``spread`` points). Each run's test score is its policy's
level plus seed noise, a normal with sd = ``seed_sd`` x the board's test-score spread (its
interquartile range / 1.349), plus an offset each (policy, task, size) shares across its seeds
(sd ``shared_sd`` in the same units; 0 unless given) (measured from
existing runs with :func:`noise_from_runs`, else 1: seed noise as large as the task effects); a
run fails (no submission) with probability ``fail_rate``. The run earns a medal where its score
reaches the board's bronze threshold (MLE-bench's rule, :mod:`gome_env.grading.medals`).

Everything is vectorised over studies and seeded: the same call gives the same rates.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from scripts._crossover import ALPHA
from scripts._stats import cluster_stats, task_slopes

__all__ = ["Board", "Design", "Effect", "Noise", "PowerResult", "load_boards", "noise_from_runs", "calibrate",
           "simulate_diffs", "simulate", "decide",
           "DesignCheck", "check_design", "MIN_POWER", "DEFAULT_EFFECT",
           "FIGURE_SCALES"]

FIGURE_SCALES = {"any_medal": 100.0, "percentile": 100.0}  # both in points (pp / percentile points)


@dataclass(frozen=True)
class Board:
    """A task's leaderboard as qualities (larger is better), its bronze threshold and sd."""

    task: str
    quality: np.ndarray
    bronze: float

    @property
    def sd(self) -> float:
        """The board's spread: interquartile range / 1.349 (a normal's sd; robust to the few
        broken entries at the bottom of a board)."""
        q1, q3 = np.percentile(self.quality, [25, 75])
        return float((q3 - q1) / 1.349)

    def to_dict(self) -> dict:
        return {"task": self.task, "teams": int(self.quality.size), "bronze": self.bronze, "sd": self.sd}


@dataclass(frozen=True)
class Design:
    """How many tasks (or which), seeds per (policy, model, task), and the model sizes."""

    tasks: int
    seeds: int
    sizes: tuple[float, ...]
    task_ids: tuple[str, ...] = ()  # fixed tasks (a suite); empty: drawn from the suite per study

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Effect:
    """The focus policy's planted advantage in points of the figure (any-medal: percentage points)
    at the smallest and the largest size (linear in log size between), with a per-task scatter
    (sd, points) of both ends."""

    start: float = 0.0
    end: float = 0.0
    spread: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Noise:
    """Seed-to-seed sd of a run's test score, in units of the board's spread, the failure rate, and
    the sd of an offset each (policy, task, model size) shares across its seeds (a task's own
    effect on one policy at one size: what makes seeds of a task not independent)."""

    seed_sd: float = 1.0
    fail_rate: float = 0.0
    source: str = "assumed: seed noise as large as the task effects (give --runs to measure it)"
    shared_sd: float = 0.0  # a (policy, task, size) offset shared by every seed, same units as seed_sd

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PowerResult:
    """Share of simulated studies whose primary analysis reports a crossover, with its Monte Carlo
    standard error, and the mean figure gap (focus - rival) at the two ends."""

    rate: float
    mcse: float
    studies: int
    gap_small: float
    gap_large: float
    slope_significant: float
    design: Design = field(default_factory=lambda: Design(0, 0, ()))
    effect: Effect = field(default_factory=Effect)

    def to_dict(self) -> dict:
        return {**asdict(self), "design": self.design.to_dict(), "effect": self.effect.to_dict()}


def load_boards(envs_dir: Path | None = None, tasks: list[str] | None = None) -> list[Board]:
    """The suite's boards (every task folder, or ``tasks``), from gome_env's leaderboards."""
    from gome_env.grading.direction import Direction
    from gome_env.grading.medals import Leaderboard
    from gome_env.tasks.task import ENVS_DIR, load_spec, task_ids

    folder = Path(envs_dir) if envs_dir else ENVS_DIR
    boards = []
    for task in tasks or task_ids(folder):
        spec = load_spec(task, folder)
        board = Leaderboard.from_csv(spec.leaderboard_path, spec.higher_is_better)
        sign = Direction(spec.higher_is_better).sign
        quality = np.sort(sign * np.asarray(board.scores, dtype=float))
        boards.append(Board(task, quality, float(sign * board.thresholds.bronze)))
    if not boards:
        raise ValueError(f"no task boards under {folder}")
    return boards


def noise_from_runs(results: pd.DataFrame, boards: list[Board]) -> Noise:
    """Seed noise measured from a benchmark's ``results.csv`` frame: the pooled within-(policy,
    model, task) sd of ``test_score`` over seeds, divided by the task's board sd, and the share of
    runs without a test score (failed or invalid). Tasks without a board are left out."""
    sd_of = {b.task: b.sd for b in boards}
    ratios, weights = [], []
    for (_, _, task), group in results.groupby(["policy", "model", "task"]):
        scores = pd.to_numeric(group["test_score"], errors="coerce").dropna()
        if task in sd_of and len(scores) >= 2 and sd_of[task] > 0:
            ratios.append(float(scores.var(ddof=1)) / sd_of[task] ** 2)
            weights.append(len(scores) - 1)
    known = results[results["task"].isin(sd_of)]
    fail = float(pd.to_numeric(known["test_score"], errors="coerce").isna().mean()) if len(known) else 0.0
    if not ratios:
        return Noise(fail_rate=fail, source=f"{len(known)} run(s) given, none with 2+ seeds of one policy, model "
                                            "and task: seed noise assumed as large as the task effects")
    pooled = math.sqrt(float(np.average(ratios, weights=weights)))
    return Noise(pooled, fail, f"measured from {len(known)} run(s) in {len(ratios)} (policy, model, task) group(s)")


def _quantile(board: Board, pos: np.ndarray) -> np.ndarray:
    n = board.quality.size
    return np.interp(pos, (np.arange(n) + 0.5) / n, board.quality)


def _figure(board: Board, score: np.ndarray, figure: str) -> np.ndarray:
    if figure == "any_medal":
        return (score >= board.bronze).astype(float)
    return np.searchsorted(board.quality, score, side="left") / board.quality.size


def calibrate(boards: list[Board], noise: Noise, figure: str = "any_medal", seed: int = 0,
              draws: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """``(gaps, shifts)``: the mean figure gap (points, focus - rival, one run each) that a shift of
    board position produces over ``boards``, on a grid of shifts from -0.9 to 0.9 (increasing,
    for :func:`numpy.interp`; a gap beyond the ends is held at the largest shift)."""
    rng = np.random.default_rng(seed + 7919)
    shifts = np.linspace(-0.9, 0.9, 91)
    level = rng.random(draws)
    z = rng.standard_normal((2, draws))
    failed = rng.random((2, draws)) < noise.fail_rate
    gaps = np.zeros_like(shifts)
    for board in boards:
        base = _quantile(board, level) + noise.seed_sd * board.sd * z[0]
        rival = np.where(failed[0], 0.0, _figure(board, base, figure))
        pos = np.clip(level[None, :] + shifts[:, None], 0.0, 1.0)
        score = _quantile(board, pos) + noise.seed_sd * board.sd * z[1]
        focus = np.where(failed[1], 0.0, _figure(board, score, figure))
        gaps += (focus - rival).mean(axis=1) / len(boards)
    gaps = np.maximum.accumulate(gaps * FIGURE_SCALES[figure])
    keep = np.concatenate([[True], np.diff(gaps) > 1e-9])
    return gaps[keep], shifts[keep]


def simulate_diffs(design: Design, effect: Effect, noise: Noise, boards: list[Board], studies: int = 2000,
                   seed: int = 0, figure: str = "any_medal") -> np.ndarray:
    """The simulated studies' paired differences, focus - rival, in points of ``figure``: an array
    (studies, tasks, sizes, seeds), sizes in the order of ``design.sizes``."""
    if figure not in FIGURE_SCALES:
        raise ValueError(f"figure must be one of {sorted(FIGURE_SCALES)}, got {figure!r}")
    if design.tasks < 1 or design.seeds < 1 or len(design.sizes) < 1:
        raise ValueError("a design needs at least 1 task, 1 seed and 1 model size")
    rng = np.random.default_rng(seed)
    by_id = {b.task: b for b in boards}
    s_, m_, k_ = studies, len(design.sizes), design.seeds
    t_ = len(design.task_ids) or design.tasks
    if design.task_ids:
        missing = [t for t in design.task_ids if t not in by_id]
        if missing:
            raise ValueError(f"no board for task(s) {missing}")
        pool = [by_id[t] for t in design.task_ids]
        which = np.broadcast_to(np.arange(len(pool)), (s_, t_))
    else:
        pool = list(boards)
        if t_ <= len(pool):
            which = np.argsort(rng.random((s_, len(pool))), axis=1)[:, :t_]
        else:
            which = rng.integers(0, len(pool), size=(s_, t_))
    x = np.log10(np.asarray(design.sizes, dtype=float))
    span = x.max() - x.min()
    frac = (x - x.min()) / span if span > 0 else np.zeros_like(x)
    start = effect.start + effect.spread * rng.standard_normal((s_, t_, 1))
    end = effect.end + effect.spread * rng.standard_normal((s_, t_, 1))
    gaps, shifts = calibrate(pool, noise, figure, seed)
    shift = np.interp(start + (end - start) * frac, gaps, shifts)  # (S, T, M) in board positions
    level = rng.random((s_, t_, 1))
    pos = {"rival": np.broadcast_to(level, (s_, t_, m_)), "focus": np.clip(level + shift, 0.0, 1.0)}
    values = {}
    for name, where in pos.items():
        out = np.empty((s_, t_, m_, k_))
        z = rng.standard_normal((s_, t_, m_, k_))
        shared = noise.shared_sd * rng.standard_normal((s_, t_, m_, 1))
        failed = rng.random((s_, t_, m_, k_)) < noise.fail_rate
        for b, board in enumerate(pool):
            mask = which == b
            if not mask.any():
                continue
            score = _quantile(board, where[mask])[..., None] + board.sd * (noise.seed_sd * z[mask] + shared[mask])
            out[mask] = np.where(failed[mask], 0.0, _figure(board, score, figure))
        values[name] = out
    return (values["focus"] - values["rival"]) * FIGURE_SCALES[figure]


def simulate(design: Design, effect: Effect, noise: Noise, boards: list[Board], studies: int = 2000,
             seed: int = 0, figure: str = "any_medal") -> PowerResult:
    """Run ``studies`` simulated studies and the primary analysis on each (vectorised)."""
    diff = simulate_diffs(design, effect, noise, boards, studies, seed, figure)
    x = np.log10(np.asarray(design.sizes, dtype=float))
    s_ = studies
    means = diff.mean(axis=-1)  # (S, T, M): each task's mean over seeds
    decided, significant = decide(means, x)
    rate = float(decided.mean())
    return PowerResult(rate, math.sqrt(rate * (1 - rate) / s_), s_, float(means[..., np.argmin(x)].mean()),
                       float(means[..., np.argmax(x)].mean()), float(significant.mean()), design, effect)


def decide(means: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The primary rule of :func:`scripts._crossover.fit_trend`, vectorised over leading axes of
    ``means`` (..., T, M): (crossover reported, slope significant)."""
    xc = x - np.mean(np.unique(x))
    slope, intercept = task_slopes(means, xc)
    s = cluster_stats(slope)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a study without a slope: all NaN
        b = np.nanmean(intercept, axis=-1) if intercept.size else intercept
    small, large = b + s["mean"] * xc.min(), b + s["mean"] * xc.max()
    significant = s["ok"] & (s["p"] < ALPHA)
    return significant & (small * large < 0), significant


MIN_POWER = 0.8
# the effect the scaling study checks its design against (README: 15 points behind at the smallest
# size, 15 ahead at the largest, any-medal percentage points)
DEFAULT_EFFECT = Effect(-15.0, 15.0, 5.0)


@dataclass(frozen=True)
class DesignCheck:
    """A design's false-crossover rate (no effect) and power (the planted effect), with warnings."""

    design: Design
    noise: Noise
    figure: str
    null: PowerResult
    power: PowerResult
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"design": self.design.to_dict(), "noise": self.noise.to_dict(), "figure": self.figure,
                "null": self.null.to_dict(), "power": self.power.to_dict(), "warnings": list(self.warnings)}

    def text(self) -> str:
        from scripts._crossover import fmt_params

        d, e, n = self.design, self.power.effect, self.noise
        tasks = len(d.task_ids) or d.tasks
        which = f" ({', '.join(d.task_ids)})" if d.task_ids else " drawn from the suite's boards"
        unit = "pp" if self.figure == "any_medal" else "points"
        lines = [
            f"design: {tasks} task(s){which} x {d.seeds} seed(s) x {len(d.sizes)} model size(s) "
            f"({', '.join(fmt_params(s) for s in d.sizes)}) = {2 * tasks * d.seeds * len(d.sizes)} runs of 2 policies",
            f"noise: seed-to-seed sd {n.seed_sd:.2f} x each board's test-score spread (IQR / 1.349), "
            f"shared (policy, task, size) offset sd {n.shared_sd:.2f}, failure rate {100 * n.fail_rate:.0f}%; "
            f"{n.source}",
            f"primary analysis: {self.figure}; the per-task slope of the advantage against log10(size), "
            f"t-test over tasks p < 0.05, and a sign change within the sizes",
            f"false-crossover rate, no effect: {100 * self.null.rate:.1f}% ± {100 * self.null.mcse:.1f}% "
            f"({self.null.studies} simulated studies)",
            f"power, effect {e.start:+g} -> {e.end:+g} {unit} (per-task scatter {e.spread:g}): "
            f"{100 * self.power.rate:.1f}% ± {100 * self.power.mcse:.1f}% (realised mean gap "
            f"{self.power.gap_small:+.1f} / {self.power.gap_large:+.1f} {unit} at the ends)",
        ]
        return "\n".join(lines + [f"WARNING: {w}" for w in self.warnings])


def check_design(design: Design, effect: Effect, noise: Noise, boards: list[Board], studies: int = 2000,
                 seed: int = 0, figure: str = "any_medal") -> DesignCheck:
    """Simulate ``design`` with no effect and with ``effect``; warn where the false-crossover rate
    exceeds 5% (by more than two Monte Carlo standard errors), the power is under 80%, or the
    design cannot support a crossover at all."""
    null = simulate(design, Effect(0.0, 0.0, 0.0), noise, boards, studies, seed, figure)
    power = simulate(design, effect, noise, boards, studies, seed + 1, figure)
    warnings = []
    tasks = len(design.task_ids) or design.tasks
    if tasks < 2:
        warnings.append("fewer than 2 tasks: the analysis can never report a crossover")
    if len(set(design.sizes)) < 2:
        warnings.append("fewer than 2 model sizes: the analysis can never report a crossover")
    if null.rate > ALPHA + 2 * null.mcse:  # above 5% by more than the simulation's own error
        warnings.append(f"this design's false-crossover rate is {100 * null.rate:.1f}% "
                        f"(± {100 * null.mcse:.1f}%), above 5%")
    if power.rate < MIN_POWER:
        warnings.append(f"power {100 * power.rate:.0f}% < {100 * MIN_POWER:.0f}%: this design will usually report "
                        "'no crossover detected' even where the planted crossover is real; add tasks and seeds "
                        "(python -m scripts.power --help)")
    if not design.task_ids and tasks > len(boards):
        warnings.append(f"{tasks} tasks but {len(boards)} boards: boards are reused (as if the suite were larger)")
    return DesignCheck(design, noise, figure, null, power, tuple(warnings))
