"""What every run of a solution shares, cold or warm: its limits, its environment, its step token,
the capture of its output, and the one :class:`RunResult` it ends as.

- :class:`Limits` (one owner: the executor; change it with ``dataclasses.replace``) and
  :func:`rlimit_settings` / :func:`limit_preexec`, the rlimits a run gets;
- :func:`clean_environment`, the only variables a solution sees, and :func:`new_token`, the
  random ``GOME_STEP_TOKEN`` that marks a run's processes for :func:`kill_token_processes`;
- :class:`OutputCapture`: one thread reads stdout and stderr to the end, keeps the head and tail
  of each, counts bytes against the output budget, and can be abandoned when a process that
  escaped the step still holds the pipes;
- :func:`build_result`, the ``RunResult`` of a finished run.
"""

from __future__ import annotations

import os
import resource
import secrets
import select
import signal
import sys
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Callable

from gome_env.isolation.confine import drop_privileges

__all__ = [
    "Limits", "RunResult", "OutputCapture", "build_result", "clean_environment", "rlimit_settings", "limit_preexec",
    "kill_token_processes", "new_token", "TOKEN_BYTES", "KEEP_BYTES", "OUTPUT_GRACE_S",
]

KEEP_BYTES = 64_000  # of each stream, at each end, kept for diagnostics
TOKEN_BYTES = 8  # a token is 2 * TOKEN_BYTES hex characters; the warm worker rewrites it in place
OUTPUT_GRACE_S = 1.0  # after a run ends, how long its output may take to reach end-of-file


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
    cgroup: str | None = None  # "v1" / "v2" when the run had its own cgroup, else None
    oom_killed: bool = False  # the cgroup's memory limit made the kernel kill a process of the run
    process_limit_hit: bool = False  # a fork failed at the cgroup's process limit
    cgroup_peak_memory_mb: float | None = None  # all processes of the run together (page cache included)
    output_abandoned: bool = False  # a process outside the step still held its output: the rest was dropped
    confined: bool = False  # the run could not reach the private answers (bwrap, or another user: confine.py)
    run_as: str | None = None  # the user it ran as, where not the environment's own
    warm: bool = False  # it ran to the end on the warm worker (a fork of it), and that worker lives on
    worker_lost: str | None = None  # why the warm worker was lost during this run (it is replaced), else None

    @property
    def memory_exceeded(self) -> bool:
        """Whether a *failed* run failed for lack of memory (the cgroup's OOM killer, an allocation
        error in its output, or a SIGKILL near the limit). A run that exited 0 never did: a
        solution may catch ``MemoryError`` and carry on."""
        if self.returncode == 0:
            return False
        if self.oom_killed:
            return True
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


def new_token() -> str:
    """A run's random ``GOME_STEP_TOKEN`` (every token has the same length)."""
    return secrets.token_hex(TOKEN_BYTES)


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
        # OpenBLAS's idle threads spin for about 2**28 cycles (~0.1 s) after each call by default:
        # with several environments on a machine that burns the cores the others need.
        "OPENBLAS_THREAD_TIMEOUT": "16",
        "GOME_STEP_TOKEN": token,
    }
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # correctness settings of some hosts
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def rlimit_settings(limits: Limits) -> list[tuple[int, int]]:
    """The rlimits every run gets, as (resource, value) pairs (cold runs and warm children alike)."""
    cpu = limits.cpu_time_s or limits.timeout_s * max(1, limits.threads) + 5
    settings = [(resource.RLIMIT_CORE, 0), (resource.RLIMIT_CPU, int(cpu) + 1)]
    if limits.memory_mb:
        settings.append((resource.RLIMIT_AS, limits.memory_mb * 1024 * 1024))
    if limits.file_size_mb:
        settings.append((resource.RLIMIT_FSIZE, limits.file_size_mb * 1024 * 1024))
    if limits.max_processes and os.getuid() != 0:  # RLIMIT_NPROC does not bind root: cgroups do
        settings.append((resource.RLIMIT_NPROC, limits.max_processes))
    return [(int(which), int(value)) for which, value in settings]


def limit_preexec(limits: Limits, join: Callable[[], None] | None = None,
                  user: tuple[int, int] | None = None) -> Callable[[], None]:
    """A ``preexec_fn``: a new session, ``join`` (a cgroup's, before any limit, so that every later
    process of the run is inside), the rlimits, then ``user`` = (uid, gid) to run as
    (``gome_env.isolation.confine``; last, since joining a cgroup needs root)."""
    settings = rlimit_settings(limits)

    def preexec() -> None:
        os.setsid()
        if join is not None:
            join()
        for which, value in settings:
            try:
                resource.setrlimit(which, (value, value))
            except (ValueError, OSError):
                pass
        if user is not None:
            drop_privileges(*user)

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


class _Kept:
    """One stream's head and tail and its byte count."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        if len(self.head) < KEEP_BYTES:
            take = KEEP_BYTES - len(self.head)
            self.head += chunk[:take]
            chunk = chunk[take:]
        if chunk:
            self.tail += chunk
            if len(self.tail) > 2 * KEEP_BYTES:
                del self.tail[: len(self.tail) - KEEP_BYTES]

    def text(self) -> str:
        head = self.head.decode("utf-8", "replace")
        if not self.tail:
            return head
        tail = bytes(self.tail[-KEEP_BYTES:]).decode("utf-8", "replace")
        skipped = self.total - len(self.head) - min(len(self.tail), KEEP_BYTES)
        return head + (f"\n[... {skipped} bytes skipped ...]\n" if skipped > 0 else "") + tail


class OutputCapture:
    """Reads a run's stdout and stderr pipes (binary file objects it then owns) to the end in one
    thread. Past ``limit`` bytes of the two together, ``on_exceed`` is called once (it stops the
    run). :meth:`finish` waits for the end of both streams, but not for ever: a process that left
    the step (another session, no token) may hold the pipes open."""

    def __init__(self, stdout: IO[bytes], stderr: IO[bytes], limit: int, on_exceed: Callable[[], None]) -> None:
        self.stdout, self.stderr = _Kept(), _Kept()
        self.limit, self.exceeded, self.abandoned = limit, False, False
        self._on_exceed = on_exceed
        self._pipes = {stdout.fileno(): (stdout, self.stdout), stderr.fileno(): (stderr, self.stderr)}
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._read, name="gome-output", daemon=True)
        self._thread.start()

    @property
    def total(self) -> int:
        return self.stdout.total + self.stderr.total

    def _read(self) -> None:
        poller = select.poll()
        for fd in (*self._pipes, self._wake_r):
            poller.register(fd, select.POLLIN)
        open_fds = set(self._pipes)
        try:
            while open_fds:
                for fd, _ in poller.poll():
                    if fd == self._wake_r:
                        return  # abandoned: stop reading
                    try:
                        chunk = os.read(fd, 65536)
                    except OSError:
                        chunk = b""
                    if not chunk:
                        poller.unregister(fd)
                        open_fds.discard(fd)
                        continue
                    self._pipes[fd][1].add(chunk)
                    if self.total > self.limit and not self.exceeded:
                        self.exceeded = True
                        self._on_exceed()
        finally:
            for pipe, _ in self._pipes.values():
                pipe.close()

    def finish(self, grace_s: float = OUTPUT_GRACE_S) -> None:
        """Wait up to ``grace_s`` for both streams to end, then stop reading (``abandoned``)."""
        self._thread.join(grace_s)
        if self._thread.is_alive():
            self.abandoned = True
            os.write(self._wake_w, b"x")
            self._thread.join()
        os.close(self._wake_r)
        os.close(self._wake_w)


def build_result(*, returncode: int | None, runtime_s: float, peak_memory_mb: float, output: OutputCapture,
                 timed_out: bool, signal_name: str | None, sandbox: str, leftovers: int, limits: Limits,
                 cgroup_version: int | None = None, cgroup_stats: dict | None = None, confined: bool = False,
                 run_as: str | None = None) -> RunResult:
    """The ``RunResult`` of a finished run (call ``output.finish()`` first), cold or warm alike."""
    stats = cgroup_stats or {}
    return RunResult(
        returncode=returncode,
        runtime_s=round(runtime_s, 4),
        peak_memory_mb=round(peak_memory_mb, 1),
        stdout=output.stdout.text(),
        stderr=output.stderr.text(),
        output_bytes=output.total,
        timed_out=timed_out,
        output_limited=output.exceeded,
        signal=signal_name,
        sandbox=sandbox,
        leftover_processes_killed=leftovers,
        limits=asdict(limits),
        cgroup=f"v{cgroup_version}" if cgroup_version else None,
        oom_killed=bool(stats.get("oom_killed")),
        process_limit_hit=bool(stats.get("process_limit_hit")),
        cgroup_peak_memory_mb=stats.get("peak_memory_mb"),
        output_abandoned=output.abandoned,
        confined=confined,
        run_as=run_as,
    )


def resident_mb() -> float:
    """This process's resident memory now (MB; 0.0 where /proc is missing)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def program_peak_mb(ru_maxrss_kb: int, host_mb: float, cgroup_peak_mb: float | None) -> float:
    """A run's peak memory (MB). ``ru_maxrss`` of a child forked from this process starts at this
    process's own resident size (the fork's copy, before ``exec``), so where it does not rise
    clearly above ``host_mb`` it says nothing about the program: the cgroup's peak is used where
    there is one, else 0.0 (unknown; never "near the limit")."""
    peak = ru_maxrss_kb / 1024
    if peak > host_mb * 1.02 + 8:
        return peak
    return float(cgroup_peak_mb) if cgroup_peak_mb is not None else 0.0
