"""Benchmark the environment's own cost per step (not a test: it prints figures, it asserts nothing).

    .venv/bin/python scripts/bench_env.py --out bench_env.json          # about 4 minutes on 2 cores
    .venv/bin/python scripts/bench_env.py --quick                       # fewer repetitions

Reports, as medians over repeated steps and ratios measured in the same run:

- overhead per step = ``env.step`` wall time minus the solution's own run time (the solution
  times itself, from its first statement to its last, and prints it), for a trivial solution and
  for a typical pandas + scikit-learn one, with the warm executor and with ``executor="cold"``, and
  the CPU a step costs the env process and the sandbox (how many cores one env keeps busy);
- a warm step against ``python solution.py`` run cold in a subprocess on the same files;
- steps per second for 1, 2 and 4 environments in ``gymnasium.vector.AsyncVectorEnv`` (trivial
  solution) and for 1 and 2 (pandas + scikit-learn, one thread each), with the machine's CPU per
  step and its own ceiling (how much faster two processes of a pure-Python loop run than one);
- bytes stored per node (chunks + snapshots + diffs + diagnostics) for 1,000 one-line-diff steps
  on a 50 KB solution.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts._bench_solutions import (  # noqa: E402  (the solutions and env; FIXTURES and PANDAS_SKLEARN for bench_pool)
    FIXTURES, PANDAS_SKLEARN, TRIVIAL, filler, make_env, median, self_time, toggles,
)


def _tree_cpu_s(root: int) -> float:
    """CPU seconds of process ``root`` and its live descendants, plus all they have reaped."""
    parents: dict[int, int] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry)], stats[int(entry)] = int(fields[1]), fields
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, ppid in parents.items() if ppid in tree} - tree
        tree |= more
        grew = bool(more)
    ticks = sum(sum(int(v) for v in stats[pid][11:15]) for pid in tree if pid in stats)
    return ticks / os.sysconf("SC_CLK_TCK")


def _cpu_split(env) -> tuple[float, float, int] | None:
    """(this process's CPU, the warm worker's CPU with every child it forked, the worker's pid) so
    far: the env's own work (diff, grading, tree) and the sandbox's. None without a warm worker (a
    cold run's sandbox is not counted: bwrap does not wait for every process it started)."""
    pid = env.executor_status().worker_pid
    if pid is None:
        return None
    return time.process_time(), _tree_cpu_s(pid), pid


def step_timings(env, source: str, steps: int) -> dict:
    """Median wall, run and self times of ``steps`` one-line-diff steps after a warm-up, and the
    CPU per step of the env process and of the sandbox (means over the timed steps)."""
    first, a, b = toggles(env, source)
    _, _, _, _, info = env.step(first)
    assert info["diagnostics"]["status"] == "ok", info["diagnostics"]["reason"]
    walls, runs, selves = [], [], []
    cpu0 = None
    for i in range(steps + 2):
        if i == 2:
            cpu0 = _cpu_split(env)
        t = time.perf_counter()
        _, _, _, _, info = env.step(a if i % 2 == 0 else b)
        wall = time.perf_counter() - t
        d = info["diagnostics"]
        assert d["status"] == "ok", d["reason"]
        if i >= 2:  # warm-up
            walls.append(wall)
            runs.append(d["execution"]["runtime_s"])
            selves.append(self_time(d))
    cpu1 = _cpu_split(env)
    overheads = [w - s for w, s in zip(walls, selves)]
    host_cpu = sandbox_cpu = cores_busy = None
    if cpu0 is not None and cpu1 is not None and cpu0[2] == cpu1[2]:  # the same worker throughout
        host_cpu, sandbox_cpu = ((c1 - c0) / steps for c0, c1 in zip(cpu0[:2], cpu1[:2]))
        cores_busy = (host_cpu + sandbox_cpu) / statistics.mean(walls)
    return {"step_s": median(walls), "run_s": median(runs), "self_s": median(selves), "overhead_s": median(overheads),
            "host_cpu_s": host_cpu, "sandbox_cpu_s": sandbox_cpu, "cores_busy": cores_busy,
            "steps": steps, "executor_stats": env.executor_status().to_dict()}


def cold_subprocess(env, source: str, repeats: int) -> float:
    """Median wall time of ``python solution.py`` in a fresh subprocess on the same files."""
    folder = Path(tempfile.mkdtemp(prefix="bench-cold-"))
    try:
        (folder / "solution.py").write_text(source)
        (folder / "data").symlink_to(env.prepared.public.resolve(), target_is_directory=True)
        envvars = {**os.environ, "OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            subprocess.run([sys.executable, "solution.py"], cwd=folder, env=envvars, check=True, capture_output=True)
            times.append(time.perf_counter() - t)
        return median(times)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def per_solution(sandbox: str, steps: int, cold_steps: int, cold_repeats: int) -> dict:
    out = {}
    for name, source in (("trivial", TRIVIAL), ("pandas_sklearn", PANDAS_SKLEARN)):
        warm_env = make_env(sandbox=sandbox, executor="warm")
        cold_env = make_env(sandbox=sandbox, executor="cold")
        try:
            warm = step_timings(warm_env, source, steps)
            cold = step_timings(cold_env, source, cold_steps)
            subproc = cold_subprocess(warm_env, source, cold_repeats)
        finally:
            warm_env.close()
            cold_env.close()
        out[name] = {"warm": warm, "cold_env": cold, "cold_subprocess_s": subproc,
                     "speedup_vs_cold_subprocess": subproc / warm["step_s"],
                     "speedup_vs_cold_env": cold["step_s"] / warm["step_s"]}
    return out


def _vector_factory(sandbox: str, threads: int):
    def make():
        return make_env(sandbox=sandbox, executor="warm", threads=threads)

    return make


def _busy_cpu_s() -> float:
    """CPU seconds the whole machine has spent busy (all processes, from /proc/stat)."""
    with open("/proc/stat") as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def vector_scaling(sandbox: str, counts: list[int], steps: int, source: str = TRIVIAL, threads: int = 2,
                   rounds: int = 3) -> dict:
    """Steps per second of ``AsyncVectorEnv`` with each count of environments, all stepping the
    same one-line-diff toggle. The counts take turns (``rounds`` blocks of ``steps`` steps each),
    so that a slow spell of the machine does not land on one count; medians per count. Also the
    machine's busy CPU per step, from which ``cpu_bound_steps_per_s`` = cores / CPU per step.
    ``ratio_to_1`` is the median over rounds of a round's rate over that round's one-env rate."""
    import gymnasium as gym

    probe = make_env(sandbox=sandbox, executor="cold")
    first, a, b = toggles(probe, source)
    probe.close()
    vectors = {}
    try:
        for n in counts:
            envs = vectors[n] = gym.vector.AsyncVectorEnv([_vector_factory(sandbox, threads) for _ in range(n)],
                                                          shared_memory=False)
            envs.reset(seed=0)
            _, _, _, _, infos = envs.step([first] * n)
            assert all(d["status"] == "ok" for d in infos["diagnostics"]), [d["reason"] for d in infos["diagnostics"]]
            for i in range(2):  # warm-up
                envs.step([a if i % 2 == 0 else b] * n)
        rates: dict[int, list[float]] = {n: [] for n in counts}
        cpu: dict[int, list[float]] = {n: [] for n in counts}
        for _ in range(rounds):
            for n, envs in vectors.items():
                c, t = _busy_cpu_s(), time.perf_counter()
                for i in range(steps):
                    envs.step([a if i % 2 == 0 else b] * n)
                elapsed, busy = time.perf_counter() - t, _busy_cpu_s() - c
                rates[n].append(n * steps / elapsed)
                cpu[n].append(busy / (n * steps))
    finally:
        for envs in vectors.values():
            envs.close()
    cores = os.cpu_count() or 1
    out = {str(n): {"steps_per_s": median(rates[n]), "rounds": rates[n], "cpu_s_per_step": median(cpu[n]),
                    "steps": n * steps * rounds} for n in counts}
    for n in counts:  # paired: each round's rate over the same round's one-env rate
        out[str(n)]["ratio_to_1"] = median([r / r1 for r, r1 in zip(rates[n], rates[counts[0]])])
    one = out[str(counts[0])]
    base = one["steps_per_s"]
    out["cpu_bound_steps_per_s"] = cores / one["cpu_s_per_step"]
    out["cpu_bound_ratio"] = out["cpu_bound_steps_per_s"] / base  # the most `cores` cores allow
    out["threads"] = threads
    return out


def _spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def machine_scaling(processes: int = 2, rounds: int = 3, n: int = 5_000_000) -> float:
    """How much faster ``processes`` copies of a pure-Python loop finish than one (median over
    ``rounds``): the ceiling this machine puts on any parallel speed-up."""
    import multiprocessing as mp

    ratios = []
    with mp.get_context("fork").Pool(processes) as pool:
        for _ in range(rounds):
            t = time.perf_counter()
            pool.apply(_spin, (n,))
            one = time.perf_counter() - t
            t = time.perf_counter()
            pool.map(_spin, [n] * processes, chunksize=1)
            many = time.perf_counter() - t
            ratios.append(processes * one / many)
    return median(ratios)


def storage(sandbox: str, steps: int, size: int) -> dict:
    from gome_env.patching.diffs import make_diff

    env = make_env(sandbox=sandbox, executor="warm")
    try:
        source = TRIVIAL + filler(size - len(TRIVIAL))
        _, _, _, _, info = env.step(make_diff(env.files(), {"solution.py": source}))
        assert info["diagnostics"]["status"] == "ok", info["diagnostics"]["reason"]
        lines = source.splitlines(keepends=True)
        targets = [i for i, line in enumerate(lines) if line.startswith("    scale = ")]
        t = time.perf_counter()
        for step in range(steps):
            i = targets[(step * 7919) % len(targets)]
            old = env.files()
            new_lines = old["solution.py"].splitlines(keepends=True)
            new_lines[i] = f"    scale = {1000 + step}\n"
            _, _, _, _, info = env.step(make_diff(old, {"solution.py": "".join(new_lines)}))
            assert info["diagnostics"]["status"] == "ok", info["diagnostics"]["reason"]
        elapsed = time.perf_counter() - t
        sizes = env.tree.nbytes()
        nodes = len(env.tree)
        return {"solution_bytes": len(source.encode()), "steps": steps, "node_count": nodes,
                "chunks": sizes["chunks"], "snapshots": sizes["snapshots"], "diffs_diagnostics": sizes["nodes"], "total": sizes["total"],
                "bytes_per_node": sizes["total"] / nodes, "projected_1000_nodes_bytes": sizes["total"] / nodes * 1000,
                "steps_per_s": steps / elapsed}
    finally:
        env.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sandbox", default="auto", choices=["auto", "subprocess", "bwrap"])
    parser.add_argument("--steps", type=int, default=40, help="timed steps per warm measurement")
    parser.add_argument("--cold-steps", type=int, default=8, help="timed steps per executor='cold' measurement")
    parser.add_argument("--cold-repeats", type=int, default=5, help="cold `python solution.py` runs")
    parser.add_argument("--vector-steps", type=int, default=40, help="timed AsyncVectorEnv steps per count and round "
                        "(a quarter of them for the pandas + scikit-learn solution)")
    parser.add_argument("--vector-rounds", type=int, default=3, help="rounds in which the counts take turns")
    parser.add_argument("--store-steps", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.cold_steps, args.cold_repeats, args.vector_steps, args.vector_rounds, args.store_steps = 10, 3, 2, 8, 2, 100
    os.environ.setdefault("GOME_DATA_DIR", str(Path(tempfile.gettempdir()) / "gome-bench-data"))
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)

    from gome_env.isolation.sandbox import make_sandbox

    sandbox_name = make_sandbox(args.sandbox)[0].name
    t0 = time.perf_counter()
    results = {
        "command": command,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "sandbox": sandbox_name},
        "solutions": per_solution(args.sandbox, args.steps, args.cold_steps, args.cold_repeats),
        "machine_2_process_scaling": machine_scaling(2),
        "vector": vector_scaling(args.sandbox, [1, 2, 4], args.vector_steps, TRIVIAL, threads=2, rounds=args.vector_rounds),
        "vector_pandas_sklearn": vector_scaling(args.sandbox, [1, 2], max(4, args.vector_steps // 4), PANDAS_SKLEARN,
                                                threads=1, rounds=args.vector_rounds),
        "storage": storage(args.sandbox, args.store_steps, 50_000),
    }
    results["elapsed_s"] = time.perf_counter() - t0
    triv, pd_ = results["solutions"]["trivial"], results["solutions"]["pandas_sklearn"]
    vec, st = results["vector"], results["storage"]
    results["targets"] = {
        "trivial_overhead_le_50ms": triv["warm"]["overhead_s"] <= 0.050,
        "pandas_sklearn_speedup_ge_10x": pd_["speedup_vs_cold_subprocess"] >= 10,
        "two_envs_ge_1.8x": vec["2"]["ratio_to_1"] >= 1.8,
        "two_envs_ge_1.8x_pandas_sklearn": results["vector_pandas_sklearn"]["2"]["ratio_to_1"] >= 1.8,
        "store_1000_nodes_le_5MB": st["projected_1000_nodes_bytes"] <= 5_000_000,
    }

    ms = lambda s: f"{s * 1000:.1f} ms"  # noqa: E731
    print(f"$ {command}")
    print(f"{os.cpu_count()} CPUs, Python {platform.python_version()}, sandbox {sandbox_name}; medians\n")
    print("| solution | executor | env.step | run (in sandbox) | solution's own time | overhead/step | cold `python solution.py` | speedup |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in results["solutions"].items():
        for mode, m in (("warm", r["warm"]), ("cold", r["cold_env"])):
            speed = r["cold_subprocess_s"] / m["step_s"]
            print(f"| {name} | {mode} | {ms(m['step_s'])} | {ms(m['run_s'])} | {ms(m['self_s'])} | {ms(m['overhead_s'])} | "
                  f"{ms(r['cold_subprocess_s'])} | {speed:.1f}x |")
    print("\n| solution (warm) | CPU per step: env process | sandbox (worker + its children) | cores one env keeps busy |")
    print("|---|---|---|---|")
    for name, r in results["solutions"].items():
        m = r["warm"]
        if m["cores_busy"] is not None:
            print(f"| {name} | {ms(m['host_cpu_s'])} | {ms(m['sandbox_cpu_s'])} | {m['cores_busy']:.2f} |")
    print(f"\nthis machine: 2 processes of a pure-Python loop run {results['machine_2_process_scaling']:.2f}x as fast as one")
    print("\n| AsyncVectorEnv | solution | threads per env | steps/s | vs 1 env | machine CPU per step |")
    print("|---|---|---|---|---|---|")
    for label, v in (("trivial", vec), ("pandas + scikit-learn", results["vector_pandas_sklearn"])):
        for n, m in v.items():
            if n.isdigit():
                print(f"| {n} env{'s' if n != '1' else ''} | {label} | {v['threads']} | {m['steps_per_s']:.1f} | "
                      f"{m['ratio_to_1']:.2f}x | {ms(m['cpu_s_per_step'])} |")
        print(f"| CPU-bound ceiling | {label} | | {v['cpu_bound_steps_per_s']:.1f} | {v['cpu_bound_ratio']:.2f}x | "
              f"(cores / one env's CPU per step) |")
    print(f"\nstorage: {st['steps']} one-line-diff steps on a {st['solution_bytes'] / 1000:.0f} KB solution -> {st['node_count']} nodes, "
          f"{st['total'] / 1e6:.2f} MB ({st['chunks'] / 1e6:.2f} MB chunks, {st['snapshots'] / 1e6:.2f} MB snapshots, "
          f"{st['diffs_diagnostics'] / 1e6:.2f} MB diffs+diagnostics), "
          f"{st['bytes_per_node'] / 1000:.2f} KB per node, {st['projected_1000_nodes_bytes'] / 1e6:.2f} MB per 1,000 nodes")
    print("\ntargets: " + ", ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in results["targets"].items()))
    print(f"({results['elapsed_s']:.0f} s)")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
        print(f"figures written to {args.out}")


if __name__ == "__main__":
    main()
