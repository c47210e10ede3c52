"""The benchmark driver: skip finished runs, execute the rest, commit each result, write tables."""

from __future__ import annotations

import sys
from collections import deque
from pathlib import Path
from typing import Callable

import pandas as pd

from policies.models.serving import ModelServers, ServeConfig

from scripts._aggregate import is_medal, run_table, split_unconfined, summary_table
from scripts._executors import make_executor
from scripts._runs import FAILED, OK, RunSpec, RunStore
from scripts._serve import route, start_servers

__all__ = ["run_benchmark", "write_tables", "select_lines", "DEFAULT_RETRIES"]

DEFAULT_RETRIES = 2  # a run whose worker or node was lost is retried this many times within one command


def select_lines(store: RunStore, specs: list[RunSpec] | None = None) -> list[dict]:
    """The latest run line of each run (of ``specs`` only, when given), in spec order."""
    latest = store.latest_runs()
    if specs is None:
        return list(latest.values())
    return [latest[s.key] for s in specs if s.key in latest]


def write_tables(store: RunStore, specs: list[RunSpec] | None = None, by: tuple[str, ...] = ("policy", "model"),
                 count_unconfined: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """results.csv/.parquet (per run, every run, with its ``unconfined`` flag) and summary.csv/.parquet
    (per policy x model; unconfined runs left out unless ``count_unconfined``: ``split_unconfined``)."""
    lines = select_lines(store, specs)
    runs = run_table(lines, store.steps())
    summary = summary_table(split_unconfined(runs, count_unconfined)[0], by)
    for frame, name in ((runs, "results"), (summary, "summary")):
        frame.to_csv(store.out / f"{name}.csv", index=False)
        try:
            frame.to_parquet(store.out / f"{name}.parquet", index=False)
        except (ImportError, ValueError) as exc:  # pyarrow missing: the CSV is still there
            print(f"note: {name}.parquet not written ({exc}); install the 'plots' extra for pyarrow", file=sys.stderr)
    return runs, summary


def run_benchmark(
    specs: list[RunSpec],
    out: str | Path,
    workers: int = 1,
    ray: str | None = None,
    retry_failed: bool = True,
    progress: bool = True,
    gpus_per_run: float | None = None,
    cpus_per_run: float = 1.0,
    retries: int = DEFAULT_RETRIES,
    log: Callable[[str], None] = lambda msg: print(msg, file=sys.stderr),
    serve: ServeConfig | ModelServers | None = None,
) -> RunStore:
    """Execute every run of ``specs`` not finished yet in ``out``; return the store.

    A run whose worker was lost (a dead worker process or Ray node: the executor's ``lost``) is
    recorded as a failed attempt and submitted again with a new attempt, at most ``retries`` times,
    while the executor has somewhere to run it; a run that failed for its own reasons is not.

    ``serve``: a ServeConfig starts one server per ``vllm:`` model before the first run, sends its
    runs there and stops it after the last (``policies.models.serving``; ``--serve``); started
    ModelServers are used as they are and left running."""
    store = RunStore(out)
    recovered = store.recover()
    if any(recovered.values()):
        log(f"resume: {recovered['abandoned']} interrupted attempt(s) set aside (they restart from step 0), "
            f"{recovered['completed_commits']} cut-short commit(s) completed")
    latest = store.latest_runs()
    keep = {OK} if retry_failed else {OK, FAILED}
    todo = [s for s in specs if latest.get(s.key, {}).get("status") not in keep]
    done_lines = [latest[s.key] for s in specs if s.key in latest and s not in todo]
    medals = sum(is_medal((line.get("record") or {}).get("final")) for line in done_lines if line.get("status") == OK)
    failed = 0
    if len(todo) < len(specs):
        log(f"resume: {len(specs) - len(todo)} of {len(specs)} run(s) already finished in {store.out}")

    from tqdm import tqdm

    own = isinstance(serve, ServeConfig) and bool(todo)
    servers = start_servers(todo, serve, ray, workers, log) if own else serve if isinstance(serve, ModelServers) else None
    bar = tqdm(total=len(specs), initial=len(specs) - len(todo), unit="run", desc="benchmark",
               disable=not progress, dynamic_ncols=True, file=sys.stderr)
    bar.set_postfix(medals=medals, failed=failed)
    executor = None
    pending = deque(todo)
    lost: dict[str, int] = {}  # run key -> attempts lost so far in this command
    try:
        executor = make_executor(store.append_step, workers=workers, ray=ray,
                                 gpus_per_run=gpus_per_run, cpus_per_run=cpus_per_run) if todo else None
        while executor is not None and (pending or executor.in_flight):
            while pending and executor.in_flight < executor.capacity:
                spec = pending.popleft()
                executor.submit(route(spec, servers), store.new_attempt())
            for spec, attempt, result in executor.poll(0.5):
                if result.get("lost") and result.get("status") != OK:
                    why_not = "retries spent" if lost.get(spec.key, 0) >= retries else executor.no_capacity(spec)
                    if why_not is None:
                        lost[spec.key] = lost.get(spec.key, 0) + 1
                        store.commit(spec, attempt, result)  # the lost attempt keeps its own record
                        bar.write(f"run lost, retrying ({lost[spec.key]}/{retries}): {spec.key}: {result.get('error')}")
                        pending.appendleft(spec)
                        continue
                    result = {**result, "error": f"{result.get('error')} (not retried: {why_not})"}
                line = store.commit(spec, attempt, result)
                if line["status"] == OK:
                    medals += is_medal((line.get("record") or {}).get("final"))
                else:
                    failed += 1
                    bar.write(f"run failed: {spec.key}: {line['error']}")
                bar.update(1)
                bar.set_postfix(medals=medals, failed=failed)
    finally:
        if executor is not None:
            executor.close()
        if own and servers is not None:
            servers.stop()
        bar.close()
    return store
