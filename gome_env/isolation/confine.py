"""Confinement under the subprocess sandbox: where the environment runs as root, a solution runs as
an unprivileged user (``nobody`` by default; ``GOME_SANDBOX_USER`` names another user or a uid), so
it cannot read the private answers (``private/`` is mode 0700, owned by root) nor write anything of
root's.

Dropping to that user works only where the user can reach what a run needs: the interpreter (the
path run and the file it resolves to), the Python installation (``sys.prefix``, ``sys.base_prefix``,
the standard library and site-packages), the warm worker's program and the workspace. The
workspace's ancestors inside the system's temporary folder that the environment owns (the
``mkdtemp`` workdirs of the env, the pool and the benchmark, mode 0700) are made traversable
(``o+x``: no listing); anything else that blocks the user (an interpreter under ``/root``, mode
0700, say) leaves the runs **unconfined**, as the environment's own user, and :class:`Confinement`
says why. So does an environment that is not root (it cannot change user, and it owns the answers).

What the user change does not block (see docs/CONFINEMENT.md): data files that installed packages
ship (``sklearn.datasets.load_digits()`` reads a world-readable file inside scikit-learn; only
bwrap covers them), the network, and other runs under the same user (concurrent environments share
``nobody``: one run could signal another's processes; name a user per environment to avoid it).
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import sys
import sysconfig
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

__all__ = ["Confinement", "RUN_USER_VAR", "DEFAULT_RUN_USER", "run_user", "blocked_at", "plan", "interpreter_paths",
           "hand_over", "drop_privileges", "worker_preexec"]

RUN_USER_VAR = "GOME_SANDBOX_USER"
DEFAULT_RUN_USER = "nobody"


@dataclass(frozen=True)
class Confinement:
    """Whether a sandbox's runs cannot read the private answers, how, and why (not)."""

    confined: bool
    how: str  # "namespaces" (bwrap), "user" (the subprocess sandbox as another user) or "none"
    user: str | None = None  # the user runs run as, where it is not the environment's own
    uid: int | None = None
    gid: int | None = None
    reason: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    def note(self) -> str:
        """One line for the sandbox note and the benchmark's printout."""
        if self.how == "user":
            return f"solutions run as {self.user} (uid {self.uid}), which cannot read the private answers"
        if self.confined:
            return self.reason
        return f"NOT confined: {self.reason}"


def run_user() -> tuple[str, int, int]:
    """(name, uid, gid) of the user confined runs run as: ``$GOME_SANDBOX_USER`` (a name or a numeric
    uid) or ``nobody``. Raises ValueError for an unknown name or for root."""
    wanted = os.environ.get(RUN_USER_VAR) or DEFAULT_RUN_USER
    try:
        entry = pwd.getpwuid(int(wanted)) if wanted.isdigit() else pwd.getpwnam(wanted)
        name, uid, gid = entry.pw_name, entry.pw_uid, entry.pw_gid
    except KeyError:
        if not wanted.isdigit():
            raise ValueError(f"{RUN_USER_VAR}={wanted!r}: no such user") from None
        name, uid, gid = wanted, int(wanted), int(wanted)  # a bare uid with no passwd entry
    if uid == 0:
        raise ValueError(f"{RUN_USER_VAR}={wanted!r} is root: that confines nothing")
    return name, uid, gid


def _may(st: os.stat_result, uid: int, gid: int, bits: int) -> bool:
    """Whether ``uid``/``gid`` (no supplementary groups) has ``bits`` (4 r, 2 w, 1 x) on a file.
    Plain mode bits only: an ACL that grants more is not seen (the run is then left unconfined)."""
    if st.st_uid == uid:
        mode = st.st_mode >> 6
    elif st.st_gid == gid:
        mode = st.st_mode >> 3
    else:
        mode = st.st_mode
    return mode & bits == bits


def blocked_at(path: str | Path, uid: int, gid: int, need: int = 4) -> str | None:
    """Where ``uid`` is stopped on the way to ``path`` (a folder it cannot traverse, or the path
    itself lacking ``need``), as ``"<path> (mode 0700, owner root)"``; None when it gets there. The
    path as written and the path it resolves to are both walked (symbolic links)."""
    for candidate in dict.fromkeys([Path(os.path.abspath(path)), Path(os.path.realpath(path))]):
        parts = candidate.parts
        for i in range(1, len(parts) + 1):
            here = Path(*parts[:i])
            try:
                st = os.stat(here)
            except OSError:
                return f"{here} (missing)"
            last = i == len(parts)
            bits = (need | (1 if stat.S_ISDIR(st.st_mode) else 0)) if last else 1
            if not _may(st, uid, gid, bits):
                try:
                    owner = pwd.getpwuid(st.st_uid).pw_name
                except KeyError:
                    owner = str(st.st_uid)
                return f"{here} (mode {stat.S_IMODE(st.st_mode):04o}, owner {owner})"
    return None


WORKER_PROGRAM = str(Path(__file__).resolve().with_name("warm_worker.py"))


def interpreter_paths(program: str | None = None) -> list[tuple[str, int]]:
    """What a run of ``program`` reads, as (path, needed bits): for ``sys.executable`` (the default)
    the interpreter, its standard library, its site-packages and the warm worker's program; for
    another program, that program."""
    if program is not None and os.path.abspath(program) != os.path.abspath(sys.executable):
        return [(shutil.which(program) or program, 5)]
    paths = [(sys.executable, 5), (os.path.dirname(os.__file__), 5), (WORKER_PROGRAM, 4)]
    for key in ("purelib", "platlib"):
        folder = sysconfig.get_paths().get(key)
        if folder and os.path.isdir(folder):
            paths.append((folder, 5))
    return paths


def _open_temp_ancestors(workspace: Path) -> None:
    """Make the workspace's ancestors inside the temporary folder that we own traversable (o+x)."""
    temp = Path(tempfile.gettempdir()).resolve()
    here = workspace.resolve().parent
    while here != temp and temp in here.parents:
        try:
            st = os.stat(here)
            if st.st_uid == os.geteuid() and not st.st_mode & stat.S_IXOTH:
                os.chmod(here, stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
        except OSError:
            return
        here = here.parent


def plan(workspace: Path, program: str | None = None) -> Confinement:
    """How the subprocess sandbox's runs of ``program`` (default: ``sys.executable``, cold or warm) in
    ``workspace`` can be confined (see the module docstring)."""
    if os.geteuid() != 0:
        return Confinement(False, "none", reason=(
            f"the environment runs as uid {os.geteuid()}, not root, so it cannot run solutions as another user, "
            "and a solution run as itself can read the private answers it prepared; use bwrap"))
    try:
        name, uid, gid = run_user()
    except ValueError as exc:
        return Confinement(False, "none", reason=str(exc))
    _open_temp_ancestors(workspace)
    needed = [*interpreter_paths(program), (str(workspace.resolve().parent), 1)]
    for path, bits in needed:
        where = blocked_at(path, uid, gid, bits)
        if where is not None:
            return Confinement(False, "none", reason=(
                f"{name} (uid {uid}) cannot reach {path}: blocked at {where}; install Python and the project "
                f"where other users can read them, choose a workdir they can reach, or use bwrap"))
    return Confinement(True, "user", user=name, uid=uid, gid=gid, reason=f"runs as {name}")


def hand_over(workspace: Path, confinement: Confinement, keep: str = "data") -> None:
    """Give the workspace and its files (all but ``keep``, the read-only data) to the run's user."""
    if not confinement.confined or confinement.uid is None:
        return
    uid, gid = confinement.uid, confinement.gid
    os.chown(workspace, uid, gid, follow_symlinks=False)
    for entry in os.scandir(workspace):
        if entry.name == keep:
            continue
        os.chown(entry.path, uid, gid, follow_symlinks=False)
        if entry.is_dir(follow_symlinks=False):
            for root, dirs, files in os.walk(entry.path):
                for name in (*dirs, *files):
                    os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


def drop_privileges(uid: int, gid: int) -> None:
    """In a child before ``exec``: become ``uid``/``gid`` with no supplementary groups, for good."""
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)


def worker_preexec(join: Callable[[], None] | None, user: tuple[int, int] | None) -> Callable[[], None] | None:
    """The warm worker's ``preexec_fn``: join its cgroup (which needs root), then become ``user``."""
    if join is None and user is None:
        return None

    def preexec() -> None:
        if join is not None:
            join()
        if user is not None:
            drop_privileges(*user)

    return preexec
