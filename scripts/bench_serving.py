"""One served model against one engine per run: the same short episodes three ways.

    python -m scripts.bench_serving                       # N = 4 episodes, vllm:smollm2, digits, 4 steps
    python -m scripts.bench_serving --arms a,c            # skip (b): N engines may not fit in memory

Arms (every arm runs the same N episodes: greedy on --task, seeds 0..N-1, --steps steps, every
answer capped at --max-tokens, so each call writes at most that many tokens; the 135M model's
answers are usually cut there and then run nothing, so an episode is mostly --steps model calls
plus making its environment, baseline run included):

  (a) one at a time on one in-process engine (``vllm:`` backend) in one process;
  (b) N at once, each in its own process with its own in-process engine (N copies of the model);
  (c) N at once, N processes, all sending their requests to ONE served model (``--serve``: the
      server of ``policies.models.serving``), so vLLM batches across episodes.

Every process loads its backend, then waits; the clock starts when all are ready (start-up is
reported apart). The table gives per arm: processes, copies of the model, start-up seconds,
wall seconds of the episodes, completion tokens, aggregate completion tokens per second of wall
time, and peak memory: the sum of the peak RSS (VmHWM) of every process that holds a model or
runs episodes, the server included (the sandboxes' solution processes are not counted).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import queue as queue_mod
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ARMS = {"a": "one at a time, in-process engine", "b": "N at once, N engines",
        "c": "N at once, one served model"}


def peak_rss_kib(pid: int | str = "self") -> int:
    """The peak resident set (VmHWM) of a process in KiB (0 when it cannot be read)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_pids(root: int) -> list[int]:
    """``root`` and its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


@dataclass
class ArmResult:
    arm: str
    processes: int
    copies: int
    startup_s: float = 0.0
    wall_s: float = 0.0
    completion_tokens: int = 0
    calls: int = 0
    episodes: int = 0
    failed: list[str] = field(default_factory=list)
    peak_rss_kib: int = 0

    @property
    def tok_s(self) -> float:
        return self.completion_tokens / self.wall_s if self.wall_s > 0 else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "tok_s": self.tok_s}


def worker(slot: int, model_spec: str, run_dicts: list[dict], ready, go, results) -> None:
    """One process: load the backend, say ready, wait for go, run its episodes one after another."""
    from scripts._worker import execute_run, load_cached_model

    try:
        load_cached_model(model_spec)
    except Exception as exc:  # noqa: BLE001 - reported, the arm fails
        ready.put((slot, f"{type(exc).__name__}: {exc}"))
        return
    ready.put((slot, None))
    go.wait()
    for spec in run_dicts:
        start = time.perf_counter()
        result = execute_run(spec, "bench")
        usage = ((result.get("record") or {}).get("usage") or {})
        results.put(("episode", slot, spec["seed"], result["status"], result.get("error"),
                     int(usage.get("completion_tokens", 0)), int(usage.get("calls", 0)), time.perf_counter() - start))
    results.put(("done", slot, peak_rss_kib(), time.perf_counter()))


def run_arm(arm: str, args: argparse.Namespace, runs: list[dict], log) -> ArmResult:
    ctx = mp.get_context("spawn")
    servers = None
    start = time.perf_counter()
    slots = 1 if arm == "a" else args.n
    result = ArmResult(arm, processes=slots, copies=1 if arm != "b" else slots)
    try:
        spec = args.model
        if arm == "c":
            from policies.models.serving import ModelServers, ServeConfig

            servers = ModelServers([args.model], ServeConfig(max_num_seqs=args.max_num_seqs), log=log).start()
            spec = servers.spec_for(args.model)
            runs = [{**r, "backend": spec} for r in runs]
        ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
        share = [runs[i::slots] for i in range(slots)]
        procs = [ctx.Process(target=worker, args=(i, spec, share[i], ready, go, results)) for i in range(slots)]
        for proc in procs:
            proc.start()
        for _ in procs:
            slot, error = ready.get(timeout=args.timeout)
            if error:
                raise RuntimeError(f"worker {slot} could not load {spec}: {error}")
        result.startup_s = time.perf_counter() - start
        log(f"  ({arm}) {slots} process(es) ready after {result.startup_s:.0f} s; running {len(runs)} episode(s)")
        t0 = time.perf_counter()
        go.set()
        ends, done = [], 0
        while done < slots:
            try:
                item = results.get(timeout=args.timeout)
            except queue_mod.Empty:
                raise RuntimeError(f"no episode finished within {args.timeout:.0f} s") from None
            if item[0] == "episode":
                _, slot, seed, status, error, tokens, calls, wall = item
                result.episodes += 1
                result.completion_tokens += tokens
                result.calls += calls
                if status != "ok":
                    result.failed.append(f"seed {seed}: {error}")
                log(f"  ({arm}) episode seed {seed} {status}: {calls} calls, {tokens} tokens, {wall:.0f} s "
                    f"[{result.episodes}/{len(runs)}]")
            else:
                done += 1
                result.peak_rss_kib += item[2]
                ends.append(item[3])
        result.wall_s = time.perf_counter() - t0
        if servers is not None:
            pid = servers.endpoints[args.model].pid
            result.peak_rss_kib += sum(peak_rss_kib(p) for p in tree_pids(pid)) if pid else 0
            result.processes += 1
        for proc in procs:
            proc.join(timeout=60)
    finally:
        if servers is not None:
            servers.stop()
    return result


def table(results: list[ArmResult], n: int) -> str:
    base = next((r for r in results if r.arm == "a"), None)
    rows = ["| arm | processes | model copies | start-up s | wall s | episodes | completion tokens | tokens/s | "
            "vs (a) | peak RSS GB |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        ratio = f"{r.tok_s / base.tok_s:.2f}x" if base and base.tok_s else "-"
        rows.append(f"| ({r.arm}) {ARMS[r.arm].replace('N', str(n))} | {r.processes} | {r.copies} | "
                    f"{r.startup_s:.0f} | {r.wall_s:.0f} | {r.episodes - len(r.failed)}/{r.episodes} ok | "
                    f"{r.completion_tokens} | {r.tok_s:.1f} | {ratio} | {r.peak_rss_kib / 2**20:.2f} |")
    return "\n".join(rows)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m scripts.bench_serving", description=__doc__.split("\n\n")[0],
                                epilog="Arms: (a) " + "; (b) ".join([ARMS["a"], ARMS["b"]]) + "; (c) " + ARMS["c"]
                                + ". CPU heavy: run it alone (e.g. under nice).",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--n", type=int, default=4, help="episodes, and how many run at once in (b) and (c)")
    p.add_argument("--arms", default="a,b,c", help="which arms to run, comma-separated (b holds N copies of the model)")
    p.add_argument("--model", default="vllm:smollm2", help="a vllm: spec (in-process in (a) and (b), served in (c))")
    p.add_argument("--task", default="digits", help="the task every episode runs")
    p.add_argument("--policy", default="greedy", help="the policy every episode runs (smoke preset settings)")
    p.add_argument("--steps", type=int, default=4, help="steps per episode (an unusable answer uses one up)")
    p.add_argument("--max-tokens", type=int, default=128, help="the cap on every answer")
    p.add_argument("--max-num-seqs", type=int, default=None, help="(c): the server's --max-num-seqs (None: vLLM's)")
    p.add_argument("--kv-cache-gib", type=float, default=1.0,
                   help="CPU only: VLLM_CPU_KVCACHE_SPACE of every engine and the server (unless set already)")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for any one event before giving up")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON to PATH")
    p.add_argument("--envs-dir", default=None, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    if not arms or any(a not in ARMS for a in arms) or args.n < 1 or args.steps < 1 or args.max_tokens < 1:
        raise SystemExit(f"--arms takes a comma-separated subset of {','.join(ARMS)}; --n, --steps, --max-tokens >= 1")
    if not args.model.startswith("vllm:"):
        raise SystemExit("--model must be a vllm: spec (the arms compare vLLM in-process and served)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", f"{args.kv_cache_gib:g}")
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")  # the engines' start-up chatter
    from scripts._runs import make_specs
    from scripts.benchmark import preset_config

    config = {args.policy: {**preset_config("smoke", [args.policy]).get(args.policy, {}), "max_tokens": args.max_tokens,
                            "max_parse_retries": 0}}
    specs = make_specs([args.policy], [args.model], [args.task], seeds=args.n, steps=args.steps, policy_config=config,
                       envs_dir=str(Path(args.envs_dir).resolve()) if args.envs_dir else None)
    runs = [s.to_dict() for s in specs]
    command = shlex.join(["python", "-m", "scripts.bench_serving", *(sys.argv[1:] if argv is None else argv)])
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    log(f"$ {command}\nload: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} "
        f"(1, 5, 15 min); {os.cpu_count()} CPUs")
    from gome_env.tasks.task import ENVS_DIR, load_spec, prepare

    prepare(load_spec(args.task, Path(args.envs_dir) if args.envs_dir else ENVS_DIR))  # data ready before any clock
    results = []
    for arm in arms:
        log(f"arm ({arm}): {ARMS[arm].replace('N', str(args.n))}")
        results.append(run_arm(arm, args, runs, log))
        log(f"  ({arm}) {results[-1].tok_s:.1f} tokens/s over {results[-1].wall_s:.0f} s")
    print(f"\n{args.n} episodes ({args.policy} on {args.task}, {args.steps} steps, answers <= {args.max_tokens} "
          f"tokens) with {args.model}. Command:\n    {command}\n")
    print(table(results, args.n))
    if args.json:
        Path(args.json).write_text(json.dumps({"command": command, "load": os.getloadavg(),
                                               "arms": [r.to_dict() for r in results]}, indent=2))
    for r in results:
        for failure in r.failed:
            print(f"({r.arm}) failed: {failure}")
    return 0 if all(not r.failed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
