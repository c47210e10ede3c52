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
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Sequence

from gome_env.diagnostics import Diagnostics
from gome_env.patching.diffs import apply_diff
from gome_env.env import MLEEnv
from gome_env.evaluation import Evaluator
from gome_env.tasks.task import TaskSpec, load_spec

__all__ = ["EnvPool", "StepResult", "resolve_task"]

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


class _Worker:
    """One evaluation slot: an env's workspace and executor, and an evaluator over them that
    checks the test predictions' validity without scoring them."""

    def __init__(self, env: MLEEnv) -> None:
        self.env = env
        self.evaluator = Evaluator(env.spec_task, env.prepared, env.sandbox, env.executor, env.workspace, env.detail)
        self.evaluator.grade_test = False


class EnvPool:
    """Batched branching steps on one task (see the module docstring).

    ``task``: a task name, a Gymnasium id or a ``TaskSpec``; ``size``: evaluation workers (each a
    warm executor with its own workspace: steps run ``size`` at a time); ``env_kwargs``: as for
    ``MLEEnv`` (``reward``, ``step_timeout_s``, ``memory_limit_mb``, ``sandbox``, ``threads``,
    ``diagnostics``, ``executor``); ``max_steps`` and ``time_budget_s`` do not limit the pool.
    Under the ``subprocess`` sandbox the private-answers tripwire cannot tell concurrent runs
    apart, so runs go one at a time there (``parallel`` says which)."""

    def __init__(self, task: str | TaskSpec, size: int = 2, **env_kwargs: Any) -> None:
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"size must be a positive int, got {size!r}")
        self.spec = resolve_task(task)
        self.size = size
        self.env_kwargs = dict(env_kwargs)
        self.env_kwargs.setdefault("max_steps", 1_000_000)
        self.env = MLEEnv(self.spec, **self.env_kwargs)
        self._workers: list[_Worker] = []
        self._closed = False
        try:
            self._workers.append(_Worker(self.env))
            for i in range(1, size):
                kwargs = dict(self.env_kwargs)
                if kwargs.get("workdir") is not None:  # one workspace per worker
                    kwargs["workdir"] = Path(kwargs["workdir"]) / f"worker{i}"
                self._workers.append(_Worker(MLEEnv(self.spec, **kwargs)))
            for w in self._workers:  # warm workers start side by side, not at the first batch
                w.env.executor.start()
        except BaseException:
            self.close()
            raise
        self.parallel = self.env.sandbox.name != "subprocess"
        self._free: queue.Queue[_Worker] = queue.Queue()
        for w in self._workers:
            self._free.put(w)
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
        return all(w.env.executor.wait_ready(timeout) for w in self._workers)

    def files(self, node_id: int) -> dict[str, str]:
        """A node's editable files."""
        return self.env.files(node_id)

    def observe(self, node_id: int) -> tuple[dict, dict]:
        """A node's observation and info (nothing is run)."""
        return self.env.checkout(node_id)

    def step_many(self, actions: Sequence[tuple[int, str]]) -> list[StepResult]:
        """Apply each ``diff`` to its ``node_id`` and run them in parallel; one ``(obs, reward,
        info)`` per action, in input order. ``info`` holds ``diagnostics``, ``node_id`` (None when
        no node was made) and ``parent_id``."""
        self._check_open()
        with self._lock:
            if not self._reset_done:
                self.reset()
            previous_best = self._best_score()
            jobs = [self._prepare(node_id, diff) for node_id, diff in actions]
            futures = [self._threads.submit(self._evaluate, job) if job["run"] else None for job in jobs]
            results = []
            for job, future in zip(jobs, futures):
                diagnostics = future.result() if future is not None else job["diagnostics"]
                results.append(self._record(job, diagnostics, previous_best))
            return results

    def executor_status(self) -> list:
        """Each worker's ``ExecutorStats``."""
        return [w.env.executor_status() for w in self._workers]

    def workdirs(self) -> list[Path]:
        """Each worker's workdir (removed by ``close`` when the pool made it)."""
        return [w.env.workdir for w in self._workers]

    def close(self) -> None:
        """Stop every worker and remove the pool's workdirs (idempotent)."""
        self._closed = True
        threads = getattr(self, "_threads", None)
        if threads is not None:
            threads.shutdown(wait=True)
        for w in getattr(self, "_workers", []):
            w.env.close()
        if not getattr(self, "_workers", None) and getattr(self, "env", None) is not None:
            self.env.close()

    def __enter__(self) -> "EnvPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ helpers

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the pool is closed")

    def _best_score(self) -> float | None:
        best = self.tree.best()
        return best.dev_score if best is not None else None

    def _prepare(self, node_id: Any, diff: Any) -> dict:
        """Apply the diff on the host (cheap); the evaluator reports a diff that did not apply as
        ``patch_failed`` without running anything. An unknown node makes no job to run."""
        if not isinstance(node_id, int) or isinstance(node_id, bool) or node_id not in self.tree.nodes:
            d = self._blank()
            d.update(status="patch_failed", reason=f"no node {node_id!r} in the tree (ids 0..{len(self.tree) - 1})")
            return {"node_id": None, "diff": diff if isinstance(diff, str) else "", "run": False, "diagnostics": d}
        files, patch = apply_diff(self.tree.files(node_id), diff)
        return {"node_id": node_id, "diff": diff if isinstance(diff, str) else "", "files": files,
                "patch": patch.as_dict(), "run": True}

    def _blank(self, patch: dict | None = None) -> Diagnostics:
        spec = self.spec
        return Diagnostics(metric=spec.metric_name, higher_is_better=spec.higher_is_better, patch=patch,
                           sandbox=self.env.sandbox.name)

    def _evaluate(self, job: dict) -> Diagnostics:
        worker = self._free.get()
        try:
            limits = worker.env.limits
            diagnostics, _test = worker.evaluator.evaluate(job["files"], patch=job["patch"], timeout_s=limits.timeout_s)
            return diagnostics  # the test grade (None, or validity only) is dropped here
        except Exception as exc:  # noqa: BLE001 - a host-side failure is the step's status, not the batch's crash
            d = self._blank(patch=job["patch"])
            d.update(status="runtime_error", reason=f"the environment failed to run the step: {type(exc).__name__}: {exc}")
            return d
        finally:
            self._free.put(worker)

    def _record(self, job: dict, d: Diagnostics, previous_best: float | None) -> StepResult:
        env = self.env
        direction = self.spec.metric.direction
        ok = d["status"] == "ok"
        d["is_best"] = ok and direction.better(d["dev_score"], previous_best)
        d["best_dev_score"] = d["dev_score"] if d["is_best"] else previous_best
        reward = float(env.reward_fn(d, env.reward_context(previous_best)))
        if job["node_id"] is None:
            obs, _ = env.checkout(0)
            return obs, reward, {"diagnostics": d, "node_id": None, "parent_id": None, "steps_left": env.steps_left}
        self.steps += 1
        node = self.tree.add(job["node_id"], self.steps, job["diff"], job["files"], d)
        d["node_id"], d["parent_id"] = node.id, node.parent_id
        obs, info = env.checkout(node.id)
        info["parent_id"] = node.parent_id
        info["diagnostics"]["best_dev_score"] = d["best_dev_score"]  # the pre-batch view, not the running best
        return obs, reward, info
