"""Where runs execute: in the driver, in local worker processes, or as Ray tasks.

Every executor hands back the same thing, ``(spec, attempt, result)`` from ``_worker.execute_run``,
and streams each finished step to ``on_step(spec, attempt, step)`` in the driver, so the records
are the same whichever one ran them. Only the driver writes the output folder.

A run whose worker was lost (a local worker process died: ``BrokenProcessPool``; a Ray node or
worker died: ``NodeDiedError``, ``WorkerCrashedError``, ``ActorDiedError``, the task's result lost)
comes back failed with ``lost=True``, which the driver retries (``--retries``); ``no_capacity``
says when there is nowhere left to retry it.
"""

from __future__ import annotations

import multiprocessing as mp
import queue as queue_mod
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable

from scripts._runs import FAILED, RunSpec
from scripts._worker import execute_run, init_worker

__all__ = ["Executor", "InlineExecutor", "PoolExecutor", "RayExecutor", "make_executor", "ray_resources"]

OnStep = Callable[[RunSpec, str, dict], None]
Finished = tuple[RunSpec, str, dict]


def _failed(error: str, lost: bool = False) -> dict:
    return {"status": FAILED, "error": error, "traceback": None, "record": None, "steps": [], "lost": lost}


_BROKEN = "BrokenProcessPool: a worker process died (out of memory?)"
CLOSE_TIMEOUT_S = 60.0  # how long a finished pool's workers may take to exit before they are terminated


class Executor:
    capacity: int = 1

    def __init__(self, on_step: OnStep) -> None:
        self.on_step = on_step
        self.running: dict[Any, tuple[RunSpec, str]] = {}

    @property
    def in_flight(self) -> int:
        return len(self.running)

    def submit(self, spec: RunSpec, attempt: str) -> None:
        raise NotImplementedError

    def poll(self, timeout: float) -> list[Finished]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def no_capacity(self, spec: RunSpec) -> str | None:
        """Why a lost run cannot be retried now (no live worker can take it), else None."""
        return None

    def _by_key(self, key: str, attempt: str) -> RunSpec | None:
        for spec, att in self.running.values():
            if spec.key == key and att == attempt:
                return spec
        return None


class InlineExecutor(Executor):
    """One run at a time in the driver process (--workers 1): the model loads once, no pickling."""

    def submit(self, spec: RunSpec, attempt: str) -> None:
        self.running[len(self.running)] = (spec, attempt)

    def poll(self, timeout: float) -> list[Finished]:
        if not self.running:
            return []
        key = next(iter(self.running))
        spec, attempt = self.running.pop(key)
        result = execute_run(spec.to_dict(), attempt, sink=lambda step: self.on_step(spec, attempt, step))
        return [(spec, attempt, result)]


class PoolExecutor(Executor):
    """Local worker processes (spawn): each loads each model once. A worker that dies (e.g. out of
    memory) loses the runs then in flight (``lost``: the driver retries them); the pool is rebuilt,
    with a step queue of its own: a worker killed while it was writing a step leaves the old queue's
    lock held for good, and every later writer would block on it."""

    def __init__(self, on_step: OnStep, workers: int) -> None:
        super().__init__(on_step)
        self.capacity = workers
        self._ctx = mp.get_context("spawn")
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        self._queue = self._ctx.Queue()
        return ProcessPoolExecutor(self.capacity, mp_context=self._ctx, initializer=init_worker, initargs=(self._queue,))

    def submit(self, spec: RunSpec, attempt: str) -> None:
        future = self._pool.submit(execute_run, spec.to_dict(), attempt)
        self.running[future] = (spec, attempt)

    def _drain(self) -> None:
        while True:
            try:
                key, attempt, step = self._queue.get_nowait()
            except (queue_mod.Empty, EOFError, OSError):
                return
            spec = self._by_key(key, attempt)
            if spec is not None:
                self.on_step(spec, attempt, step)

    def poll(self, timeout: float) -> list[Finished]:
        self._drain()
        done, _ = wait(list(self.running), timeout=timeout, return_when=FIRST_COMPLETED)
        self._drain()
        finished: list[Finished] = []
        broken = False
        for future in done:
            spec, attempt = self.running.pop(future)
            finished.append((spec, attempt, self._result(future)))
            broken = broken or isinstance(future.exception(), BrokenProcessPool)
        if broken:  # every other run in the dead pool is lost too
            for future, (spec, attempt) in list(self.running.items()):
                finished.append((spec, attempt, _failed(_BROKEN, lost=True)))
            self.running.clear()
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
        return finished

    @staticmethod
    def _result(future: Future) -> dict:
        exc = future.exception()
        if exc is None:
            return future.result()
        if isinstance(exc, BrokenProcessPool):
            return _failed(_BROKEN, lost=True)
        return _failed(f"{type(exc).__name__}: {exc}")

    def close(self) -> None:
        """Stop the workers. Interrupted (runs still in flight), they are terminated; otherwise each
        exits once the driver has read the steps it still holds, so the step queue is read while they
        go (a worker cannot exit with unsent steps), and one still alive after ``CLOSE_TIMEOUT_S`` is
        terminated."""
        procs = list((getattr(self._pool, "_processes", None) or {}).values())
        interrupted = bool(self.running)
        self._pool.shutdown(wait=False, cancel_futures=interrupted)
        deadline = time.monotonic() + (0 if interrupted else CLOSE_TIMEOUT_S)
        for proc in procs:
            while proc.is_alive() and time.monotonic() < deadline:
                self._drain()
                proc.join(timeout=0.05)
            if proc.is_alive():
                proc.terminate()


def ray_resources(model: str, cluster_gpus: float, gpus_per_run: float | None, cpus_per_run: float,
                  served: bool = False) -> dict:
    """Resource hints of one run: an in-process vLLM engine gets a GPU where the cluster has any;
    a run whose model is served (``--serve``: the server's actor holds the GPUs) asks for CPUs only."""
    if served:
        gpus = 0.0
    elif gpus_per_run is not None:
        gpus = gpus_per_run
    elif model.startswith("vllm:") and cluster_gpus > 0:
        gpus = 1.0
    else:
        gpus = 0.0
    return {"num_cpus": cpus_per_run, "num_gpus": gpus}


def _ray_run(spec_dict: dict, attempt: str, step_queue: Any) -> dict:
    from scripts._worker import execute_run as run

    key = RunSpec.from_dict(spec_dict).key

    def sink(step: dict) -> None:
        step_queue.put((key, attempt, step))

    return run(spec_dict, attempt, sink=sink)


def init_ray(address: str, workers: int | None = None) -> Any:
    """``local``: a private Ray instance on this machine; ``auto``: the cluster in RAY_ADDRESS or
    running here, else a private one; anything else: that cluster's address."""
    import ray

    if ray.is_initialized():
        return ray
    common = {"include_dashboard": False, "log_to_driver": False, "ignore_reinit_error": True}
    if address == "local":
        ray.init(num_cpus=workers or None, **common)
    elif address == "auto":
        try:
            ray.init(address="auto", **common)
        except (ConnectionError, RuntimeError, ValueError):
            ray.init(num_cpus=workers or None, **common)
    else:
        ray.init(address=address, **common)
    return ray


def _lost_errors(ray: Any) -> tuple[type, ...]:
    """Ray's errors that say the worker, its node or the result was lost, not that the run failed."""
    ex = ray.exceptions
    return tuple(getattr(ex, name) for name in ("NodeDiedError", "WorkerCrashedError", "RayActorError",
                                                "ObjectLostError", "LocalRayletDiedError") if hasattr(ex, name))


class RayExecutor(Executor):
    """Each run is a Ray task with resource hints; steps stream back through a Ray queue kept on the
    driver's node (so a lost worker node does not take it along). A run whose node or worker died
    comes back ``lost``; a run that no live node can take any more fails with the reason."""

    CAPACITY_CHECK_S = 5.0  # after a loss, how often poll looks for runs that no live node can take
    CAPACITY_GRACE_S = 30.0  # ... and how long they may wait for one (a restarted or autoscaled node)

    def __init__(self, on_step: OnStep, address: str, workers: int | None = None,
                 gpus_per_run: float | None = None, cpus_per_run: float = 1.0) -> None:
        super().__init__(on_step)
        ray = init_ray(address, workers)
        from ray.util.queue import Queue

        self._ray = ray
        self._lost = _lost_errors(ray)
        self._queue = Queue(actor_options=self._on_this_node())
        self._remote = ray.remote(max_retries=0)(_ray_run)
        self._gpus = float(ray.cluster_resources().get("GPU", 0))
        self._gpus_per_run = gpus_per_run
        self._cpus_per_run = cpus_per_run
        self._checked = time.monotonic()
        self._seen_loss = False  # nodes only go missing after a loss: until then Ray's queue is trusted
        self._stranded_since: float | None = None
        self.capacity = 1 << 30  # Ray queues and schedules what does not fit yet

    def _on_this_node(self) -> dict:
        try:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            node = self._ray.get_runtime_context().get_node_id()
            return {"num_cpus": 0, "scheduling_strategy": NodeAffinitySchedulingStrategy(node, soft=True)}
        except Exception:  # noqa: BLE001 - a client connection has no node of its own
            return {"num_cpus": 0}

    def _options(self, spec: RunSpec) -> dict:
        return ray_resources(spec.model, self._gpus, self._gpus_per_run, self._cpus_per_run, spec.backend is not None)

    def submit(self, spec: RunSpec, attempt: str) -> None:
        ref = self._remote.options(**self._options(spec)).remote(spec.to_dict(), attempt, self._queue)
        self.running[ref] = (spec, attempt)

    def no_capacity(self, spec: RunSpec) -> str | None:
        need = self._options(spec)
        try:
            nodes = [n for n in self._ray.nodes() if n.get("Alive")]
        except Exception as exc:  # noqa: BLE001 - the cluster itself is gone
            return f"the Ray cluster cannot be reached ({type(exc).__name__}: {exc})"
        for node in nodes:
            res = node.get("Resources") or {}
            if res.get("CPU", 0) >= need["num_cpus"] and res.get("GPU", 0) >= need["num_gpus"]:
                return None
        return (f"no live node in the Ray cluster has {need['num_cpus']:g} CPU and {need['num_gpus']:g} GPU for it "
                f"({len(nodes)} node(s) alive)")

    def _drain(self) -> None:
        while True:
            try:
                items = self._queue.get_nowait_batch(max(1, self._queue.qsize()))
            except Exception:  # noqa: BLE001 - Empty
                return
            if not items:
                return
            for key, attempt, step in items:
                spec = self._by_key(key, attempt)
                if spec is not None:
                    self.on_step(spec, attempt, step)

    def _stranded(self) -> list[Finished]:
        """Runs that no live node has been able to take for ``CAPACITY_GRACE_S``: cancelled and
        failed with the reason (not ``lost``: there is nowhere to retry them)."""
        stranded = [(ref, spec, attempt, reason) for ref, (spec, attempt) in self.running.items()
                    if (reason := self.no_capacity(spec)) is not None]
        now = time.monotonic()
        if not stranded or self._stranded_since is None:
            self._stranded_since = now if stranded else None
            return []
        if now - self._stranded_since < self.CAPACITY_GRACE_S:
            return []
        out: list[Finished] = []
        for ref, spec, attempt, reason in stranded:
            self.running.pop(ref)
            try:
                self._ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001
                pass
            out.append((spec, attempt, _failed(f"NoCapacity: {reason}")))
        self._stranded_since = None
        return out

    def poll(self, timeout: float) -> list[Finished]:
        self._drain()
        if not self.running:
            time.sleep(min(timeout, 0.05))
            return []
        refs = list(self.running)
        ready, rest = self._ray.wait(refs, num_returns=1, timeout=timeout)
        if ready and rest:
            ready += self._ray.wait(rest, num_returns=len(rest), timeout=0)[0]
        self._drain()
        finished: list[Finished] = []
        for ref in ready:
            spec, attempt = self.running.pop(ref)
            try:
                result = self._ray.get(ref)
            except self._lost as exc:  # the node or the worker died under the run: a retry, not a failure
                self._seen_loss = True
                result = _failed(f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}",
                                 lost=True)
            except Exception as exc:  # noqa: BLE001 - a task error
                result = _failed(f"{type(exc).__name__}: {exc}")
            finished.append((spec, attempt, result))
        if self._seen_loss and not finished and time.monotonic() - self._checked > self.CAPACITY_CHECK_S:
            self._checked = time.monotonic()
            finished = self._stranded()
        return finished

    def close(self) -> None:
        for ref in list(self.running):
            try:
                self._ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001
                pass


def make_executor(on_step: OnStep, workers: int = 1, ray: str | None = None,
                  gpus_per_run: float | None = None, cpus_per_run: float = 1.0) -> Executor:
    if ray:
        return RayExecutor(on_step, ray, workers if workers > 1 else None, gpus_per_run, cpus_per_run)
    if workers <= 1:
        return InlineExecutor(on_step)
    return PoolExecutor(on_step, workers)
