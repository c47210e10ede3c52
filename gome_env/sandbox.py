"""Run a solution program in isolation, within limits, and return one result object.

Two backends share one runner:

- ``SubprocessSandbox`` (portable): its own session and process group, killed as a whole at the
  end of every step; memory (address space), CPU-time, file-size, process-count and core-dump
  limits; a clean environment; the workspace as working directory.
- ``BwrapSandbox`` (bubblewrap, Linux namespaces): the same limits, plus the system mounted
  read-only, the workspace the only writable place, the task's public data read-only at
  ``data/``, nothing else of the host (private answers, home folders) present, no network, and
  its own /tmp and PID namespace (every process of the step dies with it).

``make_sandbox("auto")`` picks bwrap where it works. Every run gets a random token in its
environment; after the run, any process still carrying it (a background process that left the
process group) is killed.
"""

from __future__ import annotations

import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

__all__ = ["Limits", "RunResult", "Sandbox", "SubprocessSandbox", "BwrapSandbox", "make_sandbox", "SANDBOXES"]

SANDBOXES = ("auto", "subprocess", "bwrap")
KEEP_BYTES = 64_000  # of each stream, at each end, kept for diagnostics


@dataclass(frozen=True)
class Limits:
    """Per-run resource limits. ``None`` disables a limit."""

    timeout_s: float = 120.0
    memory_mb: int | None = 4096
    cpu_time_s: float | None = None  # default: timeout x threads + 5 s
    file_size_mb: int | None = 512
    max_processes: int | None = 512
    output_bytes: int = 16_000_000  # stdout + stderr; past this the run is stopped
    threads: int = 2

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {self.timeout_s}")
        if self.memory_mb is not None and self.memory_mb < 64:
            raise ValueError(f"memory_mb must be at least 64 (or None), got {self.memory_mb}")


@dataclass
class RunResult:
    """What one run did: exit, time, memory, output (head and tail) and why it was stopped."""

    returncode: int | None
    runtime_s: float
    peak_memory_mb: float
    stdout: str
    stderr: str
    output_bytes: int
    timed_out: bool = False
    output_limited: bool = False
    signal: str | None = None
    sandbox: str = "subprocess"
    leftover_processes_killed: int = 0
    limits: dict = field(default_factory=dict)

    @property
    def memory_exceeded(self) -> bool:
        tail = self.stderr[-4000:]
        if "MemoryError" in tail or "std::bad_alloc" in tail or "Cannot allocate memory" in tail:
            return True
        limit = self.limits.get("memory_mb")
        return bool(self.signal == "SIGKILL" and not self.timed_out and limit and self.peak_memory_mb > 0.9 * limit)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and not self.output_limited

    def as_dict(self) -> dict:
        out = asdict(self)
        out["memory_exceeded"] = self.memory_exceeded
        return out


class _Stream:
    """Reads a pipe to the end, keeping its head and tail and counting bytes."""

    def __init__(self, pipe, budget: "_Budget") -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self._budget = budget
        self._thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self._thread.start()

    def _read(self, pipe) -> None:
        while chunk := pipe.read1(65536) if hasattr(pipe, "read1") else pipe.read(65536):
            self.total += len(chunk)
            self._budget.spend(len(chunk))
            if len(self.head) < KEEP_BYTES:
                take = KEEP_BYTES - len(self.head)
                self.head += chunk[:take]
                chunk = chunk[take:]
            if chunk:
                self.tail += chunk
                if len(self.tail) > 2 * KEEP_BYTES:
                    del self.tail[: len(self.tail) - KEEP_BYTES]
        pipe.close()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def text(self) -> str:
        head = self.head.decode("utf-8", "replace")
        if not self.tail:
            return head
        tail = bytes(self.tail[-KEEP_BYTES:]).decode("utf-8", "replace")
        skipped = self.total - len(self.head) - min(len(self.tail), KEEP_BYTES)
        return head + (f"\n[... {skipped} bytes skipped ...]\n" if skipped > 0 else "") + tail


class _Budget:
    def __init__(self, limit: int, on_exceed) -> None:
        self.limit, self.used, self.exceeded = limit, 0, False
        self._on_exceed = on_exceed
        self._lock = threading.Lock()

    def spend(self, n: int) -> None:
        with self._lock:
            self.used += n
            if self.used > self.limit and not self.exceeded:
                self.exceeded = True
                self._on_exceed()


def clean_environment(limits: Limits, token: str, home: str) -> dict[str, str]:
    """The only environment variables a solution sees."""
    threads = str(limits.threads)
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "GOME_STEP_TOKEN": token,
    }
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # correctness settings of some hosts
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def _limit_preexec(limits: Limits):
    cpu = limits.cpu_time_s or limits.timeout_s * max(1, limits.threads) + 5

    def preexec() -> None:
        os.setsid()
        settings = [(resource.RLIMIT_CORE, 0), (resource.RLIMIT_CPU, int(cpu) + 1)]
        if limits.memory_mb:
            settings.append((resource.RLIMIT_AS, limits.memory_mb * 1024 * 1024))
        if limits.file_size_mb:
            settings.append((resource.RLIMIT_FSIZE, limits.file_size_mb * 1024 * 1024))
        if limits.max_processes and os.getuid() != 0:
            settings.append((resource.RLIMIT_NPROC, limits.max_processes))
        for which, value in settings:
            try:
                resource.setrlimit(which, (value, value))
            except (ValueError, OSError):
                pass

    return preexec


def kill_token_processes(token: str) -> int:
    """SIGKILL every process whose environment carries ``GOME_STEP_TOKEN=token``; returns how many."""
    needle = f"GOME_STEP_TOKEN={token}".encode()
    killed = 0
    for _ in range(3):  # a process may fork while we sweep
        found = 0
        for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as handle:
                    if needle in handle.read():
                        os.kill(int(entry), signal.SIGKILL)
                        found += 1
            except (OSError, ProcessLookupError):
                continue
        killed += found
        if not found:
            break
    return killed


class Sandbox:
    """Runs ``argv`` with the workspace as working directory and ``data_dir`` visible as ``data/``."""

    name = "base"

    def prepare_workspace(self, workspace: Path, data_dir: Path) -> None:
        """Make ``workspace/data`` show the public data (a link here; a mount point under bwrap)."""
        link = workspace / "data"
        if link.is_symlink() or link.is_file():
            link.unlink()
        elif link.is_dir():
            shutil.rmtree(link)
        link.symlink_to(data_dir.resolve(), target_is_directory=True)

    def wrap(self, argv: list[str], workspace: Path, data_dir: Path) -> tuple[list[str], Path]:
        """The command to start and the working directory to start it in."""
        return argv, workspace

    def run(self, argv: list[str], workspace: Path, data_dir: Path, limits: Limits) -> RunResult:
        token = secrets.token_hex(8)
        command, cwd = self.wrap(argv, workspace, data_dir)
        env = clean_environment(limits, token, home=str(workspace) if self.name == "subprocess" else "/tmp")
        start = time.monotonic()
        proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=_limit_preexec(limits),
            close_fds=True,
        )

        def kill_group() -> None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

        budget = _Budget(limits.output_bytes, kill_group)
        out, err = _Stream(proc.stdout, budget), _Stream(proc.stderr, budget)
        waited: dict = {}

        def wait() -> None:
            _, status, usage = os.wait4(proc.pid, 0)
            waited.update(status=status, usage=usage)

        waiter = threading.Thread(target=wait, daemon=True)
        waiter.start()
        waiter.join(limits.timeout_s)
        timed_out = waiter.is_alive()
        kill_group()  # the whole group goes, finished or not: no background leftovers
        waiter.join()
        runtime = time.monotonic() - start
        leftovers = kill_token_processes(token)
        out.join(5)
        err.join(5)
        status = waited["status"]
        proc.returncode = os.waitstatus_to_exitcode(status)
        signame = None
        if os.WIFSIGNALED(status):
            signame = signal.Signals(os.WTERMSIG(status)).name
        elif self.name == "bwrap" and proc.returncode > 128:  # bwrap reports the child's signal as 128+n
            try:
                signame = signal.Signals(proc.returncode - 128).name
            except ValueError:
                pass
        return RunResult(
            returncode=proc.returncode,
            runtime_s=round(runtime, 4),
            peak_memory_mb=round(waited["usage"].ru_maxrss / 1024, 1),
            stdout=out.text(),
            stderr=err.text(),
            output_bytes=out.total + err.total,
            timed_out=timed_out,
            output_limited=budget.exceeded,
            signal=signame,
            sandbox=self.name,
            leftover_processes_killed=leftovers,
            limits=asdict(limits),
        )


class SubprocessSandbox(Sandbox):
    name = "subprocess"


class BwrapSandbox(Sandbox):
    """bubblewrap: only the system (read-only), the interpreter, the workspace and the public data exist."""

    name = "bwrap"

    def prepare_workspace(self, workspace: Path, data_dir: Path) -> None:
        link = workspace / "data"
        if link.is_symlink() or link.is_file():
            link.unlink()
        link.mkdir(exist_ok=True)  # mount point for the read-only public data

    def wrap(self, argv: list[str], workspace: Path, data_dir: Path) -> tuple[list[str], Path]:
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise RuntimeError("bubblewrap is not installed: apt-get install bubblewrap, or use sandbox='subprocess'")
        ro: list[str] = []
        for path in _system_paths():
            ro += ["--ro-bind", path, path]
        ws = str(workspace.resolve())
        return (
            [
                bwrap,
                *ro,
                "--tmpfs", "/tmp",
                "--bind", ws, ws,
                "--ro-bind", str(data_dir.resolve()), f"{ws}/data",
                "--proc", "/proc",
                "--dev", "/dev",
                "--unshare-all",  # network, PID, IPC, UTS, cgroup and user namespaces
                "--die-with-parent",
                "--new-session",
                "--chdir", ws,
                *argv,
            ],
            workspace,
        )


@lru_cache(maxsize=1)
def _system_paths() -> tuple[str, ...]:
    """Read-only mounts: the OS and the interpreter's installation(s), nothing from home folders
    except the interpreter itself."""
    paths = {"/usr", "/bin", "/lib", "/lib64", "/sbin", "/etc"}
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.realpath(sys.executable)}:
        paths.add(str(Path(prefix).resolve().parent if Path(prefix).is_file() else Path(prefix).resolve()))
    paths.add(str(Path(sys.executable).parent))
    existing = sorted(p for p in paths if os.path.exists(p))
    # Drop nested paths: binding a parent covers its children.
    return tuple(p for p in existing if not any(p != q and p.startswith(q.rstrip("/") + "/") for q in existing))


@lru_cache(maxsize=1)
def bwrap_works() -> tuple[bool, str]:
    """Whether bubblewrap can start a sandbox here, and why not."""
    if shutil.which("bwrap") is None:
        return False, "bwrap is not installed (apt-get install bubblewrap)"
    try:
        probe = subprocess.run(
            ["bwrap", "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"],
            capture_output=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bwrap failed to start: {exc}"
    if probe.returncode != 0:
        return False, f"bwrap cannot create namespaces here: {probe.stderr.decode(errors='replace').strip()}"
    return True, "bwrap works"


def make_sandbox(name: str = "auto") -> tuple[Sandbox, str]:
    """The sandbox for a name, and a note saying what was chosen and why."""
    if name not in SANDBOXES:
        raise ValueError(f"unknown sandbox {name!r}; valid sandboxes: {', '.join(SANDBOXES)}")
    if name == "subprocess":
        return SubprocessSandbox(), "subprocess sandbox (as asked)"
    works, why = bwrap_works()
    if name == "bwrap":
        if not works:
            raise RuntimeError(f"sandbox='bwrap' is unavailable: {why}")
        return BwrapSandbox(), "bwrap sandbox (as asked)"
    if works:
        return BwrapSandbox(), "auto: bwrap works here, so agent code runs in its own namespaces"
    return SubprocessSandbox(), f"auto: fell back to the subprocess sandbox ({why})"
