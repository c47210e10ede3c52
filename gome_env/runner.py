"""``StepRunner``: one place where a task's steps run and are graded.

A workdir (a temporary folder made here, or one given), its ``workspace``, an ``Executor`` over
it (the warm worker) and an ``Evaluator`` over both. ``MLEEnv`` holds one; ``EnvPool`` holds one
per worker. ``close()`` (or garbage collection) stops the worker and removes a workdir made here.

The pool's worker surface (``start``, ``evaluate``, ``wait_ready``, ``status``, ``refresh``,
``sandbox_name``, ``node_id``, ``workdir``, ``close``) is shared with a Ray actor's handle
(``gome_env.raypool.RayWorker``), so the pool treats local and remote workers alike.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any

from gome_env.evaluation import Evaluator, Outcome
from gome_env.isolation.executor import Executor, ExecutorStats
from gome_env.isolation.procio import Limits
from gome_env.isolation.sandbox import Sandbox
from gome_env.tasks.task import PreparedTask, TaskSpec

__all__ = ["StepRunner"]


def _release(executor: Executor, workdir: Path | None) -> None:
    executor.close()
    if workdir is not None:
        shutil.rmtree(workdir, ignore_errors=True)


class StepRunner:
    """A workdir, its workspace, an executor and an evaluator (see the module docstring).

    ``mode``: the executor's (``"warm"`` or ``"cold"``); ``detail``: the diagnostics level;
    ``grade_test``: whether the evaluator scores the test predictions (``Evaluator``)."""

    def __init__(self, spec: TaskSpec, prepared: PreparedTask, sandbox: Sandbox, limits: Limits, *, mode: str = "warm",
                 detail: str = "full", grade_test: bool = True, workdir: str | Path | None = None) -> None:
        self.own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix=f"gome-{spec.id}-")).resolve()
        self.workspace = self.workdir / "workspace"
        try:
            self.executor = Executor(sandbox, self.workspace, prepared.public, limits, mode=mode)
        except BaseException:
            if self.own_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)
            raise
        self._finalizer = weakref.finalize(self, _release, self.executor, self.workdir if self.own_workdir else None)
        self.evaluator = Evaluator(spec, prepared, sandbox, self.executor, self.workspace, detail, grade_test=grade_test)

    node_id: str | None = None  # a local worker: on no Ray node

    @property
    def sandbox_name(self) -> str:
        return self.evaluator.sandbox.name

    def start(self) -> None:
        """Start the warm worker now (warm workers of a pool start side by side, not at the first batch)."""
        self.executor.start()

    def evaluate(self, files: dict[str, str], patch: Any) -> Outcome:
        """Run and grade ``files`` (``patch``: what made them), as the evaluator does."""
        return self.evaluator.evaluate(files, patch)

    def wait_ready(self, timeout: float) -> bool:
        return self.executor.wait_ready(timeout)

    def status(self) -> ExecutorStats:
        return self.executor.status()

    def refresh(self) -> "StepRunner":
        return self

    def close(self) -> None:
        """Stop the warm worker and remove the workdir if it was made here (idempotent)."""
        self._finalizer()
