"""Run a task's solution file as an agent's ``solution.py`` and measure its test score and the noise in it.

Used by ``scripts/build_leaderboards.py`` (the baseline, the default solution and the gold
reference of every task) and by ``tests/test_leaderboards.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gome_env.grading.grader import grade, grade_file
from gome_env.tasks.task import PreparedTask

__all__ = ["SolutionRun", "run_solution", "bootstrap_se", "paired_bootstrap_se", "SOLUTION_FILES"]

# The solution files a task folder keeps: the root of every episode, a competent default, the gold-level reference.
SOLUTION_FILES = {"baseline": "baseline.py", "default": "default_solution.py", "gold": "reference_gold.py"}


@dataclass
class SolutionRun:
    """One solution file run in a fresh workspace: its grades (None when invalid) and how long it took."""

    name: str
    returncode: int
    seconds: float
    dev_score: float | None
    test_score: float | None
    problems: list[str]
    stderr_tail: str

    def to_dict(self) -> dict:
        return asdict(self)


def run_solution(task: PreparedTask, source: str, name: str = "solution", timeout_s: float = 1800.0,
                 threads: int = 1, keep_test: Path | None = None) -> SolutionRun:
    """Run ``source`` as ``solution.py`` in a temporary workspace whose ``data/`` links to the public files.

    ``keep_test``: copy the test submission there (for the bootstrap of the test metric).
    A crash, a timeout or an invalid submission is reported in the result, never raised.
    """
    spec = task.spec
    env = {**os.environ, **{k: str(threads) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}}
    with tempfile.TemporaryDirectory(prefix=f"gome-{spec.id}-") as tmp:
        ws = Path(tmp)
        (ws / "data").symlink_to(task.public, target_is_directory=True)
        (ws / "solution.py").write_text(source)
        start = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, "solution.py"], cwd=ws, timeout=timeout_s, capture_output=True, text=True, env=env)
            code, err = proc.returncode, proc.stderr
        except subprocess.TimeoutExpired:
            code, err = 124, f"timed out after {timeout_s:.0f} s"
        seconds = time.perf_counter() - start
        dev = grade_file(spec, ws / "submission" / "dev.csv", task.answers("dev"))
        test = grade_file(spec, ws / "submission" / "test.csv", task.answers("test"))
        if keep_test is not None and (ws / "submission" / "test.csv").exists():
            keep_test.parent.mkdir(parents=True, exist_ok=True)
            keep_test.write_bytes((ws / "submission" / "test.csv").read_bytes())
    problems = [f"dev: {p}" for p in dev.problems] + [f"test: {p}" for p in test.problems]
    return SolutionRun(name, code, round(seconds, 1), dev.score if dev.valid else None,
                       test.score if test.valid else None, problems, err[-1500:])


def bootstrap_se(task: PreparedTask, submission: pd.DataFrame, n: int = 200, seed: int = 0) -> float:
    """Bootstrap standard error of the test metric: the test rows resampled with replacement ``n`` times,
    the submission graded on each resample (rows that break the metric, e.g. one class only, are skipped)."""
    spec = task.spec
    answers = task.answers("test")
    sub = submission.set_index(spec.id_column).loc[answers[spec.id_column]].reset_index()
    rng = np.random.default_rng(seed)
    scores = []
    for _ in range(n):
        rows = rng.integers(0, len(answers), len(answers))
        a = answers.iloc[rows].reset_index(drop=True)
        s = sub.iloc[rows].reset_index(drop=True)
        fresh = np.arange(len(a))  # resampled rows repeat ids: give each draw its own id
        a[spec.id_column], s[spec.id_column] = fresh, fresh
        result = grade(spec, s, a)
        if result.valid and result.score is not None:
            scores.append(result.score)
    return float(np.std(scores, ddof=1)) if len(scores) > 1 else float("nan")


def paired_bootstrap_se(task: PreparedTask, first: pd.DataFrame, second: pd.DataFrame, n: int = 200, seed: int = 0) -> float:
    """Bootstrap standard error of the *difference* of two submissions' test scores: both graded on
    the same resampled test rows ``n`` times (medals compare scores on the same rows, so this, not
    the marginal SE of either, is the noise between two entries)."""
    spec = task.spec
    answers = task.answers("test")
    subs = [sub.set_index(spec.id_column).loc[answers[spec.id_column]].reset_index() for sub in (first, second)]
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(n):
        rows = rng.integers(0, len(answers), len(answers))
        fresh = np.arange(len(rows))
        a = answers.iloc[rows].reset_index(drop=True)
        a[spec.id_column] = fresh
        scores = []
        for sub in subs:
            s = sub.iloc[rows].reset_index(drop=True)
            s[spec.id_column] = fresh
            result = grade(spec, s, a)
            scores.append(result.score if result.valid else None)
        if None not in scores:
            diffs.append(scores[0] - scores[1])
    return float(np.std(diffs, ddof=1)) if len(diffs) > 1 else float("nan")
