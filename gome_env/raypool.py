"""``EnvPool``'s evaluation workers as Ray actors, so a trainer on GPU nodes steps environments on
CPU nodes (``EnvPool(task, size, ray=True)`` or ``ray="ADDRESS"``).

Each actor prepares the task on its own node (the data come from that node's cache, as for any
``MLEEnv``), holds one ``StepRunner`` (a warm executor, its workspace, an evaluator with test
grading off) and evaluates the files the pool sends it; the pool keeps the tree and commits every
result, as it does with local workers. Actors are spread over the nodes (Ray's ``SPREAD``
scheduling) and ask for one CPU each unless ``ray_options`` say otherwise. An actor that dies (its
node lost, say) is restarted by Ray on a live node, up to ``max_restarts`` times, and the step
it was running is sent again (``LOST_STEP_RETRIES`` times: an evaluation is a fresh run of the
files, so it can be repeated); past that the step comes back ``runtime_error`` (the pool's rule
for a host-side failure).

Ray is an optional dependency: it is imported when a pool asks for it.
"""

from __future__ import annotations

import time
from typing import Any

from gome_env.evaluation import Outcome
from gome_env.isolation.executor import ExecutorStats
from gome_env.isolation.procio import Limits
from gome_env.tasks.task import TaskSpec

__all__ = ["RayWorker", "start_workers", "connect", "DEFAULT_ACTOR_OPTIONS", "LOST_STEP_RETRIES"]

LOST_STEP_RETRIES = 3  # times a step whose actor died is sent again (to the restarted actor)

DEFAULT_ACTOR_OPTIONS: dict[str, Any] = {"num_cpus": 1, "scheduling_strategy": "SPREAD", "max_restarts": 3}


def connect(address: bool | str) -> bool:
    """Join Ray: a process already joined keeps its connection (whatever ``address`` says);
    otherwise ``True`` is ``ray.init()``'s default (``RAY_ADDRESS``, a cluster running here, or a
    new local one) and a string a cluster address. Returns whether this call made the connection
    (it stays: ``ray.shutdown()`` ends it)."""
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("EnvPool(ray=...) needs Ray: pip install -e '.[ray]'") from exc
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"log_to_driver": False, "include_dashboard": False}
    if isinstance(address, str):
        kwargs["address"] = address
    ray.init(**kwargs)
    return True


class _Actor:
    """One evaluation worker on some node (the body of the Ray actor)."""

    def __init__(self, spec: TaskSpec, sandbox: str, limits: Limits, mode: str, detail: str, allow_drift: bool) -> None:
        from gome_env.isolation.sandbox import make_sandbox
        from gome_env.runner import StepRunner
        from gome_env.tasks.task import prepare

        prepared = prepare(spec, allow_drift=allow_drift)
        box, _ = make_sandbox(sandbox)
        self.runner = StepRunner(spec, prepared, box, limits, mode=mode, detail=detail, grade_test=False)
        self.runner.start()  # warm workers start side by side, not at the first batch

    def info(self) -> dict:
        import ray

        return {"node_id": ray.get_runtime_context().get_node_id(), "sandbox": self.runner.sandbox_name,
                "workdir": str(self.runner.workdir)}

    def evaluate(self, files: dict[str, str], patch: Any) -> Outcome:
        return self.runner.evaluate(files, patch)  # test grading is off: validity only

    def wait_ready(self, timeout: float) -> bool:
        return self.runner.wait_ready(timeout)

    def status(self) -> ExecutorStats:
        return self.runner.status()

    def close(self) -> None:
        self.runner.close()


class RayWorker:
    """The driver's handle on one actor, with the surface the pool uses of a local worker
    (``gome_env.runner.StepRunner``)."""

    def __init__(self, handle: Any, info: dict) -> None:
        self.handle = handle
        self._update(info)

    def _update(self, info: dict) -> None:
        self.node_id: str = info["node_id"]
        self.sandbox_name: str = info["sandbox"]
        self.workdir: str = info["workdir"]  # on the actor's node

    def refresh(self) -> "RayWorker":
        """Ask the actor where it runs now (a restarted actor may have moved)."""
        import ray

        self._update(ray.get(self.handle.info.remote()))
        return self

    def evaluate(self, files: dict[str, str], patch: Any) -> Outcome:
        """The actor's outcome for ``files``; sent again while the actor is being restarted."""
        import ray

        for attempt in range(LOST_STEP_RETRIES + 1):
            try:
                return ray.get(self.handle.evaluate.remote(files, patch))
            except ray.exceptions.RayActorError:
                if attempt == LOST_STEP_RETRIES:
                    raise
                time.sleep(0.25 * 2 ** attempt)  # back off while Ray restarts the actor
        raise AssertionError("unreachable")

    def start(self) -> None:
        """Nothing to do: the actor started its warm worker when it was made."""

    def wait_ready(self, timeout: float) -> bool:
        import ray

        return bool(ray.get(self.handle.wait_ready.remote(timeout)))

    def status(self) -> ExecutorStats:
        import ray

        return ray.get(self.handle.status.remote())

    def close(self) -> None:
        import ray

        try:
            ray.get(self.handle.close.remote(), timeout=60)  # stop the warm worker, remove the workdir
        except Exception:  # noqa: BLE001 - a dead actor or node has nothing left to stop
            pass
        try:
            ray.kill(self.handle)
        except Exception:  # noqa: BLE001
            pass


def start_workers(spec: TaskSpec, size: int, *, sandbox: str, limits: Limits, mode: str, detail: str,
                  allow_drift: bool, options: dict | None = None) -> list[RayWorker]:
    """``size`` actors (``options``: Ray actor options over ``DEFAULT_ACTOR_OPTIONS``), each ready
    to evaluate; an actor that fails to start stops the others and raises."""
    import ray

    actor_cls = ray.remote(_Actor)
    opts = {**DEFAULT_ACTOR_OPTIONS, **(options or {})}
    handles = [actor_cls.options(**opts).remote(spec, sandbox, limits, mode, detail, allow_drift) for _ in range(size)]
    try:
        infos = ray.get([h.info.remote() for h in handles])
    except BaseException:
        for h in handles:
            try:
                ray.kill(h)
            except Exception:  # noqa: BLE001
                pass
        raise
    return [RayWorker(h, info) for h, info in zip(handles, infos)]
