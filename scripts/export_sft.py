"""Export benchmark trajectories as a chat-format SFT dataset (rejection sampling on the dev score).

    python scripts/export_sft.py runs/benchmark                 # -> runs/benchmark/sft/
    python scripts/export_sft.py runs/a runs/b --out sft --all-ok
    python scripts/export_sft.py runs/benchmark --tool-calls    # also the tool-call form of every run

Reads each RUNS_DIR's ``runs.jsonl`` and ``steps.jsonl`` (the benchmark's output; only the latest
attempt of each run counts, as in its tables) and keeps the steps whose node **improved the dev
score over its parent node** (status ``ok`` and strictly better in the metric's direction; the
root's score is the run's baseline dev score); ``--all-ok`` keeps every ``ok`` step instead. Each
kept step becomes one conversation: the step's prompt (the messages the model saw) and the answer
it gave. Writes, under ``--out`` (default ``RUNS_DIR/sft``):

- ``sft.jsonl``: one ``{"messages": [...]}`` per line, loadable as is with
  ``datasets.load_dataset("json", data_files="sft.jsonl")`` and ``trl.SFTTrainer``;
- ``dataset/``: the same as a ``datasets.Dataset`` (``save_to_disk``; needs ``datasets``);
- ``steps.csv``: where each conversation came from (run, task, policy, model, seed, node, parent,
  dev score, parent's dev score);
- with ``--tool-calls``, ``tool_calls.jsonl``: each finished run (latest attempt) as the
  conversation ``GomeEnvironment`` would have had (``gome_env.rl.toolcalls.trajectory_messages``):
  the system turn, the reset prompt, then per step a ``checkout`` (when it branches) and an
  ``apply_patch`` of its diff with the environment's reply (rebuilt from the record: nothing
  re-runs), then ``submit`` of the run's chosen node; one ``{"messages", "tools", "run_key",
  "task", "policy", "model", "seed", "steps"}`` per line (``tools``: the JSON schemas the chat
  template lists; tool calls in the OpenAI/transformers form, arguments as objects), plus
  ``tree`` (the run's recorded search tree, ``record["tree"]``, as JSON) when the run has one.
  Every run, not only improving steps: a trainer that wants rejection sampling filters on the
  replies. And ``tool_rows.jsonl``: rows for ``GRPOTrainer(environment_factory=GomeEnvironment)``
  that start from each ``ok`` node of each run's tree (``prompt``, ``task``, ``seed``,
  ``node_id``, ``tree``, ``run_key``; ``gome_env.rl.trees.tree_rows``), each checked first: a
  node that is not in its tree, or a tree whose diffs no longer replay, stops the export with the
  run named.

Only dev scores are used to select steps: test scores never enter the data.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any, Iterable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gome_env.grading.direction import Direction  # noqa: E402
from scripts._runs import read_jsonl  # noqa: E402

META = ("run_key", "task", "policy", "model", "seed", "node_id", "parent_id", "dev_score", "parent_dev_score")


def _latest_attempts(runs: Iterable[dict]) -> dict[str, dict]:
    latest: dict[str, dict] = {}
    for line in runs:
        latest[line.get("run_key")] = line
    return {key: line for key, line in latest.items() if line.get("status") == "ok"}


def _baseline(run: dict) -> float | None:
    record = run.get("record") or {}
    final = run.get("final") or record.get("final") or {}
    return final.get("baseline_dev_score")


def _direction(step: dict) -> Direction:
    d = step.get("diagnostics") or {}
    if "higher_is_better" in d:
        return Direction(bool(d["higher_is_better"]))
    from gome_env.tasks.task import load_spec

    return load_spec(step["task"]).metric.direction


def select_steps(runs_dir: Path, all_ok: bool = False) -> list[dict]:
    """The kept steps of one benchmark folder, each with its run labels and its parent's score."""
    runs = _latest_attempts(read_jsonl(runs_dir / "runs.jsonl"))
    by_run: dict[str, list[dict]] = {}
    for step in read_jsonl(runs_dir / "steps.jsonl"):
        run = runs.get(step.get("run_key"))
        if run is not None and step.get("attempt") == run.get("attempt"):
            by_run.setdefault(step["run_key"], []).append(step)
    kept = []
    for key, steps in by_run.items():
        scores = {0: _baseline(runs[key])}
        scores.update({s["node_id"]: s.get("dev_score") if s.get("status") == "ok" else None for s in steps})
        for step in steps:
            if step.get("status") != "ok" or not step.get("prompt") or not step.get("answer"):
                continue
            parent = scores.get(step.get("parent_id"))
            if all_ok or _direction(step).better(step.get("dev_score"), parent):
                kept.append({**step, "parent_dev_score": parent})
    return kept


def conversation(step: dict) -> dict[str, Any]:
    """One SFT example: the prompt's messages and the answer as the assistant's turn."""
    prompt = step["prompt"]
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else [dict(m) for m in prompt]
    return {"messages": [*messages, {"role": "assistant", "content": step["answer"]}]}


def run_steps(runs_dir: Path) -> list[tuple[dict, list[dict]]]:
    """Each finished run (latest attempt) of one benchmark folder with its steps in order."""
    runs = _latest_attempts(read_jsonl(runs_dir / "runs.jsonl"))
    by_run: dict[str, list[dict]] = {key: [] for key in runs}
    for step in read_jsonl(runs_dir / "steps.jsonl"):
        run = runs.get(step.get("run_key"))
        if run is not None and step.get("attempt") == run.get("attempt") and step.get("diff"):
            by_run[step["run_key"]].append(step)
    return [(runs[key], sorted(steps, key=lambda s: s.get("step", s["node_id"]))) for key, steps in by_run.items() if steps]


def tool_conversations(runs_dirs: Iterable[Path]) -> list[dict[str, Any]]:
    """The tool-call form of every finished run (``tool_calls.jsonl``'s lines), with the run's
    tree (JSON) when its record holds one."""
    from gome_env.rl import GomeEnvironment
    from gome_env.rl.toolcalls import tool_schemas, trajectory_messages
    from gome_env.rl.trees import tree_json
    from gome_env.rl.warmup import stop

    env = GomeEnvironment()
    out = []
    try:
        for runs_dir in runs_dirs:
            for run, steps in run_steps(runs_dir):
                first = steps[0]
                final = (run.get("record") or {}).get("final") or run.get("final") or {}
                messages = trajectory_messages(env, first["task"], steps, seed=int(first.get("seed") or 0),
                                               baseline_dev_score=_baseline(run), submitted=final.get("node_id"),
                                               detail=GomeEnvironment.env_kwargs.get("diagnostics", "standard"))
                line = {"messages": messages, "tools": tool_schemas(env), "run_key": run.get("run_key"),
                        "task": first["task"], "policy": first.get("policy"), "model": first.get("model"),
                        "seed": first.get("seed"), "steps": len(steps)}
                tree = (run.get("record") or {}).get("tree")
                if tree:
                    line["tree"] = tree_json(tree)
                out.append(line)
    finally:
        stop(env)
    return out


def tool_rows(conversations: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``tool_rows.jsonl``'s lines: per run with a tree, a row starting from each ``ok`` node of
    it, checked (``gome_env.rl.trees.tree_rows``); a bad tree is a ``ValueError`` naming the run."""
    from gome_env.rl.trees import tree_rows

    rows = []
    for line in conversations:
        if "tree" not in line:
            continue
        try:
            made = tree_rows(line["task"], line["tree"], seed=int(line.get("seed") or 0))
        except ValueError as exc:
            raise ValueError(f"run {line.get('run_key')}: {exc}") from None
        rows += [{**row, "run_key": line.get("run_key")} for row in made]
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n", 2)[2])
    p.add_argument("runs_dirs", nargs="+", type=Path, metavar="RUNS_DIR", help="benchmark output folders")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: RUNS_DIR/sft of the first folder)")
    p.add_argument("--all-ok", action="store_true", help="keep every ok step, not only those that improved on their parent")
    p.add_argument("--tool-calls", action="store_true",
                   help="also write tool_calls.jsonl: every finished run as GomeEnvironment's tool conversation")
    args = p.parse_args(argv)
    out = args.out or args.runs_dirs[0] / "sft"
    steps = [s for d in args.runs_dirs for s in select_steps(d, args.all_ok)]
    out.mkdir(parents=True, exist_ok=True)
    examples = [conversation(s) for s in steps]
    with open(out / "sft.jsonl", "w", encoding="utf-8") as handle:
        for example in examples:
            handle.write(json.dumps(example) + "\n")
    with open(out / "steps.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(META)
        for s in steps:
            writer.writerow([s.get(k) for k in META])
    saved = ""
    if examples:
        try:
            from datasets import Dataset
        except ImportError:
            saved = " (datasets is not installed: no dataset/)"
        else:
            Dataset.from_list(examples).save_to_disk(str(out / "dataset"))
            saved = " and dataset/"
    print(f"{len(examples)} conversation(s) from {len(args.runs_dirs)} folder(s) -> {out / 'sft.jsonl'}{saved}")
    if args.tool_calls:
        conversations = tool_conversations(args.runs_dirs)
        with open(out / "tool_calls.jsonl", "w", encoding="utf-8") as handle:
            for line in conversations:
                handle.write(json.dumps(line) + "\n")
        print(f"{len(conversations)} tool-call conversation(s) -> {out / 'tool_calls.jsonl'}")
        rows = tool_rows(conversations)
        with open(out / "tool_rows.jsonl", "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row) + "\n")
        print(f"{len(rows)} environment_factory row(s), each from a node of its run's tree -> {out / 'tool_rows.jsonl'}")


if __name__ == "__main__":
    main()
