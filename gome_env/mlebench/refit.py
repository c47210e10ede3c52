"""``final_refit``: the submitted solution runs once more with the dev rows back in train.

An MLE-bench agent trains its final submission on every labelled row; an episode here holds a dev
split back to score steps. With ``final_refit=True`` the node chosen at submission is run again,
cold, on the competition's public files as published (dev rows and their labels in train, plus the
workspace's dev files so the program runs unchanged), and its ``submission/test.csv`` is graded on
the private test answers. The result is ``info["final"]["refit"]``; the episode's own figures
(``test_score``, ``medal``...) are kept, so a refit never hides what the search itself found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gome_env.env import MLEEnv
from gome_env.isolation.executor import Executor
from gome_env.grading.grader import grade_file
from gome_env.grading.medals import Rank
from gome_env.mlebench.adapter import refit_data
from gome_env.records import MappingRecord

__all__ = ["RefitResult", "MLEBenchEnv", "run_refit"]


@dataclass(frozen=True, eq=False)
class RefitResult(MappingRecord):
    """The refit run of one node: ``status`` is ``ok``, ``runtime_error``, ``timeout``,
    ``memory_exceeded`` or ``invalid_submission``; scores are None unless the test file is valid.
    ``rank`` (a ``Rank``: medal, flags, percentile) reads flat, as the record's own fields."""

    node_id: int
    status: str
    test_score: float | None = None
    valid_submission: bool = False
    rank: Rank = field(default_factory=Rank)
    runtime_s: float | None = None
    reason: str | None = None
    data: str = ""  # the folder the refit run read as data/

    _embedded = ("rank",)


def run_refit(env: MLEEnv, node_id: int) -> RefitResult:
    """Run node ``node_id``'s files on the refit data and grade its test predictions."""
    try:
        data = refit_data(env.prepared)
    except OSError as exc:  # the competition folder moved or went away since preparation
        return RefitResult(node_id, "runtime_error", reason=f"cannot lay out the refit data: {exc}")
    workspace = Path(env.workdir) / "refit-workspace"
    executor = Executor(env.sandbox, workspace, data, env.limits, mode="cold")
    try:
        run = executor.run(env.files(node_id), env.limits)
    finally:
        executor.close()
    base = {"node_id": node_id, "runtime_s": run.runtime_s, "data": str(data)}
    if run.timed_out:
        return RefitResult(status="timeout", reason=f"stopped after {env.limits.timeout_s:g} s", **base)
    if run.memory_exceeded:
        return RefitResult(status="memory_exceeded", reason=f"over {env.limits.memory_mb} MB", **base)
    if run.returncode != 0:
        return RefitResult(status="runtime_error", reason=f"exit code {run.returncode}: {run.stderr[-300:]}", **base)
    test = grade_file(env.spec_task, workspace / "submission" / "test.csv", env.prepared.answers("test"))
    if not test.valid:
        return RefitResult(status="invalid_submission", reason="; ".join(test.problems)[:300], **base)
    return RefitResult(status="ok", test_score=test.score, valid_submission=True, rank=env.leaderboard.rank(test.score), **base)


class MLEBenchEnv(MLEEnv):
    """An MLEEnv whose ``final`` also holds the refit run (``final_refit=True``), once per node."""

    def __init__(self, task, final_refit: bool = False, **kwargs) -> None:
        super().__init__(task, **kwargs)
        self.final_refit = bool(final_refit)
        self._refits: dict[int, RefitResult] = {}

    def final(self, node_id: int | None = None) -> dict:
        out = super().final(node_id)
        if self.final_refit:
            chosen = out["node_id"]
            if chosen not in self._refits:
                self._refits[chosen] = run_refit(self, chosen)
            refit = self._refits[chosen].to_dict()
            try:
                out["refit"] = refit
            except (TypeError, KeyError):  # a record without the field: keep its fields, as a plain mapping
                out = {**out.to_dict(), "refit": refit}
        return out
