"""The warm worker's process as the host sees it: started inside the sandbox (in its own cgroup
where cgroups work), its socket, its log, and how it is stopped or killed. ``Executor``
(``gome_env.isolation.executor``) decides when a worker starts, takes a step or is replaced.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import replace
from pathlib import Path

from gome_env.isolation import warm_worker
from gome_env.isolation.cgroups import StepCgroup
from gome_env.isolation.confine import worker_preexec
from gome_env.isolation.preload import STANDARD_PRELOAD
from gome_env.isolation.procio import Limits, clean_environment, kill_token_processes, new_token
from gome_env.isolation.sandbox import Sandbox

__all__ = ["WORKER_PROGRAM", "WorkerLost", "WorkerProcess", "worker_group_limits", "worker_shape"]

WORKER_PROGRAM = str(Path(warm_worker.__file__).resolve())  # run as a script inside the sandbox


class WorkerLost(Exception):
    """The worker died (or stopped answering) while a step was running."""


WORKER_MEMORY_SLACK_MB = 512  # the preloaded libraries, on top of a step's own memory limit
WORKER_PROCESS_SLACK = 8  # bwrap, its init, the worker and its spare child


def worker_shape(limits: Limits) -> tuple:
    """The limits a warm worker is started with (its threads, its cgroup's caps): a step whose
    limits differ in these needs another worker."""
    return limits.threads, limits.memory_mb, limits.max_processes


def worker_group_limits(limits: Limits) -> Limits:
    """The limits of the warm worker's cgroup: a step's own, widened by what the worker itself
    needs (its preloaded libraries, bwrap, its init and its spare child)."""
    return replace(
        limits,
        memory_mb=limits.memory_mb + WORKER_MEMORY_SLACK_MB if limits.memory_mb else None,
        max_processes=limits.max_processes + WORKER_PROCESS_SLACK if limits.max_processes else None,
    )


class WorkerProcess:
    """One long-lived worker process in the sandbox and the host's end of its socket."""

    def __init__(self, sandbox: Sandbox, workspace: Path, data_dir: Path, limits: Limits, preload: tuple[str, ...]) -> None:
        self.shape = worker_shape(limits)
        self.token = new_token()
        self.ready = False
        self.info: dict = {}
        self.started_at = time.monotonic()
        self._lock = threading.Lock()
        self.log = tempfile.TemporaryFile()
        host, inside = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.cgroup: StepCgroup | None = None
        try:
            private = sandbox.name == "bwrap"
            argv = [sys.executable, "-s", WORKER_PROGRAM, str(inside.fileno()), json.dumps([*STANDARD_PRELOAD, *preload]),
                    "1" if private else "0"]
            command, cwd = sandbox.wrap(argv, workspace, data_dir, read_only_files=(WORKER_PROGRAM,))
            env = clean_environment(limits, self.token, home=str(workspace) if sandbox.name == "subprocess" else "/tmp")
            # Under a root env the subprocess sandbox runs the worker (and so every step it forks) as
            # an unprivileged user where it can (gome_env.isolation.confine).
            self.confinement, user = sandbox.run_user(workspace)
            # The worker and every step it forks live in one cgroup where cgroups are usable: the
            # process cap then holds even for root (a fork bomb in a warm step is bounded), and the
            # memory cap covers all of a step's processes plus the preloaded libraries.
            self.cgroup = StepCgroup.create(f"gome-warm-{self.token}", worker_group_limits(limits))
            self.proc = subprocess.Popen(
                command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                pass_fds=(inside.fileno(),), start_new_session=True, close_fds=True,
                preexec_fn=worker_preexec(self.cgroup.join if self.cgroup else None, user),
            )
        except BaseException:  # nothing started: release what was set up for it
            if self.cgroup:
                self.cgroup.remove()
            host.close()
            self.log.close()
            raise
        finally:
            inside.close()
        self.sock = host
        self._finalizer = weakref.finalize(self, WorkerProcess._kill, self.proc, self.sock, self.token, self.cgroup)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def poll_ready(self, timeout: float = 0.0) -> bool:
        if self.ready:
            return True
        if select.select([self.sock], [], [], max(0.0, timeout))[0]:
            msg = self.recv(0)
            if msg and msg.get("op") == "ready":
                self.ready, self.info = True, msg
        return self.ready

    def send(self, obj: dict, fds: list[int] | None = None) -> None:
        with self._lock:
            if fds:
                socket.send_fds(self.sock, [json.dumps(obj).encode()], fds)
            else:
                self.sock.send(json.dumps(obj).encode())

    def recv(self, timeout: float | None) -> dict | None:
        """The next message; None on timeout; ``WorkerLost`` when the worker is gone."""
        if timeout is not None and not select.select([self.sock], [], [], max(0.0, timeout))[0]:
            return None
        try:
            data = self.sock.recv(1 << 16)
        except OSError as exc:
            raise WorkerLost(str(exc)) from exc
        if not data:
            raise WorkerLost("the worker closed its socket")
        return json.loads(data)

    def log_tail(self, n: int = 2000) -> str:
        try:
            self.log.seek(0, os.SEEK_END)
            size = self.log.tell()
            self.log.seek(max(0, size - n))
            return self.log.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""

    def discard(self) -> None:
        """Kill the worker now (no goodbye) and close its log."""
        self._finalizer()
        self.log.close()

    def stop(self) -> None:
        try:
            self.send({"op": "exit"})
        except OSError:
            pass
        try:
            self.proc.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            pass
        self._finalizer()
        self.log.close()

    @staticmethod
    def _kill(proc: subprocess.Popen, sock: socket.socket, token: str, cgroup: StepCgroup | None = None) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if cgroup is not None:
            cgroup.kill_all()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        kill_token_processes(token)
        if cgroup is not None:
            cgroup.remove()
        sock.close()
