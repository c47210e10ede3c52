"""Per-run cgroups: a process-count cap that holds even for root, a memory cap over all of a run's
processes with their peak and OOM count, and a reliable "kill everything of this run".

Used where the host lets us: cgroup v1 ``pids`` (+ ``memory``) hierarchies we may write to, or a
delegated cgroup v2 subtree. ``GOME_SANDBOX_CGROUPS=0`` turns them off. Elsewhere
``StepCgroup.create`` returns None and runs rely on rlimits alone.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from functools import lru_cache
from pathlib import Path

from gome_env.isolation.procio import Limits

__all__ = ["StepCgroup", "cgroup_support"]


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
