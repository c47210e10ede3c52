"""``gome-tasks``: list the task suite and prepare its data.

Examples::

    gome-tasks list                   # id, env id, modality, metric, sizes, prepared?
    gome-tasks prepare all            # prepare every task (cached under $GOME_DATA_DIR)
    gome-tasks prepare spam digits --force

``prepare`` exits 1 when a prepared task differs from its pinned ``envs/<id>/data.sha256``.
"""

from __future__ import annotations

import argparse
import sys

from gome_env.tasks.task import data_root, list_tasks, load_spec, prepare, task_ids

__all__ = ["main", "format_table"]

COLUMNS = ("id", "env_id", "modality", "metric", "direction", "train", "dev", "test", "prepared")


def format_table(rows: list[dict], columns: tuple[str, ...] = COLUMNS) -> str:
    """A plain fixed-width table (no extra dependencies); missing values print as ``-``."""
    cells = [[("-" if row.get(c) is None else ("yes" if row[c] is True else "no" if row[c] is False else str(row[c]))) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)


def _cmd_list(args: argparse.Namespace) -> int:
    rows = list_tasks()
    if args.json:
        import json

        print(json.dumps(rows, indent=1))
    else:
        print(format_table(rows))
        print(f"\n{len(rows)} tasks; data directory: {data_root()} (set GOME_DATA_DIR to change it)")
    return 0


def _cmd_prepare(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    wanted = task_ids() if not args.tasks or args.tasks == ["all"] else args.tasks
    known = set(task_ids())
    unknown = [t for t in wanted if t not in known]
    if unknown:
        print(f"unknown task(s): {', '.join(unknown)}; valid tasks: {', '.join(sorted(known))}", file=sys.stderr)
        return 2
    bar = tqdm(wanted, unit="task", disable=args.quiet)
    drifted = []
    for task_id in bar:
        bar.set_description(task_id)
        prepared = prepare(load_spec(task_id), force=args.force, verify_files=args.verify)
        if not args.quiet:
            bar.write(f"{task_id}: {prepared.sizes()} -> {prepared.root}")
        problems = prepared.pin_mismatches()
        if problems:
            drifted.append(task_id)
            print(f"{task_id}: prepared data differ from {prepared.spec.pins_path}:", *problems, sep="\n  ", file=sys.stderr)
    if drifted:
        print(f"data drift in {', '.join(drifted)}: their leaderboards were graded on other files", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gome-tasks",
        description="List the MLE task suite and prepare its data (offline: every dataset ships inside an installed package).",
        epilog="examples:" + __doc__.split("Examples::")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p_list = sub.add_parser("list", help="list tasks with modality, metric, sizes and whether they are prepared")
    p_list.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p_list.set_defaults(func=_cmd_list)
    p_prep = sub.add_parser("prepare", help="prepare task data into $GOME_DATA_DIR (cached; re-done when the source changes)")
    p_prep.add_argument("tasks", nargs="*", metavar="TASK", help="task ids, or 'all' (the default)")
    p_prep.add_argument("--force", action="store_true", help="prepare again even if the cache is up to date")
    p_prep.add_argument("--verify", action="store_true", help="check every cached file's sha256, not only its presence")
    p_prep.add_argument("-q", "--quiet", action="store_true", help="no progress bar or per-task lines")
    p_prep.set_defaults(func=_cmd_prepare)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
