"""Measure each task's witnesses and write ``envs/<id>/witnesses.json``: the private test scores of
its ``default_solution.py`` and ``reference_gold.py``, run as the leaderboard build runs them (a
subprocess, one thread: ``scripts._solutions.run_solution``) on the pinned data.

    python -m scripts.write_witnesses                      # every task
    python -m scripts.write_witnesses --tasks digits,spam  # some

The benchmark's "vs default" score (0 = the default solution, 1 = gold) reads the file; it is used
only while its ``pins_sha256`` matches the task's pins (``gome_env.tasks.witnesses``), so rerun this
(or the board build, which writes the file from its own runs) after a board is rebuilt. Tasks whose data drifted
from their pins are refused.
"""

from __future__ import annotations

import argparse
import sys

from gome_env.tasks.task import load_spec, prepare, task_ids
from gome_env.tasks.witnesses import write_witnesses
from scripts._solutions import run_solution

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m scripts.write_witnesses", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--tasks", default="all", help="comma-separated task ids, or 'all'")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per solution run")
    return p


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    args = build_parser().parse_args(argv)
    ids = task_ids() if args.tasks == "all" else [t.strip() for t in args.tasks.split(",") if t.strip()]
    failed = 0
    bar = tqdm(ids, unit="task", file=sys.stderr)
    for task_id in bar:
        bar.set_description(task_id)
        spec = load_spec(task_id)
        task = prepare(spec, allow_drift=False)
        runs = {kind: run_solution(task, (spec.folder / f"{name}.py").read_text(), kind, timeout_s=args.timeout)
                for kind, name in (("default", "default_solution"), ("gold", "reference_gold"))}
        path = write_witnesses(spec, runs["default"].test_score, runs["gold"].test_score)
        bar.write(f"{task_id}: default {runs['default'].test_score} ({runs['default'].seconds} s), "
                  f"gold reference {runs['gold'].test_score} ({runs['gold'].seconds} s) -> {path}")
        for kind, run in runs.items():
            if run.test_score is None:
                failed += 1
                bar.write(f"  {kind} failed: {'; '.join(run.problems)[:300]} {run.stderr_tail[-300:]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
