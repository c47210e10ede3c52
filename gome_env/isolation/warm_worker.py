"""The warm worker: a long-lived program inside the sandbox that forks one child per step.

Run as a script (``python -s warm_worker.py SOCK_FD PRELOAD_JSON PRIVATE``) by
``gome_env.isolation.executor``, inside the same sandbox as a cold run, where gome_env is not importable:
the standard library only. It imports the preload list, reports ``ready`` with its address-space
size, and then never runs agent code itself. For each ``run`` request (with the write ends of two
pipes for stdout and stderr) a pre-forked child

- has started its own session, becomes dumpable again (the worker is not: a child cannot ptrace
  it or write its memory), applies the step's rlimits, reopens stdin on ``/dev/null`` and
  stdout/stderr on the pipes, writes the step's ``GOME_STEP_TOKEN`` into its original
  environment block (so ``/proc/<pid>/environ`` shows it to the host's leftover sweep, exactly as
  for a cold run; every token has the same length), reseeds ``random`` and numpy;
- runs ``solution.py`` as ``__main__`` as ``python solution.py`` would, and exits as python
  would: ``SystemExit`` codes, an uncaught exception's traceback on stderr (the worker's frame
  left out) and exit code 1, atexit handlers and non-daemon threads honoured.

The worker reports the child's exit code (or wait status) and peak RSS, kills the child's process
group and, under bwrap (``PRIVATE`` = 1: its own PID namespace and /tmp), every other process of
the sandbox and the contents of /tmp and /dev/shm; under the subprocess backend, where the host
gave it a cgroup of its own, every other process of that cgroup (what left the step's session and
cleared its token).
"""

from __future__ import annotations

import atexit
import builtins
import ctypes
import gc
import importlib
import importlib.machinery
import json
import os
import random
import resource
import select
import shutil
import signal
import socket
import sys
import threading
import time
import traceback
import types

__all__ = ["quietly", "exit_code", "clear", "proc_state", "vm_kb", "kill_listed", "own_cgroup_procs", "sweep_cgroup", "sweep_namespace", "main"]

TOKEN_NAME = b"GOME_STEP_TOKEN="
PR_SET_DUMPABLE = 4


def quietly(action, *args, errors: type[BaseException] | tuple = BaseException) -> None:
    """``action(*args)``, best effort: ``errors`` (default: anything) are ignored."""
    try:
        action(*args)
    except errors:  # noqa: BLE001 - best effort by design
        pass


def exit_code(exc: SystemExit) -> int:
    """The exit status python gives a ``SystemExit`` (a non-int code is printed, status 1)."""
    code = exc.code
    if code is None or isinstance(code, int):
        return (code or 0) & 0xFF
    quietly(lambda: print(code, file=sys.stderr))
    return 1


def clear(folder: str, keep: str) -> None:
    """Empty ``folder`` but for ``keep`` (the workspace, bind-mounted under /tmp) and mounts."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            if keep == entry.path or os.path.ismount(entry.path):
                continue
            if keep.startswith(entry.path + "/") and entry.is_dir(follow_symlinks=False):
                clear(entry.path, keep)
            elif entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
        except OSError:
            pass


def proc_state(pid: int | str) -> tuple[str, int]:
    """(state, process group) of a process, from /proc/<pid>/stat; ("?", 0) when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return fields[0].decode(), int(fields[2])
    except (OSError, IndexError, ValueError):
        return "?", 0


def vm_kb() -> int:
    """This process's address-space size in kB."""
    try:
        with open("/proc/self/status") as handle:
            return next((int(line.split()[1]) for line in handle if line.startswith("VmSize:")), 0)
    except OSError:
        return 0


def kill_listed(list_pids, pgid: int) -> int:
    """SIGKILL the live processes ``list_pids()`` names, re-listing (up to 3 times) since they may
    fork meanwhile; returns how many there were besides the step's process group ``pgid``
    (already killed with it)."""
    counted = set()
    for _ in range(3):
        found = 0
        for pid in list_pids():
            state, group = proc_state(pid)
            if state in ("Z", "?"):
                continue
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                continue
            found += 1
            if group != pgid:
                counted.add(pid)
        if not found:
            break
    return len(counted)


def sweep_namespace(pgid: int) -> int:
    """Kill every process of this PID namespace but init (1) and the worker (see ``kill_listed``)."""
    keep = (1, os.getpid())
    return kill_listed(lambda: [int(e) for e in os.listdir("/proc") if e.isdigit() and int(e) not in keep], pgid)


def own_cgroup_procs(prefix: str = "gome-warm-") -> str | None:
    """The ``cgroup.procs`` file of this process's own pids cgroup, if the host made one for the
    worker alone (its name starts with ``prefix``); None otherwise (never a shared cgroup)."""
    try:
        with open("/proc/self/cgroup") as handle:
            lines = handle.read().splitlines()
        with open("/proc/mounts") as handle:
            mounts = [line.split() for line in handle]
    except OSError:
        return None
    for line in lines:
        number, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        v2 = number == "0" and controllers == ""
        if not v2 and "pids" not in controllers.split(","):
            continue
        if not os.path.basename(path).startswith(prefix):
            continue
        for fields in mounts:
            if len(fields) >= 4 and ((v2 and fields[2] == "cgroup2") or (not v2 and fields[2] == "cgroup" and "pids" in fields[3].split(","))):
                procs = fields[1] + path + "/cgroup.procs"
                if os.path.exists(procs):
                    return procs
    return None


def sweep_cgroup(procs: str, pgid: int) -> int:
    """Kill every process of the worker's own cgroup but the worker and its parent (the supervising
    sh): what a step left in another session without its token (see ``kill_listed``)."""
    keep = {os.getpid(), os.getppid()}

    def listed() -> list[int]:
        try:
            with open(procs) as handle:
                return [int(x) for x in handle.read().split() if x.isdigit() and int(x) not in keep]
        except OSError:
            return []

    return kill_listed(listed, pgid)


class Worker:
    """The worker's state: its socket to the host, libc, and where its step token lives."""

    def __init__(self, sock_fd: int, private_ns: bool) -> None:
        self.sock = socket.socket(fileno=sock_fd)
        self.private_ns = private_ns
        self.cgroup_procs = None if private_ns else own_cgroup_procs()
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.slot, self.slot_len = self._token_slot()

    def _token_slot(self) -> tuple[int | None, int]:
        """Address and length of the value of ``GOME_STEP_TOKEN`` in the original environment block."""
        environ = ctypes.POINTER(ctypes.c_void_p).in_dll(self.libc, "environ")
        i = 0
        while environ[i]:
            if ctypes.string_at(environ[i], len(TOKEN_NAME)) == TOKEN_NAME:
                return environ[i] + len(TOKEN_NAME), len(ctypes.string_at(environ[i])) - len(TOKEN_NAME)
            i += 1
        return None, 0

    def send(self, obj: dict) -> None:
        self.sock.send(json.dumps(obj).encode())

    # ------------------------------------------------------------------ a step's child

    def child(self, ctl: socket.socket) -> None:
        """A pre-forked child: pristine until its request comes, then the step's program."""
        try:
            self.sock.close()
            os.setsid()
            self.libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # so the host can read /proc/<pid>/environ
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.close(null)
            data, fds, _, _ = socket.recv_fds(ctl, 1 << 20, 2)
            if not data or len(fds) != 2:
                os._exit(0)
            main_module, code_obj = self._prepare(json.loads(data), fds)
        except BaseException:  # noqa: BLE001 - setup failed: say so on stderr
            traceback.print_exc()
            os._exit(1)
        code = 1
        try:
            exec(code_obj, main_module.__dict__)
            code = 0
        except SystemExit as exc:
            code = exit_code(exc)
        except BaseException as exc:  # noqa: BLE001 - what python prints for an uncaught exception
            def report() -> None:
                exc.__traceback__ = exc.__traceback__.tb_next  # leave the worker's frame out
                sys.excepthook(type(exc), exc, exc.__traceback__)

            quietly(report)
            if isinstance(exc, KeyboardInterrupt):
                code = -signal.SIGINT
        self._exit(ctl, code)

    def _prepare(self, msg: dict, fds: list[int]) -> tuple[types.ModuleType, types.CodeType]:
        """Redirect output, mark the process with the step's token, apply limits, compile the program."""
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        for fd in fds:
            os.close(fd)
        token = msg["token"].encode()
        if self.slot and len(token) == self.slot_len:
            ctypes.memmove(self.slot, token, len(token))  # in place: /proc/<pid>/environ shows it
        os.environ["GOME_STEP_TOKEN"] = msg["token"]
        for which, value in msg["rlimits"]:
            quietly(resource.setrlimit, which, (value, value), errors=(ValueError, OSError))
        os.chdir(msg["cwd"])
        path = os.path.join(msg["cwd"], msg["argv"][0])
        sys.argv = list(msg["argv"])
        sys.path.insert(0, os.path.dirname(path))
        importlib.invalidate_caches()
        random.seed()
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()
        atexit._clear()  # the worker's own handlers are not the solution's
        main_module = types.ModuleType("__main__")
        main_module.__dict__.update(__file__=path, __builtins__=builtins, __cached__=None,
                                    __loader__=importlib.machinery.SourceFileLoader("__main__", path))
        sys.modules["__main__"] = main_module
        with open(path, "rb") as handle:
            return main_module, compile(handle.read(), path, "exec")

    def _exit(self, ctl: socket.socket, code: int) -> None:
        """Finish as the interpreter would, report the exit code and peak RSS, and exit."""
        quietly(threading._shutdown)
        quietly(atexit._run_exitfuncs)
        for stream in (sys.stdout, sys.stderr):
            quietly(stream.flush)
        if code < 0:
            signal.signal(-code, signal.SIG_DFL)
            os.kill(os.getpid(), -code)
        # Report before exiting: tearing down a large address space takes milliseconds that the
        # step need not wait for. The worker kills the process group as soon as it reads this.
        rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        if self.slot:  # this process is done: the host's leftover sweep must not count it while it exits
            ctypes.memmove(self.slot, b"0" * self.slot_len, self.slot_len)
        for fd in (1, 2):
            quietly(os.close, fd, errors=OSError)
        quietly(ctl.send, json.dumps({"code": code, "maxrss_kb": rss}).encode())
        os._exit(code)

    # ------------------------------------------------------------------ the worker's loop

    def prefork(self) -> tuple[int, socket.socket]:
        """Fork the next step's child now, while the host is busy grading the last one."""
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            mine.close()
            self.child(theirs)
        theirs.close()
        return pid, mine

    def serve(self) -> None:
        """Answer ``run`` requests until the host sends ``exit`` or goes away."""
        spare = self.prefork()
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(self.sock, 1 << 20, 4)
            except OSError:
                os._exit(0)
            if not data:
                os._exit(0)  # the host is gone
            msg = json.loads(data)
            if msg.get("op") != "run" or len(fds) != 2:
                for fd in fds:
                    os.close(fd)
                if msg.get("op") == "exit":
                    os._exit(0)
                continue
            self.run_step(spare, data, msg, fds)
            spare = self.prefork()

    def run_step(self, spare: tuple[int, socket.socket], data: bytes, msg: dict, fds: list[int]) -> None:
        """Hand the request to the spare child, wait for it (or a kill), clean up, and reply."""
        pid, ctl = spare
        start = time.monotonic()
        quietly(socket.send_fds, ctl, [data], fds, errors=OSError)  # a spare that died is reported below
        for fd in fds:
            os.close(fd)
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = None
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        poller.register(ctl, select.POLLIN)
        if pidfd is not None:
            poller.register(pidfd, select.POLLIN)
        report = status = usage = None
        while report is None and status is None:
            for fd, _ in poller.poll(None if pidfd is not None else 5):
                if fd == self.sock.fileno():
                    got = self.sock.recv(1 << 16)
                    if not got:
                        os.killpg(pid, signal.SIGKILL)
                        os._exit(0)
                    if json.loads(got).get("token") == msg["token"]:  # a late kill for an old step is ignored
                        quietly(os.killpg, pid, signal.SIGKILL, errors=OSError)
                elif fd == ctl.fileno():
                    try:
                        got = json.loads(ctl.recv(1 << 16) or b"null")
                        report = got if isinstance(got, dict) and isinstance(got.get("code"), int) else None
                    except (OSError, ValueError):
                        report = None
                    if report is None:
                        poller.unregister(ctl)
            if report is None:
                done, st, ru = os.wait4(pid, os.WNOHANG)
                if done:
                    status, usage = st, ru
        runtime = time.monotonic() - start
        quietly(os.killpg, pid, signal.SIGKILL, errors=OSError)  # the step's process group goes, finished or not
        if self.private_ns:
            swept = sweep_namespace(pid)
        else:  # the subprocess backend: what escaped the group and the token, where a cgroup shows it
            swept = sweep_cgroup(self.cgroup_procs, pid) if self.cgroup_procs else 0
        reply = {"op": "done", "runtime": runtime, "swept": swept}
        if report is not None:
            reply.update(code=report["code"], maxrss_kb=int(report.get("maxrss_kb") or 0), status=None)
        else:
            reply.update(code=None, status=status, maxrss_kb=usage.ru_maxrss)
        self.send(reply)
        if status is None:
            os.wait4(pid, 0)
        if pidfd is not None:
            os.close(pidfd)
        ctl.close()
        if self.private_ns:
            clear("/tmp", msg["cwd"])
            clear("/dev/shm", msg["cwd"])


def main(sock_fd: int, preload: list[str], private_ns: bool) -> None:  # pragma: no cover - runs in the sandbox
    """Preload, report ready, serve steps."""
    here = {os.path.dirname(os.path.abspath(__file__)), os.path.dirname(os.path.realpath(__file__))}
    # Nothing of the workspace, nor gome_env's own folder (this script's), is importable.
    sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd(), *here)]
    quietly(resource.setrlimit, resource.RLIMIT_CORE, (0, 0), errors=(ValueError, OSError))
    worker = Worker(sock_fd, private_ns)
    loaded, failed = [], []
    for name in preload:
        try:
            importlib.import_module(name)
            loaded.append(name)
        except BaseException as exc:  # noqa: BLE001 - skip what does not import
            failed.append(f"{name}: {type(exc).__name__}: {exc}"[:200])
    gc.collect()
    gc.freeze()  # the preloaded objects leave the collector's view: a child's GC does not copy their pages
    worker.libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # children (agent code) cannot ptrace or poke the worker
    worker.send({"op": "ready", "pid": os.getpid(), "vm_kb": vm_kb(), "loaded": loaded, "failed": failed,
                 "token_slot": bool(worker.slot)})
    worker.serve()


if __name__ == "__main__":  # pragma: no cover - runs in the sandbox
    main(int(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3] == "1")
