"""One evaluation: a set of files in, diagnostics (and the private test grade) out.

``Evaluator.evaluate`` checks syntax, lays the files out and runs ``python solution.py``
(``gome_env.isolation.executor``), notices a run that touched the private answers or the public data
(subprocess backend), classifies the outcome (``timeout``, ``memory_exceeded``,
``runtime_error``), and grades the dev and test predictions. The test grade goes back to the env
only, never into the diagnostics.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from gome_env import diagnostics as dx
from gome_env.constants import SOLUTION
from gome_env.isolation.executor import Executor
from gome_env.grading.grader import GradeResult, grade_file
from gome_env.isolation.procio import RunResult
from gome_env.isolation.sandbox import Sandbox
from gome_env.tasks.task import PreparedTask, TaskSpec, prepare
from gome_env.isolation.tripwire import PrivateTripwire

__all__ = ["Evaluator"]


class Evaluator:
    """Runs and grades a task's solutions in one workspace, with one executor. ``grade_test =
    False`` (``EnvPool``, RL training) checks the test predictions' validity and never scores them."""

    grade_test = True

    def __init__(self, spec: TaskSpec, prepared: PreparedTask, sandbox: Sandbox, executor: Executor, workspace: Path,
                 detail: str) -> None:
        self.spec, self.prepared, self.sandbox, self.executor = spec, prepared, sandbox, executor
        self.workspace, self.detail = workspace, detail
        self.dev_answers: pd.DataFrame = prepared.answers("dev")
        self.test_answers: pd.DataFrame = prepared.answers("test")
        self._tripwire: PrivateTripwire | None = None

    def evaluate(self, files: dict[str, str], patch: dict | None, timeout_s: float) -> tuple[dx.Diagnostics, GradeResult | None]:
        """Diagnostics (and the private test grade) for a set of files."""
        d = dx.Diagnostics(metric=self.spec.metric_name, higher_is_better=self.spec.higher_is_better, patch=patch,
                           sandbox=self.sandbox.name)
        if patch is not None and not patch["applied"]:
            d.update(status="patch_failed", reason=patch["error"])
            return d, None
        syntax = dx.check_syntax(files)
        if syntax:
            d.update(status="syntax_error", execution={"exception": syntax}, reason=f"{syntax['type']} in {syntax['file']} line {syntax['line']}: {syntax['message']}")
            return d, None
        if SOLUTION not in files:
            d.update(status="runtime_error", reason=f"{SOLUTION} was deleted: there is nothing to run")
            return d, None

        tripwire = self._private_tripwire()
        if tripwire is not None:
            tripwire.arm()
        lost_before = self.executor.stats["lost"]
        run = self.run(files, timeout_s)
        touched = tripwire.check() if tripwire is not None else []
        damaged = tripwire.changed_public() if tripwire is not None else []
        if damaged:  # the cache's own copy was rewritten in place: rebuild it from the source
            prepare(self.spec, verify_files=True)
        d["execution"] = self._execution_record(run, files)
        d["execution"]["executor"] = "warm" if self.executor.stats["lost"] == lost_before and self.executor.last_run_warm else "cold"
        d["warnings"] = dx.extract_warnings(run.stderr)
        if self.executor.stats["lost"] > lost_before:  # reported, replaced, and the step re-run cold
            d["warnings"].append({"category": "WorkerLost", "message": (self.executor.last_error or "")[:300], "count": 1})
        if run.output_abandoned:  # a process outside the step held its output open
            d["warnings"].append({"category": "OutputAbandoned", "count": 1,
                                  "message": "a process that left the step kept its output open; the rest of the output was dropped"})
        d["resources"] = {
            "runtime_s": run.runtime_s,
            "timeout_s": timeout_s,
            "peak_memory_mb": run.peak_memory_mb,
            "memory_limit_mb": self.executor.limits.memory_mb,
            "output_bytes": run.output_bytes,
            "output_limit_bytes": self.executor.limits.output_bytes,
        }
        forks = f" (its process limit of {self.executor.limits.max_processes} was reached)" if getattr(run, "process_limit_hit", False) else ""
        if touched:  # only the subprocess backend can reach the answers at all
            d.update(status="runtime_error", reason=f"the run read or touched the private answers ({', '.join(touched)}): its scores are void")
            return d, None
        if damaged:
            d.update(status="runtime_error", reason=f"the run changed the task's read-only data ({', '.join(damaged)}); it was restored and the run's scores are void")
            return d, None
        if run.timed_out:
            d.update(status="timeout", reason=f"the run was stopped after {timeout_s:g} s{forks}")
            return d, None
        if run.output_limited:
            d.update(status="runtime_error", reason=f"the run printed more than {self.executor.limits.output_bytes} bytes and was stopped")
            return d, None
        if run.memory_exceeded:
            d.update(status="memory_exceeded", reason=f"the run exceeded the memory limit of {self.executor.limits.memory_mb} MB")
            return d, None
        if run.returncode != 0:
            exc = d["execution"]["exception"]
            why = f"{exc['type']}: {exc['message'][:200]}" if exc else f"exit code {run.returncode}" + (f" ({run.signal})" if run.signal else "")
            d.update(status="runtime_error", reason=why + forks)
            return d, None

        sub_dir = self.workspace / "submission"
        linked = [name for name in ("", "dev.csv", "test.csv") if (sub_dir / name).is_symlink()]
        if linked:  # the env would read whatever the link names (the private answers, say)
            d.update(status="invalid_submission", reason=f"submission/{linked[0]} is a symbolic link; write regular files",
                     submission={"valid": False, "problems": [f"submission/{name} is a symbolic link" for name in linked]})
            return d, None
        dev = grade_file(self.spec, sub_dir / "dev.csv", self.dev_answers)
        test = grade_file(self.spec, sub_dir / "test.csv", self.test_answers, score=self.grade_test)
        problems = [f"dev.csv: {p}" for p in dev.problems] + [f"test.csv: {p}" for p in test.problems]
        d["submission"] = {"valid": dev.valid and test.valid, "problems": problems}
        if not dev.valid or not test.valid:
            d.update(status="invalid_submission", reason="; ".join(problems)[:500])
            return d, test
        d["dev_score"] = dev.score
        if self.detail == "full":
            try:
                d["error_analysis"] = dx.error_analysis(self.spec, dev.submission, self.dev_answers)
            except Exception as exc:  # noqa: BLE001 - analysis is a bonus, never a failure
                d["error_analysis"] = {"kind": "unavailable", "error": f"{type(exc).__name__}: {exc}"}
        return d, test

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

    def _execution_record(self, run: RunResult, files: dict[str, str]) -> dict:
        return {
            "returncode": run.returncode,
            "signal": run.signal,
            "runtime_s": run.runtime_s,
            "peak_memory_mb": run.peak_memory_mb,
            "timed_out": run.timed_out,
            "memory_exceeded": run.memory_exceeded,
            "output_limited": run.output_limited,
            "stdout_head": run.stdout[: dx.SHOWN_CHARS],
            "stdout_tail": run.stdout[-dx.SHOWN_CHARS :] if len(run.stdout) > dx.SHOWN_CHARS else "",
            "stderr_head": run.stderr[: dx.SHOWN_CHARS],
            "stderr_tail": run.stderr[-dx.SHOWN_CHARS :] if len(run.stderr) > dx.SHOWN_CHARS else "",
            "exception": dx.parse_exception(run.stderr, files, workspace=str(self.workspace)),
            "leftover_processes_killed": run.leftover_processes_killed,
        }
