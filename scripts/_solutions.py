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

from gome_env.grading.grader import SCORE_DECIMALS, grade, grade_file, validate
from gome_env.tasks.task import PreparedTask

__all__ = ["SolutionRun", "run_solution", "resampled_scores", "resampled_se", "SOLUTION_FILES"]

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


def resampled_scores(task: PreparedTask, submissions: list[pd.DataFrame], n: int = 200, seed: int = 0) -> np.ndarray:
    """Each submission's test score on the same ``n`` resamples of the test rows (drawn with
    replacement): an ``(n, len(submissions))`` array, NaN where a submission is invalid or a resample
    breaks the metric (e.g. one class only). The one resampling every noise figure of the boards is
    computed from.

    Each submission is validated and aligned once by the task's grader; a resample is then scored by
    the task's metric itself, rounded as the grader rounds (a competition's own grader scores every
    resample whole)."""
    spec = task.spec
    answers = task.answers("test")
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, len(answers), len(answers)) for _ in range(n)]
    out = np.full((n, len(submissions)), np.nan)
    targets = list(spec.target_columns)
    y_true = answers[targets] if len(targets) > 1 else answers[targets[0]]
    for j, submission in enumerate(submissions):
        if validate(spec, submission, answers):  # problems: the submission scores NaN throughout
            continue
        sub = submission.set_index(spec.id_column).loc[answers[spec.id_column]].reset_index()
        cols = list(spec.prediction_columns)
        y_pred = sub[cols] if len(cols) > 1 else sub[cols[0]]
        for i, rows in enumerate(draws):
            out[i, j] = _resample_score(spec, answers, sub, y_true, y_pred, rows)
    return out


def _resample_score(spec, answers, sub, y_true, y_pred, rows) -> float:
    try:
        if spec.grade_fn is not None:
            fresh = np.arange(len(rows))  # resampled rows repeat ids: give each draw its own id
            a, s = answers.iloc[rows].reset_index(drop=True), sub.iloc[rows].reset_index(drop=True)
            a[spec.id_column], s[spec.id_column] = fresh, fresh
            result = grade(spec, s, a)
            return result.score if result.valid and result.score is not None else np.nan
        score = spec.metric(y_true.iloc[rows].reset_index(drop=True), y_pred.iloc[rows].reset_index(drop=True))
    except Exception:  # noqa: BLE001 - a resample the metric cannot score (one class only) is skipped
        return np.nan
    return round(score, SCORE_DECIMALS) if np.isfinite(score) else np.nan


def resampled_se(first: np.ndarray, second: np.ndarray | None = None) -> float:
    """A standard error from columns of :func:`resampled_scores`: of one submission's score, or of the
    difference of two scored on the same resamples (resamples where either is NaN are skipped)."""
    values = first if second is None else first - second
    values = values[~np.isnan(values)]
    return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")

