"""Model-scaling study: GOME against tree search across model sizes, with the crossover marked.

    python -m scripts.scaling_study scripts/models.example.toml --tasks smoke --seeds 3 --steps 20 \\
        --ray auto --out runs/scaling

The models file lists ``name``, ``spec`` (a backend spec as in --models) and ``params`` (the
parameter count) per model, as TOML (``[[models]]`` tables) or CSV (header ``name,spec,params``).
Every model runs every policy (default ``gome,greedy``) on every task and seed through the
benchmark (same store, same resume). Written into --out, besides the benchmark's files:

  scaling.csv   one row per policy x model: name, spec, params and the MLE-bench figures
                (mean ± SEM over seeds), plus the mean normalised score
  scaling.png   any-medal rate and mean normalised score against model size (log scale), one line
                per policy, with the sizes where GOME crosses the best tree-search policy marked
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tomllib
from pathlib import Path

import pandas as pd

from scripts._aggregate import format_summary
from scripts._bench import write_tables
from scripts.benchmark import add_run_args, dry_run, run_from_args, specs_from_args

__all__ = ["load_models_file", "scaling_table", "main"]


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
    _, summary = write_tables(store, specs)
    table = scaling_table(summary, models)
    table.to_csv(store.out / "scaling.csv", index=False)
    from scripts._plots import plot_scaling

    png, crossings = plot_scaling(table, store.out / "scaling.png", focus=args.focus)
    print(format_summary(table, by=("policy", "name", "params")))
    print("\ncrossovers (model size where", args.focus, "crosses the best other policy):",
          json.dumps({k: [f"{v:.3g}" for v in vs] for k, vs in crossings.items()}))
    print(f"\nwrote {store.out / 'scaling.csv'} and {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
