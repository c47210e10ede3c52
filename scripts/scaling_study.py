"""Model-scaling study: GOME against a named rival across model sizes, with a pre-declared crossover test.

    python -m scripts.scaling_study scripts/models.example.toml --tasks all --seeds 10 \\
        --ray auto --out runs/scaling
    python -m scripts.scaling_study --analyse RESULTS.csv --models MODELS.toml --out DIR   # no runs
    python -m scripts.scaling_study MODELS.toml --serve --ray auto ...   # one vLLM server per model

The models file lists ``name``, ``spec`` (a backend spec as in --models) and ``params`` (the
parameter count) per model, as TOML (``[[models]]`` tables) or CSV (header ``name,spec,params``).
Every model runs every policy (default ``gome,greedy``) on every task and seed through the
benchmark (same store, same resume). Models of the same size stay separate points.

The analysis is declared before the data are seen (scripts/_crossover.py, docs/STATISTICS.md):
the rival is named (``--rival``, default greedy); one primary figure (``--primary``, default
any_medal: the final submission's any-medal rate, under the budget the runs were given) decides
"crossover"; the others are secondary, with Holm-adjusted p. Per model, the advantage (focus -
rival on the same task and seed) is averaged within tasks, then over tasks, with a t-interval over
tasks. A crossover needs the advantage's slope against log10(model size) to differ from zero (t
over tasks, p < 0.05) and the fitted line to change sign within the sizes studied; its size comes
with a two-stage bootstrap interval. Otherwise "no crossover detected", with the slope and the
fitted advantages at the two ends. The design's false-crossover rate and power are simulated
(scripts/power.py) and a warning printed where the rate exceeds 5% or the power is under 80%.

Curves: any_medal, percentile, normalised_score, improved (the final submission) and, in the full
study, best_dev@steps / best_dev@tokens (best normalised dev score after the same steps / tokens).

Written into --out (both modes):

  crossovers.csv  one row per reported crossover: figure, role, lower and upper model, estimated
                  size and its interval, direction, p (a header alone when there is none)
  advantage.csv   per figure and model: the advantage, its interval, p, tasks and runs
  trend.csv       per figure: the slope per tenfold size, its interval, p, the fitted ends

and, in the full study, besides the benchmark's files:

  scaling.csv     one row per policy x model: name, spec, params, the summary's figures and the
                  step- and token-matched best dev scores
  scaling.png     the final figures against model size, crossovers marked
  scaling_matched.png   best dev score against model size, matched by steps and by tokens
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tomllib
from pathlib import Path

import pandas as pd

from scripts._aggregate import RUN_COLUMNS, format_summary, steps_table
from scripts._bench import select_lines, write_tables
from scripts._crossover import CurveResult, matched_runs
from scripts._scaling import CURVES, analyse, design_check, format_analysis, write_analysis
from scripts.benchmark import add_run_args, dry_run, run_from_args, spend_header, specs_from_args

__all__ = ["load_models_file", "parse_params", "scaling_table", "matched_table", "analyse_file", "main"]


def load_models_file(path: str | Path) -> list[dict]:
    """``[{"name", "spec", "params"}]`` from a TOML or CSV file; params may be written 1.7e9 or "1.7B"."""
    path = Path(path)
    if path.suffix == ".toml":
        rows = tomllib.loads(path.read_text()).get("models", [])
    else:
        with open(path, newline="") as handle:
            rows = [r for r in csv.DictReader(line for line in handle if not line.lstrip().startswith("#"))]
    models = []
    for i, row in enumerate(rows):
        missing = [k for k in ("name", "spec", "params") if not str(row.get(k, "")).strip()]
        if missing:
            raise SystemExit(f"{path}: model {i + 1} lacks {', '.join(missing)} (each needs name, spec, params)")
        models.append({"name": str(row["name"]).strip(), "spec": str(row["spec"]).strip(),
                       "params": parse_params(row["params"])})
    if not models:
        raise SystemExit(f"{path}: no models listed")
    specs = [m["spec"] for m in models]
    if len(set(specs)) != len(specs):
        raise SystemExit(f"{path}: a spec is listed twice")
    return models


def parse_params(value) -> float:
    """1.7e9, "1.7B", "135M" -> a parameter count."""
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip().upper().replace("_", "")
    scale = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}.get(text[-1:], 1.0)
    return float(text[:-1] if scale != 1.0 else text) * scale


def scaling_table(summary: pd.DataFrame, models: list[dict]) -> pd.DataFrame:
    """The benchmark summary (per policy x model spec) with each model's name and size."""
    info = pd.DataFrame(models).rename(columns={"spec": "model"})
    table = summary.merge(info, on="model", how="inner")
    first = ["policy", "name", "model", "params"]
    return table[first + [c for c in table.columns if c not in first]].sort_values(["policy", "params"])


def matched_table(steps: pd.DataFrame) -> pd.DataFrame:
    """The step- and token-matched best dev scores per policy x model (``best_dev@steps_mean``,
    ``best_dev@steps_budget`` etc.; failed runs have no steps and are left out)."""
    matched = []
    for budget in ("steps", "tokens"):
        name = f"best_dev@{budget}"
        per_run = matched_runs(steps, budget) if not steps.empty else pd.DataFrame(
            columns=["policy", "model", "task", "seed", "budget", "best_normalised"])
        grouped = per_run.groupby(["policy", "model"])
        matched.append(grouped["best_normalised"].mean().rename(f"{name}_mean"))
        matched.append(grouped["budget"].first().rename(f"{name}_budget"))
    return pd.concat(matched, axis=1).reset_index()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m scripts.scaling_study", description=__doc__.split("\n\n")[0],
                                epilog="Other options as for gome-benchmark; rerun the same command to resume.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("models_file", nargs="?", default=None, help="TOML or CSV listing name, spec and params per model")
    p.add_argument("--models", dest="models_opt", default=None, metavar="MODELS_FILE",
                   help="the models file (instead of the positional argument; needed with --analyse)")
    p.add_argument("--analyse", default=None, metavar="RESULTS.csv",
                   help="analyse a results table (the benchmark's results.csv columns) without running anything")
    p.add_argument("--focus", default="gome", help="the policy whose advantage is tested")
    p.add_argument("--rival", default="greedy", help="the policy it is compared with, named before the data are seen")
    p.add_argument("--primary", default="any_medal", choices=sorted(CURVES),
                   help="the figure that decides 'crossover'; the other figures are secondary (Holm-adjusted)")
    p.add_argument("--power-studies", type=int, default=1000,
                   help="simulated studies for the design's false-crossover and power check (0: skip it)")
    add_run_args(p, out="runs/scaling", default_preset="full")
    return p


def _report(results: list[CurveResult], notes: list[str], runs: pd.DataFrame, models: list[dict],
            args: argparse.Namespace, out: Path) -> list[Path]:
    paths = write_analysis(results, out)
    print("\n" + format_analysis(results, notes))
    if args.power_studies > 0:
        envs = Path(args.envs_dir) if args.envs_dir else None
        check = design_check(runs, models, args.primary, args.power_studies, envs)
        if check is not None:
            print("\ndesign check (python -m scripts.power):\n" + check.text())
    return paths


def analyse_file(args: argparse.Namespace, models: list[dict]) -> int:
    """``--analyse``: the analysis of a results table, into --out."""
    path = Path(args.analyse)
    if not path.exists():
        print(f"--analyse: {path} not found", file=sys.stderr)
        return 2
    runs = pd.read_csv(path)
    missing = [c for c in ("policy", "model", "task", "seed") if c not in runs.columns]
    if missing:
        print(f"--analyse: {path} lacks column(s) {', '.join(missing)} (the benchmark's results.csv has them)",
              file=sys.stderr)
        return 2
    runs = runs.reindex(columns=list(dict.fromkeys([*RUN_COLUMNS, *runs.columns])))  # a hand-made table's gaps: NaN
    unknown = sorted(set(runs["model"].astype(str)) - {m["spec"] for m in models})
    if unknown:
        print(f"note: model spec(s) not in the models file, left out: {', '.join(unknown)}")
    present = set(runs["policy"].astype(str))
    absent = [f"--{k} {v}" for k, v in (("focus", args.focus), ("rival", args.rival)) if v not in present]
    if absent:
        print(f"--analyse: {' and '.join(absent)}: no such policy in {path} (policies: {', '.join(sorted(present))})",
              file=sys.stderr)
        return 2
    results, notes = analyse(runs, models, None, args.focus, args.rival, args.primary)
    paths = _report(results, notes, runs, models, args, Path(args.out))
    print(f"\nwrote {', '.join(str(p) for p in paths)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    args = build_parser().parse_args(argv)
    models_file = args.models_opt or args.models_file
    if not models_file:
        raise SystemExit("give the models file (positional, or --models FILE)")
    models = load_models_file(models_file)
    if args.analyse:
        return analyse_file(args, models)
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    for flag, name in (("--focus", args.focus), ("--rival", args.rival)):
        if name not in policies:
            raise SystemExit(f"{flag} {name} is not among --policies {args.policies}: the analysis compares those two")
    specs = specs_from_args(args, models=[m["spec"] for m in models])
    if args.dry_run:
        return dry_run(specs, args.out)
    store = run_from_args(specs, args)
    runs, summary = write_tables(store, specs, count_unconfined=args.count_unconfined)
    lines = select_lines(store, specs)
    keys = {line["run_key"] for line in lines}
    steps = steps_table([s for s in store.steps() if s.get("run_key") in keys], lines)
    table = scaling_table(summary.merge(matched_table(steps), on=["policy", "model"], how="left"), models)
    table.to_csv(store.out / "scaling.csv", index=False)
    results, notes = analyse(runs, models, steps, args.focus, args.rival, args.primary)
    from scripts._plots import plot_scaling

    by_figure = {r.figure: r for r in results}
    png = plot_scaling(table, store.out / "scaling.png", by_figure, focus=args.focus)
    matched_png = plot_scaling(table, store.out / "scaling_matched.png", by_figure, focus=args.focus,
                               metrics=(("best_dev@steps", "best dev score, step-matched"),
                                        ("best_dev@tokens", "best dev score, token-matched")))
    print(spend_header(specs) + "\n")  # equal spend (the full preset's token budget) or step-matched
    print(format_summary(table, by=("policy", "name", "params")))
    paths = _report(results, notes, runs, models, args, store.out)
    print(f"\nwrote {store.out / 'scaling.csv'}, {', '.join(str(p) for p in paths)}, {png} and {matched_png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
