"""Run a step's ``python solution.py``: cold (a fresh interpreter per step) or warm (a fork of a
long-lived worker that has the heavy libraries imported already).

The warm worker (the program ``gome_env/isolation/warm_worker.py``, run as a script) is started once per
environment, lazily, *inside the same sandbox* as a cold run (``sandbox.wrap`` builds the
command, so under bwrap it has the same mounts, plus its own file read-only: the workspace path
is fixed per environment and the data mount stays valid as long as neither the workspace nor
its ``data/`` mount point is removed, which is why ``layout_workspace`` clears the workspace's
contents instead of the folder). It imports what ``gome_env.isolation.preload`` lists for the solution and
then forks one pristine child per step (see ``warm_worker``), so module state cannot leak
between steps. For each step the host sends a request over a socketpair with the write ends of
two fresh pipes for stdout and stderr; it enforces the timeout and the output budget (it asks
the worker to kill the child; if the worker does not answer it kills the worker), sweeps the
step's token, and builds the same ``RunResult`` a cold run returns (``procio.build_result``).

Cold fallback: while the worker is starting, if it cannot start, if the memory limit leaves too
little room above its preloaded libraries, or if it dies (the step is then re-laid out and run
cold; a dead worker is replaced at the next step), the step runs cold through ``sandbox.run``.
``Executor.status()`` says which happened and why.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from gome_env.constants import SOLUTION
from gome_env.isolation.preload import DEFAULT_PRELOAD, preload_for, preload_list
from gome_env.isolation.procio import Limits, OutputCapture, RunResult, build_result, kill_token_processes, new_token, rlimit_settings
from gome_env.isolation.sandbox import Sandbox
from gome_env.isolation.worker_process import (WORKER_PROGRAM, WorkerLost, WorkerProcess, worker_group_limits,
                                               worker_shape)
from gome_env.isolation.workspace import layout_workspace
from gome_env.records import MappingRecord

__all__ = ["EXECUTORS", "DEFAULT_PRELOAD", "WORKER_PROGRAM", "Executor", "ExecutorStats", "layout_workspace", "preload_for",
           "rlimit_settings", "worker_group_limits", "worker_shape"]

EXECUTORS = ("warm", "cold")
MEMORY_HEADROOM_MB = 256  # a warm step needs this much address space above the worker's own
START_TIMEOUT_S = 180.0  # a worker not ready by then is killed and counted as a failed start
MAX_FAILED_STARTS = 3  # then this executor stays cold
KILL_GRACE_S = 5.0  # how long the worker gets to confirm a kill before it is killed itself


@dataclass(eq=False)
class ExecutorStats(MappingRecord):
    """What an executor has done so far and the state of its warm worker (``Executor.status()``,
    ``MLEEnv.executor_status()``). Reads like the old stats dict too: ``stats["warm"]``."""

    mode: str  # "warm" or "cold"
    warm: int = 0  # steps run on the warm worker
    cold: int = 0  # steps run cold (while the worker started, after a fallback, or in cold mode)
    starts: int = 0  # workers started
    failed_starts: int = 0  # workers that could not start or never got ready
    lost: int = 0  # workers that died or stopped answering
    ready: bool = False  # a worker is up and can take the next step
    worker_pid: int | None = None  # the worker's process (group leader), while there is one
    worker_loaded: tuple[str, ...] = ()  # the modules the worker imported before its first fork
    preload: tuple[str, ...] = ()  # what the next worker imports (grows with the solutions' imports)
    last_error: str | None = None  # why the last warm attempt fell back
    last_run_warm: bool = False
    limits: Limits = field(default_factory=Limits)


class Executor:
    """Lays out a step's files and runs ``python solution.py``, warm where it can, else cold.

    ``mode``: ``"warm"`` (default) or ``"cold"``. ``stats`` counts warm and cold runs, worker
    starts and failures; ``last_error`` says why the last warm attempt fell back."""

    def __init__(self, sandbox: Sandbox, workspace: Path, data_dir: Path, limits: Limits,
                 mode: str = "warm", preload: tuple[str, ...] | None = None) -> None:
        if mode not in EXECUTORS:
            raise ValueError(f"unknown executor {mode!r}; valid executors: {', '.join(EXECUTORS)}")
        self.sandbox, self.workspace, self.data_dir = sandbox, Path(workspace), Path(data_dir)
        self.limits, self.mode = limits, mode
        # None: preload what the solutions import (grows, never shrinks, as new imports appear)
        self.preload = preload_list() if preload is None else tuple(preload)
        self._wanted: tuple[str, ...] = ()
        self.stats = {"warm": 0, "cold": 0, "starts": 0, "failed_starts": 0, "lost": 0}
        self.last_error: str | None = None
        self.last_run_warm = False
        self._worker: WorkerProcess | None = None

    # ---------------------------------------------------------------- public

    def run(self, files: dict[str, str], limits: Limits) -> RunResult:
        """Lay out exactly ``files`` and run the solution within ``limits``. The result says
        whether it ran warm (``warm``) and whether the warm worker was lost on the way
        (``worker_lost``: why; the step was then re-run cold, or it timed out)."""
        lost_before = self.stats["lost"]
        result = self._run(files, limits)
        lost = self.stats["lost"] > lost_before
        result.warm, result.worker_lost = self.last_run_warm and not lost, (self.last_error or "lost") if lost else None
        return result

    def _run(self, files: dict[str, str], limits: Limits) -> RunResult:
        layout_workspace(self.workspace, files, self.sandbox, self.data_dir)
        if self.mode == "warm" and self.preload is None:
            wanted = preload_for(files)
            if not set(wanted) <= set(self._wanted):
                self._wanted = tuple(name for name in DEFAULT_PRELOAD if name in set(wanted) | set(self._wanted))
                if self._worker is not None:  # it lacks a library this solution imports: replace it
                    self._drop_worker()
        if self.mode == "warm":
            try:
                result = self._run_warm(limits)
            except WorkerLost as exc:
                self.stats["lost"] += 1
                self.last_error = f"the warm worker died during the run: {exc}; {self._worker.log_tail(300) if self._worker else ''}"
                self._drop_worker()
                layout_workspace(self.workspace, files, self.sandbox, self.data_dir)  # the partial run's leftovers go
                result = None
            if result is not None:
                self.stats["warm"] += 1
                self.last_run_warm = True
                return result
        self.stats["cold"] += 1
        self.last_run_warm = False
        return self.sandbox.run([sys.executable, SOLUTION], self.workspace, self.data_dir, limits)

    def start(self) -> None:
        """Start the worker now (it is otherwise started at the first run)."""
        if self.mode == "warm" and self._worker is None and self.stats["failed_starts"] < MAX_FAILED_STARTS:
            self.workspace.mkdir(parents=True, exist_ok=True)
            self.sandbox.prepare_workspace(self.workspace, self.data_dir)
            try:
                preload = self._wanted if self.preload is None else self.preload
                self._worker = WorkerProcess(self.sandbox, self.workspace, self.data_dir, self.limits, preload)
                self.stats["starts"] += 1
            except (OSError, RuntimeError) as exc:
                self.stats["failed_starts"] += 1
                self.last_error = f"the warm worker could not start: {exc}"

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> bool:
        """Start the worker if needed and wait until it can take a step."""
        self.start()
        deadline = time.monotonic() + timeout
        while self._worker is not None and self._worker.alive():
            if self._worker.poll_ready(min(0.2, max(0.0, deadline - time.monotonic()))):
                return True
            if time.monotonic() >= deadline:
                return False
        return False

    def status(self) -> ExecutorStats:
        """Counts, the worker's state and the limits in force (a snapshot)."""
        w = self._worker
        alive = w is not None and w.alive()
        return ExecutorStats(
            mode=self.mode, **self.stats, ready=self.warm_ready, worker_pid=w.proc.pid if alive else None,
            worker_loaded=tuple(w.info.get("loaded", ())) if w is not None else (), last_error=self.last_error,
            preload=self._wanted if self.preload is None else self.preload,
            last_run_warm=self.last_run_warm, limits=self.limits,
        )

    @property
    def warm_ready(self) -> bool:
        return self._worker is not None and self._worker.ready and self._worker.alive()

    @property
    def worker_info(self) -> dict:
        return dict(self._worker.info) if self._worker else {}

    def close(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self._worker = None

    # ---------------------------------------------------------------- internals

    def _drop_worker(self) -> None:
        if self._worker is not None:
            self._worker.discard()
            self._worker = None

    def _usable_worker(self, limits: Limits) -> WorkerProcess | None:
        w = self._worker
        if w is not None and not w.alive():
            self.stats["failed_starts" if not w.ready else "lost"] += 1
            self.last_error = f"the warm worker exited ({w.proc.returncode}): {w.log_tail(300)}"
            self._drop_worker()
            w = None
        if w is None:
            self.start()  # it gets ready in the background; this step runs cold
            return None
        if not w.poll_ready(0):
            if time.monotonic() - w.started_at > START_TIMEOUT_S:
                self.stats["failed_starts"] += 1
                self.last_error = f"the warm worker was not ready after {START_TIMEOUT_S:g} s"
                self._drop_worker()
            return None
        if worker_shape(limits) != w.shape:  # env.limits changed: a worker with the new ones takes over
            self.last_error = "the limits changed since the warm worker started: it is replaced"
            self._drop_worker()
            self.start()
            return None
        if not w.info.get("token_slot"):  # its children could not carry the step's token for the sweep
            self.last_error = "the warm worker found no GOME_STEP_TOKEN in its environment block: running cold"
            return None
        vm_mb = w.info.get("vm_kb", 0) / 1024
        if limits.memory_mb and vm_mb + MEMORY_HEADROOM_MB > limits.memory_mb:
            self.last_error = (f"the memory limit ({limits.memory_mb} MB) leaves too little room above the worker's "
                               f"preloaded libraries ({vm_mb:.0f} MB of address space): running cold")
            return None
        return w

    def _run_warm(self, limits: Limits) -> RunResult | None:
        w = self._usable_worker(limits)
        if w is None:
            return None
        token = new_token()
        r_out, w_out = os.pipe()
        r_err, w_err = os.pipe()
        request = {"op": "run", "token": token, "cwd": str(self.workspace.resolve()), "argv": [SOLUTION],
                   "rlimits": rlimit_settings(limits)}
        start = time.monotonic()
        try:
            w.send(request, [w_out, w_err])
        except OSError as exc:
            for fd in (r_out, r_err):
                os.close(fd)
            self.stats["lost"] += 1
            self.last_error = f"the warm worker did not take the step: {exc}"
            self._drop_worker()
            return None  # nothing ran: the workspace is untouched
        finally:
            os.close(w_out)
            os.close(w_err)
        killed_by_host = threading.Event()

        def kill_child() -> None:
            killed_by_host.set()
            try:
                w.send({"op": "kill", "token": token})
            except OSError:
                pass

        output = OutputCapture(os.fdopen(r_out, "rb"), os.fdopen(r_err, "rb"), limits.output_bytes, kill_child)
        try:
            reply = w.recv(limits.timeout_s)
            timed_out = reply is None
            if timed_out:
                kill_child()
                reply = w.recv(KILL_GRACE_S)
                if reply is None:  # the worker does not answer: it goes, and the step is a timeout
                    self.stats["lost"] += 1
                    self.last_error = "the warm worker did not answer a kill"
                    self._drop_worker()
        except WorkerLost:
            kill_token_processes(token)
            output.finish()
            raise
        runtime = time.monotonic() - start
        swept = int((reply or {}).get("swept", 0))
        # Under bwrap a worker that answered has already killed every other process in its PID
        # namespace; the host's /proc sweep is for the subprocess backend and lost workers.
        host_swept = kill_token_processes(token) if self.sandbox.name != "bwrap" or reply is None else 0
        output.finish()
        status = (reply or {}).get("status")
        signame = None
        if reply is not None and reply.get("code") is not None:
            returncode = reply["code"]
        elif status is None:
            returncode, signame = -signal.SIGKILL, "SIGKILL"
        else:
            returncode = os.waitstatus_to_exitcode(status)
            if os.WIFSIGNALED(status):
                signame = signal.Signals(os.WTERMSIG(status)).name
                if self.sandbox.name == "bwrap" and not killed_by_host.is_set():
                    returncode = 128 + os.WTERMSIG(status)  # what bwrap reports for its child's signal
        return build_result(
            returncode=returncode, runtime_s=runtime, peak_memory_mb=(reply or {}).get("maxrss_kb", 0) / 1024,
            output=output, timed_out=timed_out, signal_name=signame, sandbox=self.sandbox.name,
            leftovers=max(host_swept, swept), limits=limits, confined=w.confinement.confined,
            run_as=w.confinement.user,
        )
