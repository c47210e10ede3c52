"""The solutions ``scripts/bench_env.py`` and ``scripts/bench_pool.py`` time, and the env they step:
the ``tiny`` fixture task, a trivial and a pandas + scikit-learn solution that time themselves
(``BENCH_SELF_S=`` on stdout, from their first statement to their last), one-line-diff toggles
between two variants, and filler code to grow a solution to a given size."""

from __future__ import annotations

import statistics
from pathlib import Path

__all__ = ["FIXTURES", "TRIVIAL", "PANDAS_SKLEARN", "filler", "median", "make_env", "toggles", "self_time"]

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "envs"

TIMER_HEAD = "import time as _bench_time\n_bench_t0 = _bench_time.perf_counter()\nVARIANT = 0\n"
TIMER_TAIL = '\nprint(f"BENCH_SELF_S={_bench_time.perf_counter() - _bench_t0:.6f}")\n'

TRIVIAL = TIMER_HEAD + (FIXTURES / "tiny" / "baseline.py").read_text().split('"""', 2)[2] + TIMER_TAIL

PANDAS_SKLEARN = TIMER_HEAD + '''import os

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

train = pd.read_csv("data/train.csv")
features = ["x0", "x1"]
model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0))
model.fit(train[features], train["label"])
print("train accuracy", np.mean(model.predict(train[features]) == train["label"]))
os.makedirs("submission", exist_ok=True)
for split in ("dev", "test"):
    frame = pd.read_csv(f"data/{split}.csv")
    pd.DataFrame({"id": frame["id"], "label": model.predict(frame[features])}).to_csv(f"submission/{split}.csv", index=False)
''' + TIMER_TAIL


def filler(n_bytes: int) -> str:
    """Realistic-looking helper functions, about ``n_bytes`` of them."""
    out, i = [], 0
    while sum(map(len, out)) < n_bytes:
        out.append(f"\n\ndef feature_{i}(row):\n    \"\"\"Derived feature {i}.\"\"\"\n    scale = {i % 13 + 1}\n"
                   f"    return float(row['x0']) * scale + float(row['x1']) * {i % 7} - {i}\n")
        i += 1
    return "".join(out)


def median(values: list[float]) -> float:
    """The median (NaN for no values)."""
    return statistics.median(values) if values else float("nan")


def make_env(solution_kind: str = "trivial", **kwargs):
    """A reset ``MLEEnv`` on the ``tiny`` fixture task (its warm worker ready, unless cold)."""
    from gome_env.env import MLEEnv
    from gome_env.tasks.task import load_spec

    kwargs.setdefault("max_steps", 100_000)
    env = MLEEnv(load_spec("tiny", FIXTURES), **kwargs)
    env.reset()
    if kwargs.get("executor", "warm") == "warm" and not env.executor.wait_ready(300):
        raise RuntimeError(f"the warm worker did not start: {env.executor_status().last_error}")
    return env


def toggles(env, source: str) -> tuple[str, str, str]:
    """(diff to the benchmark solution, diff VARIANT 0 -> 1, diff 1 -> 0)."""
    from gome_env.patching.diffs import make_diff

    base = env.files()
    v0 = {**base, "solution.py": source}
    v1 = {**base, "solution.py": source.replace("VARIANT = 0", "VARIANT = 1", 1)}
    return make_diff(base, v0), make_diff(v0, v1), make_diff(v1, v0)


def self_time(d: dict) -> float | None:
    """The solution's own time, as it printed it (None when it did not)."""
    out = (d.get("execution") or {}).get("stdout_head") or ""
    for line in out.splitlines():
        if line.startswith("BENCH_SELF_S="):
            return float(line.split("=", 1)[1])
    return None
