"""How many tasks and seeds a scaling study needs: simulate its pre-declared crossover analysis.

    python -m scripts.power --tasks all --seeds 10 --effect=-15,15          # or: gome-power ...
    python -m scripts.power --tasks smoke --seeds 3 --runs runs/scaling      # noise measured from runs

Prints the false-crossover rate (the share of simulated studies with no policy difference at any
size in which the primary analysis reports a crossover) and the power (the share in which it
reports the planted one). The noise comes from the suite: each board's test-score spread
(envs/*/leaderboard.csv) and, with --runs, the seed-to-seed spread and failure rate of existing
runs (a benchmark or scaling-study output folder, or its results.csv). See docs/STATISTICS.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd

from scripts._power import DEFAULT_EFFECT, Design, Effect, Noise, check_design, load_boards, noise_from_runs

__all__ = ["build_parser", "design_from_args", "main"]

DEFAULT_MODELS = Path(__file__).with_name("models.example.toml")


def _pair(text: str) -> tuple[float, float]:
    parts = [p for p in text.split(",") if p.strip()]
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"give START,END (points at the smallest and the largest size), got {text!r}")
    return float(parts[0]), float(parts[1])


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gome-power", description=__doc__.split("\n\n")[0],
                                epilog="Defaults are the scaling study's default design (--tasks smoke, 1 seed, the "
                                       "models of scripts/models.example.toml).",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--tasks", default="smoke",
                   help="a number of tasks (drawn from the suite's boards in each simulated study), or task ids "
                        "and suites as for gome-benchmark (smoke, all, a modality, or ids)")
    p.add_argument("--seeds", type=int, default=1, help="seeds per (policy, model, task)")
    p.add_argument("--models", default=str(DEFAULT_MODELS), help="a scaling-study models file (its sizes are used)")
    p.add_argument("--sizes", default=None, help="model sizes instead of --models, e.g. 135M,0.5B,1.5B,7B,32B")
    p.add_argument("--effect", type=_pair, default=(DEFAULT_EFFECT.start, DEFAULT_EFFECT.end), metavar="START,END",
                   help="the planted advantage of the focus policy at the smallest and the largest size, in points "
                        "of the figure (any-medal: percentage points); write --effect=-15,15")
    p.add_argument("--effect-spread", type=float, default=DEFAULT_EFFECT.spread,
                   help="per-task scatter (sd) of the planted ends, points")
    p.add_argument("--figure", choices=("any_medal", "percentile"), default="any_medal", help="the primary figure")
    p.add_argument("--runs", default=None, help="existing runs (an output folder or results.csv) to measure seed noise")
    p.add_argument("--seed-sd", type=float, default=None,
                   help="seed-to-seed sd in units of the board's spread (None: measured with --runs, else 1)")
    p.add_argument("--shared-sd", type=float, default=0.0,
                   help="sd of an offset each (policy, task, model size) shares across its seeds, in the units of "
                        "--seed-sd: a task's own effect on one policy at one size; more seeds do not average it away")
    p.add_argument("--fail-rate", type=float, default=None,
                   help="share of runs that fail (None: measured with --runs, else 0)")
    p.add_argument("--studies", type=int, default=2000, help="simulated studies per rate")
    p.add_argument("--seed", type=int, default=0, help="random seed of the simulation")
    p.add_argument("--envs-dir", default=None, help=argparse.SUPPRESS)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    return p


def _sizes(args: argparse.Namespace) -> tuple[float, ...]:
    from scripts.scaling_study import load_models_file, parse_params

    if args.sizes:
        return tuple(parse_params(s) for s in args.sizes.split(",") if s.strip())
    return tuple(m["params"] for m in load_models_file(args.models))


def design_from_args(args: argparse.Namespace) -> Design:
    sizes = _sizes(args)
    if args.seeds < 1:
        raise SystemExit("--seeds must be >= 1")
    text = str(args.tasks).strip()
    if text.isdigit():
        return Design(int(text), args.seeds, sizes)
    from scripts._runs import resolve_tasks

    try:
        ids = resolve_tasks(text, Path(args.envs_dir) if args.envs_dir else None)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    return Design(len(ids), args.seeds, sizes, tuple(ids))


def _noise(args: argparse.Namespace, boards) -> Noise:
    noise = Noise()
    if args.runs:
        path = Path(args.runs)
        path = path / "results.csv" if path.is_dir() else path
        if not path.exists():
            raise SystemExit(f"--runs: {path} not found (give a benchmark output folder or its results.csv)")
        noise = noise_from_runs(pd.read_csv(path), boards)
    if args.seed_sd is not None or args.fail_rate is not None:
        noise = Noise(noise.seed_sd if args.seed_sd is None else args.seed_sd,
                      noise.fail_rate if args.fail_rate is None else args.fail_rate, "set on the command line")
    return replace(noise, shared_sd=args.shared_sd)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    design = design_from_args(args)
    boards = load_boards(Path(args.envs_dir) if args.envs_dir else None)
    check = check_design(design, Effect(*args.effect, args.effect_spread), _noise(args, boards), boards,
                         args.studies, args.seed, args.figure)
    print(json.dumps(check.to_dict(), indent=2) if args.json else check.text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
