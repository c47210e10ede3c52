"""Model-scaling study: GOME against tree search across model sizes; a crossover only where the data show one.

    python -m scripts.scaling_study scripts/models.example.toml --tasks smoke --seeds 3 --steps 20 \\
        --ray auto --out runs/scaling

The models file lists ``name``, ``spec`` (a backend spec as in --models) and ``params`` (the
parameter count) per model, as TOML (``[[models]]`` tables) or CSV (header ``name,spec,params``).
Every model runs every policy (default ``gome,greedy``) on every task and seed through the
benchmark (same store, same resume). Models of the same size stay separate points.

For each curve, the focus policy's advantage over the best other policy is bootstrapped over
(task, seed) runs per model; a crossover between adjacent sizes is reported only where the
advantage changes sign and both 95% intervals exclude zero (see scripts/_crossover.py), else
"no crossover detected" with the intervals. Curves, matched by steps and by tokens:

  any_medal, percentile        the final submission (the budget is in steps: step-matched)
  best_dev@steps               best normalised dev score after the same number of steps
  best_dev@tokens              best normalised dev score after the same number of tokens

Written into --out, besides the benchmark's files:

  scaling.csv     one row per policy x model: name, spec, params, the summary's figures (mean ±
                  SEM over complete seeds) and the step- and token-matched best dev scores
  crossovers.csv  one row per curve x model: the advantage, its interval and any crossover
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

from scripts._aggregate import complete_seeds, format_summary, steps_table
from scripts._bench import select_lines, write_tables
from scripts._crossover import CrossoverResult, crossover_study, matched_runs
from scripts.benchmark import add_run_args, dry_run, run_from_args, specs_from_args

__all__ = ["load_models_file", "scaling_table", "scaling_curves", "main"]


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
                       "params": _params(row["params"])})
    if not models:
        raise SystemExit(f"{path}: no models listed")
    specs = [m["spec"] for m in models]
    if len(set(specs)) != len(specs):
        raise SystemExit(f"{path}: a spec is listed twice")
    return models


def _params(value) -> float:
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


CURVES = (("any_medal", "any_medal"), ("percentile", "percentile"))


def scaling_curves(runs: pd.DataFrame, steps: pd.DataFrame, models: list[dict],
                   focus: str = "gome") -> tuple[dict[str, CrossoverResult], pd.DataFrame]:
    """Crossover results per curve (final figures over complete seeds, and best dev score matched
    by steps and by tokens; failed runs have no steps, so the matched curves leave them out) and
    the matched scores per policy x model (``best_dev@steps_mean`` etc.)."""
    complete, _ = complete_seeds(runs)
    results = {name: crossover_study(complete, models, col, focus, name) for name, col in CURVES}
    matched = []
    for budget in ("steps", "tokens"):
        name = f"best_dev@{budget}"
        per_run = matched_runs(steps, budget) if not steps.empty else pd.DataFrame(
            columns=["policy", "model", "task", "seed", "budget", "best_normalised"])
        results[name] = crossover_study(per_run, models, "best_normalised", focus, name)
        grouped = per_run.groupby(["policy", "model"])
        matched.append(grouped["best_normalised"].mean().rename(f"{name}_mean"))
        matched.append(grouped["budget"].first().rename(f"{name}_budget"))
    table = pd.concat(matched, axis=1).reset_index() if matched else pd.DataFrame(columns=["policy", "model"])
    return results, table


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m scripts.scaling_study", description=__doc__.split("\n\n")[0],
                                epilog="Other options as for gome-benchmark; rerun the same command to resume.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("models_file", help="TOML or CSV listing name, spec and params per model")
    p.add_argument("--focus", default="gome", help="the policy whose crossover with the best other policy is marked")
    add_run_args(p, out="runs/scaling", default_preset="full")
    return p


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    args = build_parser().parse_args(argv)
    models = load_models_file(args.models_file)
    specs = specs_from_args(args, models=[m["spec"] for m in models])
    if args.dry_run:
        return dry_run(specs, args.out)
    store = run_from_args(specs, args)
    runs, summary = write_tables(store, specs, count_unconfined=args.count_unconfined)
    lines = select_lines(store, specs)
    keys = {line["run_key"] for line in lines}
    steps = steps_table([s for s in store.steps() if s.get("run_key") in keys], lines)
    results, matched = scaling_curves(runs, steps, models, focus=args.focus)
    table = scaling_table(summary.merge(matched, on=["policy", "model"], how="left"), models)
    table.to_csv(store.out / "scaling.csv", index=False)
    pd.DataFrame([{"curve": name, **p.to_dict(), "crossovers": "; ".join(
        f"{c.lower}->{c.upper}@{c.at_params:.3g}" for c in r.crossovers)} for name, r in results.items()
        for p in r.points]).to_csv(store.out / "crossovers.csv", index=False)
    from scripts._plots import plot_scaling

    png = plot_scaling(table, store.out / "scaling.png", results, focus=args.focus)
    matched_png = plot_scaling(table, store.out / "scaling_matched.png", results, focus=args.focus,
                               metrics=(("best_dev@steps", "best dev score, step-matched"),
                                        ("best_dev@tokens", "best dev score, token-matched")))
    print(format_summary(table, by=("policy", "name", "params")))
    for result in results.values():
        print("\n" + result.text())
    print(f"\nwrote {store.out / 'scaling.csv'}, {store.out / 'crossovers.csv'}, {png} and {matched_png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
