"""One evaluation: a set of files in, an :class:`Outcome` out (the step's diagnostics, the
private test grade and the run).

``Evaluator.evaluate`` checks syntax, lays the files out and runs ``python solution.py``
(``gome_env.isolation.executor``; the ``RunResult`` says warm or cold and whether the worker was
lost), notices a run that touched the private answers or the public data (subprocess backend),
classifies the outcome (``timeout``, ``memory_exceeded``, ``runtime_error``), and grades the dev
predictions, and the test predictions when ``grade_test`` is on. The test grade goes back to the
env only, never into the diagnostics; ``gome_env.commit.commit`` then puts the outcome in the tree.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from gome_env import diagnostics as dx
from gome_env.constants import SOLUTION
from gome_env.grading.grader import GradeResult, grade_file
from gome_env.isolation.executor import Executor
from gome_env.isolation.procio import RunResult
from gome_env.isolation.sandbox import Sandbox
from gome_env.isolation.tripwire import PrivateTripwire
from gome_env.step_records import ErrorAnalysis, Execution, PatchInfo, Resources, Submission
from gome_env.tasks.task import PreparedTask, TaskSpec, prepare

__all__ = ["Evaluator", "Outcome"]


@dataclass
class Outcome:
    """What evaluating one set of files gave: its ``diagnostics`` (not yet in the tree: no ids,
    ``is_best`` or best score), the private ``test`` grade (None when the run failed; validity
    only when test grading is off; never shown to a policy), the ``files`` and the ``run`` (None
    when nothing ran)."""

    diagnostics: dx.Diagnostics
    files: dict[str, str]
    test: GradeResult | None = None
    run: RunResult | None = None

    @property
    def status(self) -> str:
        return self.diagnostics.status

    def to_dict(self) -> dict:
        """The diagnostics and whether a test grade exists (its score stays private)."""
        return {"diagnostics": self.diagnostics.to_dict(), "test_graded": self.test is not None and self.test.score is not None}


class Evaluator:
    """Runs and grades a task's solutions in one workspace, with one executor.

    ``grade_test``: score the test predictions too (``MLEEnv``'s default, for ``final()``); off
    (``EnvPool``, ``GomeEnvironment``, RL training) it checks their validity and never computes
    the metric on the test split."""

    def __init__(self, spec: TaskSpec, prepared: PreparedTask, sandbox: Sandbox, executor: Executor, workspace: Path,
                 detail: str, grade_test: bool = True) -> None:
        self.spec, self.prepared, self.sandbox, self.executor = spec, prepared, sandbox, executor
        self.workspace, self.detail, self.grade_test = workspace, detail, grade_test
        self.dev_answers: pd.DataFrame = prepared.answers("dev")
        self.test_answers: pd.DataFrame = prepared.answers("test")
        self._tripwire: PrivateTripwire | None = None

    def blank(self, patch: Any = None) -> dx.Diagnostics:
        """Diagnostics with this task's metric and sandbox and nothing else yet."""
        return dx.Diagnostics(metric=self.spec.metric_name, higher_is_better=self.spec.higher_is_better,
                              patch=PatchInfo.of(patch), sandbox=self.sandbox.name)

    def evaluate(self, files: dict[str, str], patch: Any = None, timeout_s: float | None = None) -> Outcome:
        """The outcome of running ``files`` (``patch``: what applying the action did, a
        ``PatchResult`` or ``PatchInfo``; None for the baseline). ``timeout_s``: default the
        executor's limit."""
        timeout_s = self.executor.limits.timeout_s if timeout_s is None else timeout_s
        d = self.blank(patch)
        if d.patch is not None and not d.patch.applied:
            d.update(status="patch_failed", reason=d.patch.error)
            return Outcome(d, files)
        syntax = dx.check_syntax(files)
        if syntax:
            d.update(status="syntax_error", execution=Execution(exception=syntax),
                     reason=f"{syntax['type']} in {syntax['file']} line {syntax['line']}: {syntax['message']}")
            return Outcome(d, files)
        if SOLUTION not in files:
            d.update(status="runtime_error", reason=f"{SOLUTION} was deleted: there is nothing to run")
            return Outcome(d, files)

        tripwire = self._private_tripwire()
        if tripwire is not None:
            tripwire.arm()
        run = self.run(files, timeout_s)
        touched = tripwire.check() if tripwire is not None else []
        damaged = tripwire.changed_public() if tripwire is not None else []
        if damaged:  # the cache's own copy was rewritten in place: rebuild it from the source
            prepare(self.spec, verify_files=True)
        limits = self.executor.limits
        d.execution = Execution.of_run(run, dx.parse_exception(run.stderr, files, workspace=str(self.workspace)))
        d.warnings = dx.extract_warnings(run.stderr)
        if run.worker_lost:  # reported, replaced, and the step re-run cold
            d.warnings.append({"category": "WorkerLost", "message": run.worker_lost[:300], "count": 1})
        if run.output_abandoned:  # a process outside the step held its output open
            d.warnings.append({"category": "OutputAbandoned", "count": 1,
                               "message": "a process that left the step kept its output open; the rest of the output was dropped"})
        d.resources = Resources.of_run(run, limits, timeout_s)
        outcome = Outcome(d, files, run=run)
        forks = f" (its process limit of {limits.max_processes} was reached)" if run.process_limit_hit else ""
        if touched:  # only the subprocess backend can reach the answers at all
            d.update(status="runtime_error", reason=f"the run read or touched the private answers ({', '.join(touched)}): its scores are void")
        elif damaged:
            d.update(status="runtime_error", reason=f"the run changed the task's read-only data ({', '.join(damaged)}); it was restored and the run's scores are void")
        elif run.timed_out:
            d.update(status="timeout", reason=f"the run was stopped after {timeout_s:g} s{forks}")
        elif run.output_limited:
            d.update(status="runtime_error", reason=f"the run printed more than {limits.output_bytes} bytes and was stopped")
        elif run.memory_exceeded:
            d.update(status="memory_exceeded", reason=f"the run exceeded the memory limit of {limits.memory_mb} MB")
        elif run.returncode != 0:
            exc = d.execution.exception
            why = f"{exc['type']}: {exc['message'][:200]}" if exc else f"exit code {run.returncode}" + (f" ({run.signal})" if run.signal else "")
            d.update(status="runtime_error", reason=why + forks)
        else:
            self._grade(outcome)
        return outcome

    def _grade(self, outcome: Outcome) -> None:
        """Grade the run's submission files into ``outcome`` (dev always; test as ``grade_test`` says)."""
        d = outcome.diagnostics
        sub_dir = self.workspace / "submission"
        linked = [name for name in ("", "dev.csv", "test.csv") if (sub_dir / name).is_symlink()]
        if linked:  # the env would read whatever the link names (the private answers, say)
            d.update(status="invalid_submission", reason=f"submission/{linked[0]} is a symbolic link; write regular files",
                     submission=Submission(False, [f"submission/{name} is a symbolic link" for name in linked]))
            return
        dev = grade_file(self.spec, sub_dir / "dev.csv", self.dev_answers)
        test = grade_file(self.spec, sub_dir / "test.csv", self.test_answers, score=self.grade_test)
        outcome.test = test
        problems = [f"dev.csv: {p}" for p in dev.problems] + [f"test.csv: {p}" for p in test.problems]
        d.submission = Submission(dev.valid and test.valid, problems)
        if not dev.valid or not test.valid:
            d.update(status="invalid_submission", reason="; ".join(problems)[:500])
            return
        d.dev_score = dev.score
        if self.detail == "full":
            try:
                d.error_analysis = ErrorAnalysis.of(dx.error_analysis(self.spec, dev.submission, self.dev_answers))
            except Exception as exc:  # noqa: BLE001 - analysis is a bonus, never a failure
                d.error_analysis = ErrorAnalysis(kind="unavailable", error=f"{type(exc).__name__}: {exc}")

    def run(self, files: dict[str, str], timeout_s: float) -> RunResult:
        """Lay out exactly ``files`` (plus the read-only data) in the workspace and run the solution
        (warm or cold: ``gome_env.isolation.executor``)."""
        limits = self.executor.limits if timeout_s == self.executor.limits.timeout_s else replace(self.executor.limits, timeout_s=timeout_s)
        return self.executor.run(files, limits)

    def _private_tripwire(self) -> PrivateTripwire | None:
        """Under the subprocess backend the answers are reachable: notice when a run touches them."""
        if self.sandbox.name != "subprocess":
            return None
        if getattr(self, "_tripwire", None) is None:
            self._tripwire = PrivateTripwire(self.prepared.private, self.prepared.public)
        return self._tripwire
