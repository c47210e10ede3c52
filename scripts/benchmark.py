"""Benchmark policies x models x tasks x seeds under a budget; resumable; prints MLE-bench's figures.

With no arguments it runs the embedded default: GOME and greedy tree search with the bundled CPU
model (smollm2) on the two quickest tasks, a few steps each::

    gome-benchmark                       # or: python -m scripts.benchmark
    gome-benchmark --policies gome,greedy,mcts --tasks all --models vllm:/models/qwen --seeds 3 \\
        --steps 20 --ray auto --out runs/full
    gome-benchmark ... --models vllm:/models/qwen --serve --ray auto   # one served model for all runs

Rerunning a command resumes it: finished runs are skipped, failed runs are retried and an
interrupted run restarts from step 0 (see scripts/_runs.py for the store's layout).

Before any run every task is prepared and checked against its pinned data (``envs/<id>/data.sha256``):
drift stops the benchmark (``--allow-drift`` runs it anyway and records the drift). Runs whose code
could read the private answers (the subprocess sandbox, where it cannot run solutions as another
user) are left out of the printed and saved figures unless ``--count-unconfined``; the printout says
how many. Every run line records the pins' hash, the drift, the default solution's test score (for the
"vs default" score: 0 = default solution, 1 = gold) and the confinement.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from gome_env.tasks.task import DataDriftError
from scripts._aggregate import (format_left_out, format_pairs, format_spend, format_summary, paired_table,
                                split_unconfined)
from scripts._bench import DEFAULT_RETRIES, run_benchmark, write_tables
from scripts._runs import SUITES, check_pins, make_specs, resolve_tasks
from scripts._serve import add_serve_args, serve_config

DEFAULT_POLICIES = "gome,greedy"
DEFAULT_MODELS = "smollm2"
DEFAULT_TASKS = "smoke"
# --preset: budgets and policy settings that --steps / --time-budget / --token-budget / --set
# override, defined once in policies/presets.py (make_policy(..., preset=...) applies the same):
# "smoke" (the default) keeps the embedded default short on 2 CPU cores with the bundled model;
# "full" is equal spend (the same token budget for every policy, every policy setting at its own
# default, a step cap only as a safety net); "full-steps" is step-matched (AIDE's 20 steps).
from policies.presets import PRESETS, spend_label  # noqa: E402  (one definition for make_policy and the benchmark)

ENVS_DIR_VAR = "GOME_ENVS_DIR"


def _value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_settings(items: list[str]) -> dict[str, dict]:
    """``KEY=VALUE`` (every policy) or ``POLICY.KEY=VALUE``; values are JSON where they parse."""
    config: dict[str, dict] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"--set takes KEY=VALUE or POLICY.KEY=VALUE, got {item!r}")
        policy, dot, name = key.rpartition(".")
        config.setdefault(policy if dot else "*", {})[name] = _value(value)
    return config


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gome-benchmark",
        description=__doc__.split("\n\n")[0],
        epilog="Outputs in --out: runs.jsonl, steps.jsonl (append-only), results.csv/.parquet (per run), "
               "summary.csv/.parquet (per policy x model, complete seeds only, confined runs only unless "
               "--count-unconfined), pairs.csv (paired comparisons between policies, the same runs). Rerun the "
               "same command to resume.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--models", default=DEFAULT_MODELS,
                   help="comma-separated model specs: smollm2, hf:PATH, vllm:PATH, openai:URL#MODEL, llamacpp:FILE, scripted")
    add_run_args(p, out="runs/benchmark")
    return p


def add_run_args(p: argparse.ArgumentParser, out: str, default_preset: str = "smoke") -> None:
    """The options the benchmark and the scaling study share (all but --models)."""
    p.add_argument("--policies", default=DEFAULT_POLICIES,
                   help="comma-separated policy names (gome, greedy, mcts, evolutionary, replay) or "
                        "package.module:factory for a custom policy")
    p.add_argument("--tasks", default=DEFAULT_TASKS,
                   help=f"comma-separated task ids and suites ({', '.join(SUITES)}, tabular, image, text, "
                        "time-series); 'smoke' is the two quickest tasks")
    p.add_argument("--seeds", type=int, default=1, help="how many seeds per (policy, model, task); seeds 0..N-1")
    p.add_argument("--first-seed", type=int, default=0, help="the first seed")
    p.add_argument("--preset", choices=sorted(PRESETS), default=default_preset,
                   help="budget and policy settings: 'smoke' = 3 steps, 60 s per run, short answers and prompts "
                        f"(the CPU default); 'full' = equal spend: {PRESETS['full']['token_budget']:,} model tokens "
                        f"per run for every policy, every policy's own settings, a {PRESETS['full']['steps']}-step "
                        "cap as a safety net; 'full-steps' = step-matched: 20 steps, every policy's own settings")
    p.add_argument("--steps", type=int, default=None, help="environment steps per run (None: the preset's)")
    p.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                   help="wall-clock budget per run (None: the preset's; 0: no limit)")
    p.add_argument("--token-budget", type=int, default=None, metavar="TOKENS",
                   help="model tokens (prompt + completion of every call) per run; None: the preset's; 0: none "
                        "(step-matched). A run ends within one call of it")
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="[POLICY.]KEY=VALUE",
                   help="policy setting (JSON value), for every policy or one: --set max_tokens=256 "
                        "--set gome.num_traces=2; part of the run key")
    p.add_argument("--sandbox", default=None, help="environment sandbox (auto, subprocess, bwrap); default: the env's")
    p.add_argument("--step-timeout", type=float, default=None, metavar="SECONDS", help="per-step execution timeout")
    p.add_argument("--workers", type=int, default=1,
                   help="runs at once: 1 runs in this process; N>1 uses N local worker processes (or, with "
                        "--ray local, N Ray CPUs)")
    p.add_argument("--ray", default=None, metavar="auto|local|ADDRESS",
                   help="run each run as a Ray task: 'auto' joins the cluster in RAY_ADDRESS or running here "
                        "(else starts one), 'local' starts a private one, or give a cluster address")
    p.add_argument("--gpus-per-run", type=float, default=None,
                   help="Ray: GPUs per run (default: 1 for vllm: specs on a cluster with GPUs, else 0)")
    p.add_argument("--cpus-per-run", type=float, default=1.0, help="Ray: CPUs per run")
    add_serve_args(p)
    p.add_argument("--out", default=out, help="output folder (created; reused to resume)")
    p.add_argument("--no-retry-failed", action="store_true", help="keep failed runs as they are instead of retrying them")
    p.add_argument("--retries", type=int, default=DEFAULT_RETRIES, metavar="N",
                   help="times a run whose worker process or Ray node was lost is retried within this command "
                        "(each attempt recorded; only the finishing attempt's steps count); a run that fails for "
                        "its own reasons is not retried here")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--dry-run", action="store_true", help="list the runs (and which are done) and exit")
    p.add_argument("--allow-drift", action="store_true",
                   help="run tasks whose prepared data differ from their pins (envs/<id>/data.sha256) against the "
                        "stale board, instead of stopping; the drift is recorded per run (part of the run key)")
    p.add_argument("--count-unconfined", action="store_true",
                   help="count runs whose code could read the private answers (subprocess sandbox not running it "
                        "as another user) in the figures; by default they are left out, and the printout says how many")
    p.add_argument("--envs-dir", default=os.environ.get(ENVS_DIR_VAR), help=argparse.SUPPRESS)


def preset_config(preset: str, policies: list[str]) -> dict[str, dict]:
    """The preset's settings per policy, keeping only the options each policy has (custom
    ``module:factory`` policies and ``replay`` get none)."""
    try:
        from policies import POLICIES
    except ImportError:  # pragma: no cover - the policies package is part of this project
        POLICIES = {}
    import dataclasses

    base = PRESETS[preset]["config"]
    out: dict[str, dict] = {}
    for name in policies:
        cls = POLICIES.get(name)
        if cls is None or not dataclasses.is_dataclass(getattr(cls, "Config", None)):
            continue
        fields = {f.name for f in dataclasses.fields(cls.Config)}
        merged = {**base.get("*", {}), **base.get(name, {})}
        out[name] = {k: v for k, v in merged.items() if k in fields}
    return out


def specs_from_args(args: argparse.Namespace, models: list[str] | None = None) -> list:
    preset = PRESETS[args.preset]
    steps = args.steps if args.steps is not None else preset["steps"]
    time_budget = preset["time_budget"] if args.time_budget is None else (args.time_budget or None)
    token_budget = preset["token_budget"] if args.token_budget is None else (args.token_budget or None)
    if steps < 1 or args.seeds < 1 or args.workers < 1:
        raise SystemExit("--steps, --seeds and --workers must be >= 1")
    if getattr(args, "retries", 0) < 0:
        raise SystemExit("--retries must be >= 0")
    if token_budget is not None and token_budget < 1:
        raise SystemExit("--token-budget must be >= 0 (0: no token budget)")
    envs_dir = str(Path(args.envs_dir).resolve()) if args.envs_dir else None
    policies = _split(args.policies)
    config = preset_config(args.preset, policies)
    for policy, values in parse_settings(args.settings).items():
        config.setdefault(policy, {}).update(values)
    env_config = {}
    if args.sandbox:
        env_config["sandbox"] = args.sandbox
    if args.step_timeout:
        env_config["step_timeout_s"] = args.step_timeout
    if getattr(args, "allow_drift", False):
        env_config["allow_drift"] = True
    try:
        tasks = resolve_tasks(args.tasks, Path(envs_dir) if envs_dir else None)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    return make_specs(policies, models or _split(args.models), tasks, args.seeds, steps,
                      time_budget, token_budget, config, env_config, envs_dir, args.first_seed)


def spend_header(specs: list) -> str:
    """The printout's first line: what the runs were matched on (equal spend or step-matched)."""
    labels = sorted({spend_label(s.steps, s.token_budget) for s in specs})
    if len(labels) != 1:
        return f"MIXED budgets ({', '.join(labels)}): the runs are not matched; compare within one spend only"
    spec = specs[0]
    if spec.token_budget:
        return (f"equal spend: every run had the same budget of {spec.token_budget:,} model tokens (prompt + "
                f"completion of every call, reflections and feedback included; a run ends within one call of it), "
                f"with a {spec.steps}-step cap as a safety net  [spend = {labels[0]}]")
    return (f"step-matched: every run had {spec.steps} environment steps and no token budget; policies that make "
            f"more model calls per step spend more tokens  [spend = {labels[0]}]")


def dry_run(specs: list, out: str) -> int:
    from scripts._runs import RunStore

    done = RunStore(out).done_keys() if (Path(out) / "runs.jsonl").exists() else set()
    for spec in specs:
        print(f"{'done' if spec.key in done else 'todo'}  {spec.key}")
    return 0


def run_from_args(specs: list, args: argparse.Namespace):
    return run_benchmark(specs, args.out, workers=args.workers, ray=args.ray, retry_failed=not args.no_retry_failed,
                         progress=not args.no_progress, gpus_per_run=args.gpus_per_run, cpus_per_run=args.cpus_per_run,
                         retries=args.retries, serve=serve_config(args))


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    args = build_parser().parse_args(argv)
    specs = specs_from_args(args)
    if args.dry_run:
        return dry_run(specs, args.out)
    try:
        check_pins(sorted({s.task for s in specs}), args.envs_dir, allow_drift=args.allow_drift)
    except DataDriftError as exc:
        raise SystemExit(f"gome-benchmark: {exc}") from None
    start = time.perf_counter()
    store = run_from_args(specs, args)
    runs, summary = write_tables(store, specs, count_unconfined=args.count_unconfined)
    counted, left_out = split_unconfined(runs, args.count_unconfined)
    print(spend_header(specs) + "\n")
    print(format_summary(summary))
    if len(left_out):
        print(format_left_out(left_out))
    print("\n" + format_spend(counted))
    pairs = paired_table(counted)
    pairs.to_csv(store.out / "pairs.csv", index=False)
    print("\n" + format_pairs(pairs))
    failed = runs[runs["status"] != "ok"]
    if len(failed):
        print(f"\n{len(failed)} run(s) failed (counted as no valid submission; rerun to retry):")
        for row in failed.itertuples():
            print(f"  {row.run_key}: {row.error}")
    print(f"\n{len(runs)} run(s) in {store.out}  (results.csv, summary.csv, pairs.csv; this command: "
          f"{time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
