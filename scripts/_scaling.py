"""The scaling study's analysis, shared by the full study and ``--analyse``: which curves, in which
units, the primary and the secondary ones, the files written, and the design's power check."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from scripts._aggregate import complete_seeds
from scripts._crossover import CROSSOVER_COLUMNS, CurveResult, adjust_secondary, curve_result, matched_runs

__all__ = ["CURVES", "analyse", "budget_label", "advantage_frame", "crossover_frame", "trend_frame",
           "write_analysis", "format_analysis", "design_check"]

# curve -> (column of its per-run table, unit, scale to that unit)
CURVES: dict[str, tuple[str, str, float]] = {
    "any_medal": ("any_medal", "pp", 100.0),
    "percentile": ("percentile", "percentile points", 100.0),
    "normalised_score": ("normalised_score", "baseline 0 to gold 1", 1.0),
    "improved": ("improved", "pp", 100.0),
    "best_dev@steps": ("best_normalised", "baseline 0 to gold 1, step-matched", 1.0),
    "best_dev@tokens": ("best_normalised", "baseline 0 to gold 1, token-matched", 1.0),
}
BUDGET_COLUMNS = ("budget_match", "budget_kind", "budget_mode", "matched_by", "matching", "spend")


def budget_label(runs: pd.DataFrame) -> str:
    """How the runs' budgets were matched, where the results say so (else "not recorded")."""
    for col in BUDGET_COLUMNS:
        if col in runs.columns:
            values = sorted({str(v) for v in runs[col].dropna()})
            if values:
                return f"{col} = {', '.join(values)}"
    if "token_budget" in runs.columns and runs["token_budget"].notna().any():
        return "token-matched (a token budget per run)"
    return "matching not recorded in the results"


def analyse(runs: pd.DataFrame, models: list[dict], steps: pd.DataFrame | None = None, focus: str = "gome",
            rival: str = "greedy", primary: str = "any_medal",
            secondary: tuple[str, ...] = ("any_medal", "percentile", "best_dev@steps", "best_dev@tokens"),
            ) -> tuple[list[CurveResult], list[str]]:
    """The primary and secondary curves (Holm over the secondaries) over complete seeds, and notes
    on curves left out. ``runs`` has the benchmark's results.csv columns; ``steps`` (optional) is
    :func:`scripts._aggregate.steps_table`'s frame for the best_dev curves."""
    if primary not in CURVES:
        raise ValueError(f"unknown primary figure {primary!r}; choose from {', '.join(CURVES)}")
    complete, _ = complete_seeds(runs) if len(runs) else (runs, None)
    label = budget_label(runs)
    results, notes = [], []
    for name in [primary, *[s for s in secondary if s != primary]]:
        if name not in CURVES:
            notes.append(f"{name}: unknown figure, left out")
            continue
        col, unit, scale = CURVES[name]
        role = "primary" if name == primary else "secondary"
        if name.startswith("best_dev@"):
            if steps is None or steps.empty:
                notes.append(f"{name}: needs the runs' steps (the full study), left out")
                continue
            table, budget = matched_runs(steps, name.split("@")[1]), name.split("@")[1] + "-matched"
        else:
            if col not in complete.columns:
                notes.append(f"{name}: no column {col!r} in the results, left out")
                continue
            table, budget = complete.assign(**{col: pd.to_numeric(complete[col], errors="coerce")}), label
        results.append(curve_result(table, models, col, name, focus, rival, role, unit, scale, budget))
    return adjust_secondary(results), notes


def advantage_frame(results: list[CurveResult]) -> pd.DataFrame:
    rows = [{"figure": r.figure, "role": r.role, "unit": r.unit, "focus": r.focus, **p.to_dict()}
            for r in results for p in r.points]
    return pd.DataFrame(rows, columns=["figure", "role", "unit", "focus", "model", "spec", "params", "rival", "status",
                                       "advantage", "ci_low", "ci_high", "p", "n_tasks", "n_runs", "reason"])


def trend_frame(results: list[CurveResult]) -> pd.DataFrame:
    return pd.DataFrame([{"figure": r.figure, "role": r.role, "budget": r.budget, **r.trend.to_dict(),
                          "p_decide": r.p_decide, "crossover": bool(r.crossovers)} for r in results])


def crossover_frame(results: list[CurveResult]) -> pd.DataFrame:
    return pd.DataFrame([c.to_dict() for r in results for c in r.crossovers], columns=CROSSOVER_COLUMNS)


def write_analysis(results: list[CurveResult], out: str | Path) -> list[Path]:
    """crossovers.csv (one row per reported crossover; a header alone when none), advantage.csv
    (per figure and model) and trend.csv (per figure) in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "crossovers.csv", out / "advantage.csv", out / "trend.csv"]
    for frame, path in zip((crossover_frame(results), advantage_frame(results), trend_frame(results)), paths):
        frame.to_csv(path, index=False)
    return paths


def format_analysis(results: list[CurveResult], notes: list[str] = ()) -> str:
    """Every curve's printout, then the crossovers table as written to crossovers.csv."""
    blocks = [r.text() for r in results] + [f"note: {n}" for n in notes]
    found = crossover_frame(results)
    if found.empty:
        primary = next((r for r in results if r.role == "primary"), None)
        blocks.append("crossovers: none" + (f" (primary figure {primary.figure}: no crossover detected)"
                                            if primary else ""))
    else:
        blocks.append("crossovers:\n" + found.to_string(index=False))
    return "\n\n".join(blocks)


def design_check(runs: pd.DataFrame, models: list[dict], primary: str = "any_medal", studies: int = 1000,
                 envs_dir: Path | None = None):
    """The power calculator on this study's design (its tasks, the most seeds any cell has, its
    model sizes) with seed noise measured from its runs; None where the suite's boards cannot be
    read or the figure is not simulated."""
    from scripts._power import DEFAULT_EFFECT, FIGURE_SCALES, Design, check_design, load_boards, noise_from_runs

    if primary not in FIGURE_SCALES or runs.empty:
        return None
    try:
        boards = load_boards(envs_dir)
    except (ValueError, OSError):
        return None
    tasks = sorted({str(t) for t in runs["task"].dropna()})
    known = {b.task for b in boards}
    seeds = int(runs.groupby(["policy", "model", "task"])["seed"].nunique().max())
    sizes = tuple(sorted(float(m["params"]) for m in models))
    design = (Design(len(tasks), seeds, sizes, tuple(tasks)) if set(tasks) <= known
              else Design(len(tasks), seeds, sizes))
    return check_design(design, DEFAULT_EFFECT, noise_from_runs(runs, boards), boards, studies,
                        figure=primary)


