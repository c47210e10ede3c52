"""Benchmark ``EnvPool.step_many`` against sequential ``env.step`` (prints figures, asserts nothing).

    .venv/bin/python scripts/bench_pool.py                 # 8 diffs, pool of 2, 5 rounds
    .venv/bin/python scripts/bench_pool.py --diffs 8 --size 2 --rounds 5 --out bench_pool.json

The solution is ``scripts/bench_env.py``'s pandas + scikit-learn one on the ``tiny`` fixture task.
Each round makes ``--diffs`` different one-line diffs of that solution (``VARIANT = i``) from one
node, then times (a) ``--diffs`` sequential ``env.step`` calls, each from that node (a
``checkout`` before each), on one warm ``MLEEnv``, and (b) one ``pool.step_many`` of the same
diffs on an ``EnvPool`` of ``--size`` warm workers (each worker one solution thread, as the
sequential env). It reports the median over rounds of each and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.bench_env import FIXTURES, PANDAS_SKLEARN  # noqa: E402


def variants(n: int) -> list[str]:
    return [PANDAS_SKLEARN.replace("VARIANT = 0", f"VARIANT = {i + 1}", 1) for i in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--diffs", type=int, default=8, help="diffs per batch (default 8)")
    parser.add_argument("--size", type=int, default=2, help="pool workers (default 2)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (default 5), after one warm-up round")
    parser.add_argument("--threads", type=int, default=1, help="solution threads per step (default 1)")
    parser.add_argument("--sandbox", default="auto")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()

    from gome_env.patching.diffs import make_diff
    from gome_env.env import MLEEnv
    from gome_env.pool import EnvPool
    from gome_env.tasks.task import load_spec

    spec = load_spec("tiny", FIXTURES)
    kwargs = {"sandbox": args.sandbox, "threads": args.threads}
    env = MLEEnv(spec, max_steps=1_000_000, **kwargs)
    pool = EnvPool(spec, size=args.size, **kwargs)
    try:
        env.reset()
        pool.reset()
        if not (env.executor.wait_ready(300) and pool.wait_ready(300)):
            raise SystemExit("a warm worker did not start")
        base = env.files()
        start = make_diff(base, {**base, "solution.py": PANDAS_SKLEARN})
        _, _, _, _, info = env.step(start)
        (_, _, pinfo), = pool.step_many([(0, start)])
        assert info["diagnostics"]["status"] == "ok" and pinfo["diagnostics"]["status"] == "ok", info["diagnostics"]["reason"]
        env_node, pool_node = info["node_id"], pinfo["node_id"]
        v0 = {**base, "solution.py": PANDAS_SKLEARN}
        diffs = [make_diff(v0, {**base, "solution.py": v}) for v in variants(args.diffs)]
        seq, par = [], []
        for r in range(args.rounds + 1):
            t = time.perf_counter()
            for diff in diffs:
                env.checkout(env_node)
                _, _, _, _, info = env.step(diff)
                assert info["diagnostics"]["status"] == "ok", info["diagnostics"]["reason"]
            seq_s = time.perf_counter() - t
            t = time.perf_counter()
            results = pool.step_many([(pool_node, d) for d in diffs])
            par_s = time.perf_counter() - t
            assert all(i["diagnostics"]["status"] == "ok" and i["parent_id"] == pool_node for _, _, i in results)
            if r:  # round 0 warms up
                seq.append(seq_s)
                par.append(par_s)
            print(f"round {r}{' (warm-up)' if not r else ''}: sequential {seq_s:.2f} s, pool {par_s:.2f} s", flush=True)
        stats = [s.to_dict() for s in pool.executor_status()]
    finally:
        env.close()
        pool.close()
    figures = {
        "diffs": args.diffs, "size": args.size, "rounds": args.rounds, "threads": args.threads, "cpus": os.cpu_count(),
        "sequential_s": statistics.median(seq), "pool_s": statistics.median(par),
        "speedup": statistics.median(seq) / statistics.median(par),
        "sequential_all_s": seq, "pool_all_s": par,
        "pool_warm_runs": sum(s["warm"] for s in stats), "pool_cold_runs": sum(s["cold"] for s in stats),
        "loadavg_1min": os.getloadavg()[0],
    }
    print(f"{args.diffs} diffs from one node: sequential env.step {figures['sequential_s']:.2f} s, "
          f"EnvPool(size={args.size}).step_many {figures['pool_s']:.2f} s, speed-up {figures['speedup']:.2f}x "
          f"(medians of {args.rounds} rounds; load average {figures['loadavg_1min']:.1f} on {os.cpu_count()} CPUs)")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
