"""``EnvPool``: batched, branching steps over warm workers, for RL trainers.

A trainer such as GRPO samples a *group* of edits from one state and needs all of them scored
from that same state. ``EnvPool(task, size=N, **env_kwargs)`` holds one ``MLEEnv`` (its node tree
is the pool's, shared by every step) and ``N`` evaluation workers, each with its own workspace
and warm executor. ``step_many([(node_id, diff), ...])`` applies each diff to its node, runs the
programs in parallel over the workers, and adds every result to the tree as a child of the node
it was given, in input order::

    pool = EnvPool("digits", size=2)
    obs, info = pool.reset(seed=0)                       # node 0: the cached baseline
    results = pool.step_many([(0, diff_a), (0, diff_b)])
    for obs, reward, info in results:
        print(info["node_id"], info["diagnostics"]["status"], reward)
    pool.close()                                         # stops every worker

Every failure is a status (a diff that does not apply is ``patch_failed``; an unknown node id
too, with no node made). Each result is scored as if it were the batch's only step: its
``is_best``, ``best_dev_score`` and reward compare it with the tree's best *before* the batch, so
the order of a group does not change its rewards. The pool grades the dev split only: the test
predictions are checked for validity but never scored, and there is no ``final()``.

``EnvPool(task, size, ray=True)`` (or ``ray="ADDRESS"``) places the workers as Ray actors spread
over a cluster's nodes (``gome_env.raypool``), so a trainer on GPU nodes steps environments on CPU
nodes; the tree, the baseline and every commit stay in the trainer's process, and the public
behaviour is the same.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence, Union

from gome_env.commit import Committed, commit
from gome_env.env import MLEEnv
from gome_env.evaluation import Outcome
from gome_env.patching.diffs import apply_diff
from gome_env.runner import StepRunner
from gome_env.tasks.task import TaskSpec, load_spec

if TYPE_CHECKING:  # Ray is optional: gome_env.raypool is imported only for EnvPool(ray=...)
    from gome_env.raypool import RayWorker

__all__ = ["EnvPool", "StepResult", "resolve_task"]

Worker = Union[StepRunner, "RayWorker"]  # a local runner, or a Ray actor's handle (gome_env.raypool)
StepResult = tuple[dict, float, dict]
"""``(obs, reward, info)`` for one ``(node_id, diff)`` of ``EnvPool.step_many``."""


def resolve_task(task: str | TaskSpec) -> TaskSpec:
    """A task as the benchmark names it (``"digits"``), by its Gymnasium id (``"gome/digits-v0"``),
    or a ``TaskSpec`` (returned as is)."""
    if isinstance(task, TaskSpec):
        return task
    name = str(task)
    if name.startswith("gome/") and name.endswith("-v0"):
        name = name[len("gome/"):-len("-v0")]
    return load_spec(name)


class EnvPool:
    """Batched branching steps on one task (see the module docstring).

    ``task``: a task name, a Gymnasium id or a ``TaskSpec``; ``size``: evaluation workers (each a
    ``StepRunner``: a warm executor with its own workspace; steps run ``size`` at a time);
    ``env_kwargs``: as for ``MLEEnv`` (``reward``, ``step_timeout_s``, ``memory_limit_mb``,
    ``sandbox``, ``threads``, ``diagnostics``, ``executor``); ``max_steps`` and ``time_budget_s``
    do not limit the pool, and ``grade_test`` is always off. The pool's ``env`` holds the tree,
    the baseline and the observations, and its runner is the first worker. Under the
    ``subprocess`` sandbox the private-answers tripwire cannot tell concurrent runs apart, so runs
    go one at a time there (``parallel`` says which).

    ``ray``: ``True`` or a cluster address places the ``size`` workers as Ray actors (see the
    module docstring; ``ray_options``: Ray actor options, default one CPU each, ``SPREAD``). The
    pool's own ``env`` then runs only the baseline, in a fresh process (``executor="cold"``);
    ``close`` stops the actors and leaves the process's Ray connection as it is (other pools, a
    ``GomeReward``'s one per task, may share it; ``ray.shutdown()`` ends it)."""

    def __init__(self, task: str | TaskSpec, size: int = 2, *, ray: bool | str | None = None,
                 ray_options: dict | None = None, **env_kwargs: Any) -> None:
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"size must be a positive int, got {size!r}")
        self.spec = resolve_task(task)
        self.size = size
        self.env_kwargs = {**env_kwargs, "grade_test": False}  # a training path: the test split is never scored
        self.env_kwargs.setdefault("max_steps", 1_000_000)
        self._closed = False
        mode = self.env_kwargs.get("executor", "warm")
        self.env = MLEEnv(self.spec, **({**self.env_kwargs, "executor": "cold"} if ray else self.env_kwargs))
        self._runners: list[Worker] = [] if ray else [self.env.runner]
        try:
            if ray:
                from gome_env import raypool

                raypool.connect(ray)
                self._runners = list(raypool.start_workers(
                    self.spec, size, sandbox=self.env_kwargs.get("sandbox", "auto"), limits=self.env.limits, mode=mode,
                    detail=self.env.detail, allow_drift=self.env.allow_drift, options=ray_options))
            for i in range(1, 0 if ray else size):
                workdir = self.env_kwargs.get("workdir")
                self._runners.append(StepRunner(
                    self.spec, self.env.prepared, self.env.sandbox, self.env.limits, mode=mode,
                    detail=self.env.detail, grade_test=False, workdir=Path(workdir) / f"worker{i}" if workdir is not None else None))
            for r in self._runners:  # warm workers start side by side, not at the first batch
                r.start()
        except BaseException:
            self.close()
            raise
        self.ray = bool(ray)
        self.parallel = all(r.sandbox_name != "subprocess" for r in self._runners)
        self._free: queue.Queue[Worker] = queue.Queue()
        for r in self._runners:
            self._free.put(r)
        self._threads = ThreadPoolExecutor(max_workers=size if self.parallel else 1, thread_name_prefix="gome-pool")
        self._lock = threading.Lock()  # one batch at a time
        self.steps = 0  # steps taken through the pool
        self._reset_done = False

    # ------------------------------------------------------------------ public API

    @property
    def tree(self):
        """The shared node tree (``gome_env.tree.Tree``)."""
        return self.env.tree

    def reset(self, *, seed: int | None = None) -> tuple[dict, dict]:
        """A fresh tree holding only the baseline (node 0, cached per task and settings)."""
        self._check_open()
        out = self.env.reset(seed=seed)
        self.steps = 0
        self._reset_done = True
        return out

    def wait_ready(self, timeout: float = 180.0) -> bool:
        """Wait until every warm worker can take a step (False if one did not within ``timeout``)."""
        return all(r.wait_ready(timeout) for r in self._runners)

    def worker_nodes(self) -> list[str | None]:
        """Each worker's Ray node id, asked now (None for a local worker)."""
        return [r.refresh().node_id for r in self._runners]

    def files(self, node_id: int) -> dict[str, str]:
        """A node's editable files."""
        return self.env.files(node_id)

    def observe(self, node_id: int) -> tuple[dict, dict]:
        """A node's observation and info (nothing is run)."""
        return self.env.observe(node_id)

    def step_many(self, actions: Sequence[tuple[int, str]]) -> list[StepResult]:
        """Apply each ``diff`` to its ``node_id`` and run them in parallel; one ``(obs, reward,
        info)`` per action, in input order. ``info`` holds ``diagnostics``, ``node_id`` (None when
        no node was made) and ``parent_id``."""
        self._check_open()
        with self._lock:
            if not self._reset_done:
                self.reset()
            best = self.tree.best()
            context = self.env.reward_context(best.dev_score if best is not None else None)  # the tree before the batch
            jobs = [self._prepare(node_id, diff) for node_id, diff in actions]
            futures = [self._threads.submit(self._evaluate, files, patch) if refused is None else None
                       for _, files, patch, _, refused in jobs]
            results = []
            for (parent_id, files, patch, diff, refused), future in zip(jobs, futures):
                if future is None:  # an unknown node: a status, and no node is made
                    outcome = Outcome(self.env.runner.evaluator.blank(), files)
                    outcome.diagnostics.update(status="patch_failed", reason=refused)
                    step = commit(self.tree, outcome, context, self.env.reward_fn, parent_id=None, keep=False)
                else:
                    self.steps += 1
                    step = commit(self.tree, future.result(), context, self.env.reward_fn, parent_id=parent_id,
                                  step=self.steps, diff=diff)
                results.append(self._result(step))
            return results

    def executor_status(self) -> list:
        """Each worker's ``ExecutorStats``."""
        return [r.status() for r in self._runners]

    def workdirs(self) -> list[Path]:
        """Each worker's workdir (removed by ``close`` when the pool made it; a Ray worker's is on
        its node)."""
        return [Path(r.workdir) for r in self._runners]

    def close(self) -> None:
        """Stop every worker and remove the pool's workdirs (idempotent)."""
        self._closed = True
        threads = getattr(self, "_threads", None)
        if threads is not None:
            threads.shutdown(wait=True)
        runners = getattr(self, "_runners", [])
        for r in runners:
            if r is not getattr(getattr(self, "env", None), "runner", None):
                r.close()
        if getattr(self, "env", None) is not None:
            self.env.close()

    def __enter__(self) -> "EnvPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ helpers

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the pool is closed")

    def _prepare(self, node_id: Any, diff: Any) -> tuple:
        """``(parent_id, files, patch, diff, refused)``: the diff applied on the host (cheap; the
        evaluator reports one that did not apply as ``patch_failed`` without running anything).
        ``refused`` says why nothing can run (an unknown node), else None."""
        text = diff if isinstance(diff, str) else ""
        if not isinstance(node_id, int) or isinstance(node_id, bool) or node_id not in self.tree.nodes:
            return None, {}, None, text, f"no node {node_id!r} in the tree (ids 0..{len(self.tree) - 1})"
        files, patch = apply_diff(self.tree.files(node_id), diff)
        return node_id, files, patch, text, None

    def _evaluate(self, files: dict[str, str], patch: Any) -> Outcome:
        runner = self._free.get()
        try:
            return runner.evaluate(files, patch)  # test grading is off: validity only (a lost Ray actor or node raises)
        except Exception as exc:  # noqa: BLE001 - a host-side failure is the step's status, not the batch's crash
            d = self.env.runner.evaluator.blank(patch)
            d.update(status="runtime_error", reason=f"the environment failed to run the step: {type(exc).__name__}: {exc}")
            return Outcome(d, files)
        finally:
            self._free.put(runner)

    def _result(self, step: Committed) -> StepResult:
        """The observation, reward and info of a committed step (the observation of node 0 when
        no node was made)."""
        obs, info = self.env.observe(step.node_id if step.node is not None else 0)
        if step.node is None:
            info.update(diagnostics=step.diagnostics, node_id=None, parent_id=None)
        return obs, step.reward, info
