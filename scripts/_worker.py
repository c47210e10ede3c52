"""One benchmark run, executed in a worker (the driver itself, a local process or a Ray task).

``execute_run`` never raises for a failing episode: it returns ``status="failed"`` with the error
and traceback, plus the steps finished before the failure. Models are loaded once per worker
process and cached by spec (a run's ``backend``, its served endpoint under ``--serve``, when it has one).

A policy name of the form ``package.module:factory`` names a custom policy factory, called as
``factory(model=backend, **policy_config)`` (how tests plug in a policy that raises).
"""

from __future__ import annotations

import importlib
import os
import shutil
import socket
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

from scripts._runs import FAILED, OK, RunSpec, run_facts

__all__ = ["execute_run", "load_cached_model", "init_worker", "set_parent_death_signal"]

_MODELS: dict[str, Any] = {}
_SINK: Any = None  # a multiprocessing queue (local pool) set by init_worker

StepSink = Callable[[dict], None]


def set_parent_death_signal() -> None:
    """Linux: die with SIGKILL when the parent process dies (so a killed benchmark leaves no
    workers behind that still write). A no-op elsewhere."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - not Linux / no libc: best effort
        pass


def init_worker(queue: Any) -> None:
    """ProcessPoolExecutor initializer: remember the step queue, die with the driver."""
    global _SINK
    _SINK = queue
    set_parent_death_signal()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def load_cached_model(spec: str) -> Any:
    """The backend for a model spec, loaded once per process."""
    if spec not in _MODELS:
        from policies.models import load_model

        _MODELS[spec] = load_model(spec)
    return _MODELS[spec]


def _make_policy(name: str, model_spec: str, config: dict) -> Any:
    """The policy, with the model loaded once per process (not at all for a policy that needs none)."""
    if ":" in name:
        module_name, _, attr = name.partition(":")
        factory = getattr(importlib.import_module(module_name), attr)
        return factory(model=load_cached_model(model_spec), **config)
    from policies import POLICIES, make_policy

    needs_model = getattr(POLICIES.get(name), "needs_model", True)
    return make_policy(name, model=load_cached_model(model_spec) if needs_model else None, **config)


def _make_env(spec: RunSpec, workdir: Path) -> Any:
    from gome_env.env import MLEEnv
    from gome_env.tasks.task import ENVS_DIR, load_spec

    task = load_spec(spec.task, Path(spec.envs_dir) if spec.envs_dir else ENVS_DIR)
    return MLEEnv(task, max_steps=spec.steps, time_budget_s=spec.time_budget_s, workdir=workdir, **spec.env_config)


def execute_run(spec_dict: dict, attempt: str, sink: StepSink | None = None) -> dict:
    """Run one episode. ``sink(step)`` (or the worker's queue) receives every finished step.

    Returns ``{"status", "error", "traceback", "record", "steps", "host", "worker_wall_s", "facts"}``
    (``facts``: ``scripts._runs.run_facts``, once the environment exists).
    A record whose ``stopped_by`` is ``"error"`` counts as failed too.
    """
    try:
        from policies import run_episode
    except ImportError:  # the package does not re-export it (yet)
        from policies.base import run_episode

    spec = RunSpec.from_dict(spec_dict)
    steps: list[dict] = []
    queue = _SINK

    def on_step(step: dict) -> None:
        steps.append(step)
        try:
            if sink is not None:
                sink(step)
            elif queue is not None:
                queue.put((spec.key, attempt, step))
        except Exception:  # noqa: BLE001 - streaming is best effort; the result carries the steps
            pass

    start = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix=f"gome-bench-{spec.run_id[:40]}-"))
    env = None
    result: dict[str, Any] = {"status": OK, "error": None, "traceback": None, "record": None}
    try:
        policy = _make_policy(spec.policy, spec.backend or spec.model, dict(spec.policy_config))
        env = _make_env(spec, workdir)
        result["facts"] = run_facts(env)  # pins, drift, the default solution's score, confinement
        record = run_episode(
            env, policy, max_steps=spec.steps, time_budget_s=spec.time_budget_s,
            token_budget=spec.token_budget, seed=spec.seed, on_step=on_step,
        )
        result["record"] = record
        if record.get("stopped_by") == "error" or record.get("error"):
            text = str(record.get("error") or "the episode stopped with an error")
            lines = [ln for ln in text.strip().splitlines() if ln.strip()]
            result.update(status=FAILED, error=lines[-1].strip() if lines else text, traceback=text)
        if record.get("steps") is not None and len(record["steps"]) >= len(steps):
            steps = list(record["steps"])
    except Exception as exc:  # noqa: BLE001 - a failed run is recorded, the benchmark goes on
        result.update(status=FAILED, error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
    finally:
        if env is not None:
            try:
                env.close()
            except Exception:  # noqa: BLE001
                pass
        shutil.rmtree(workdir, ignore_errors=True)
    result.update(steps=steps, host=socket.gethostname(), worker_wall_s=time.perf_counter() - start)
    return result
