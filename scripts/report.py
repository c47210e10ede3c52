"""Tables and plots from a benchmark output folder.

    python -m scripts.report runs/benchmark                 # -> runs/benchmark/report/
    python -m scripts.report runs/benchmark --tree gome-smollm2-spam-s0   # one episode's tree

Writes into ``<out>/report`` (or ``--dest``):
  summary.csv           the figures per policy x model (mean ± SE over tasks, complete seeds; confined runs
                        only unless --count-unconfined)
  results.csv           one row per run
  pairs.csv             paired comparisons between policies (task-clustered intervals)
  statuses.csv          step statuses by policy (plus failed runs)
  medal_rates.png       the figures as grouped bars
  best_vs_steps.png     best dev score so far (0 = baseline, 1 = gold) against steps, per policy
  best_vs_tokens.png    the same against tokens used
  failure_statuses.png  share of step statuses by policy
  trees/compare-<model>-<task>-s<seed>.png   the search trees of every policy on one task and seed,
                        side by side (nodes coloured by status, dev score under the id, the path
                        from the root to the submitted node in blue)
  trees/<run_id>.png    single trees asked for with --tree
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pandas as pd

from scripts._aggregate import (format_left_out, format_pairs, format_summary, paired_table, run_table,
                                split_unconfined, steps_table, summary_table)
from scripts._runs import RunStore

__all__ = ["make_report", "main"]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-")[:90]


def _tree_panel(line: dict) -> tuple[str, dict, int | None] | None:
    record = line.get("record") or {}
    tree = record.get("tree")
    if not tree:
        return None
    final = record.get("final") or {}
    score = final.get("test_score")
    medal = final.get("medal") if final.get("medal") not in (None, "none") else "no medal"
    title = (f"{line['policy']} | {line['model']} | {line['task']} s{line['seed']}\n"
             f"{len(tree.get('nodes', []))} nodes, submitted node {final.get('node_id')}\n"
             f"test {score if score is not None else '-'} ({medal})")
    return title, tree, final.get("node_id")


def make_report(out: str | Path, dest: str | Path | None = None, trees: str = "compare", max_compare: int = 6,
                incomplete: str = "drop", count_unconfined: bool = False) -> dict:
    """Write the report of an output folder; return ``{"summary", "runs", "pairs", "left_out": DataFrame,
    "files": [paths]}``. ``incomplete``: what to do with seeds lacking a task ("drop" or "pad");
    unconfined runs are left out of the summary and the pairs unless ``count_unconfined``."""
    from scripts import _plots

    store = RunStore(out)
    dest = Path(dest) if dest else store.out / "report"
    dest.mkdir(parents=True, exist_ok=True)
    lines = list(store.latest_runs().values())
    step_lines = store.steps()
    runs = run_table(lines, step_lines)
    counted, left_out = split_unconfined(runs, count_unconfined)
    summary = summary_table(counted, incomplete=incomplete)
    pairs = paired_table(counted, incomplete=incomplete)
    steps = steps_table(step_lines, lines)
    files: list[Path] = []
    runs.to_csv(dest / "results.csv", index=False)
    summary.to_csv(dest / "summary.csv", index=False)
    pairs.to_csv(dest / "pairs.csv", index=False)
    statuses = steps.groupby(["policy", "status"]).size().unstack(fill_value=0) if not steps.empty else pd.DataFrame()
    statuses.to_csv(dest / "statuses.csv")
    files += [dest / "results.csv", dest / "summary.csv", dest / "pairs.csv", dest / "statuses.csv"]
    files.append(_plots.plot_medal_rates(summary, dest / "medal_rates.png"))
    files.append(_plots.plot_best_vs(steps, dest / "best_vs_steps.png", x="step"))
    files.append(_plots.plot_best_vs(steps, dest / "best_vs_tokens.png", x="cumulative_tokens"))
    files.append(_plots.plot_failure_statuses(steps, runs, dest / "failure_statuses.png"))

    tree_dir = dest / "trees"
    if trees == "compare":
        groups: dict[tuple, list[dict]] = {}
        for line in lines:
            groups.setdefault((line["model"], line["task"], line["seed"]), []).append(line)
        for (model, task, seed), members in sorted(groups.items(), key=lambda kv: str(kv[0]))[:max_compare]:
            panels = [p for p in (_tree_panel(m) for m in sorted(members, key=lambda m: m["policy"])) if p]
            if panels:
                files.append(_plots.plot_trees(panels, tree_dir / f"compare-{_slug(model)}-{_slug(task)}-s{seed}.png"))
    elif trees != "none":
        chosen = lines if trees == "all" else [l for l in lines if trees in l["run_id"] or trees in l["run_key"]]
        if not chosen:
            raise SystemExit(f"no run matches --tree {trees!r}; run ids: {', '.join(l['run_id'] for l in lines)}")
        for line in chosen:
            panel = _tree_panel(line)
            if panel:
                files.append(_plots.plot_tree(panel[1], tree_dir / f"{line['run_id']}.png", panel[2], panel[0]))
    return {"summary": summary, "runs": runs, "pairs": pairs, "left_out": left_out, "files": files}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m scripts.report", description=__doc__.split("\n\n")[0],
                                epilog="See the module docstring for the files written.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("out", help="a benchmark output folder (holding runs.jsonl and steps.jsonl)")
    p.add_argument("--dest", default=None, help="where to write the report (default: OUT/report)")
    p.add_argument("--tree", default="compare", metavar="compare|all|none|RUN",
                   help="search-tree pictures: side-by-side per (model, task, seed), every run, none, "
                        "or the runs whose id or key contains RUN")
    p.add_argument("--max-compare", type=int, default=6, help="at most this many side-by-side tree figures")
    p.add_argument("--incomplete", choices=("drop", "pad"), default="drop",
                   help="seeds without a run on every task: leave them out, or count each missing run as failed")
    p.add_argument("--count-unconfined", action="store_true",
                   help="count runs whose code could read the private answers in the summary and the pairs "
                        "(by default they are left out, and the printout says how many)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not (Path(args.out) / "runs.jsonl").exists():
        print(f"{args.out}: no runs.jsonl here; run the benchmark first", file=sys.stderr)
        return 2
    result = make_report(args.out, args.dest, args.tree, args.max_compare, args.incomplete, args.count_unconfined)
    print(format_summary(result["summary"]))
    if len(result["left_out"]):
        print(format_left_out(result["left_out"]))
    print("\n" + format_pairs(result["pairs"]))
    print("\nwrote:")
    for path in result["files"]:
        print(f"  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
