"""The private-answers tripwire: notices when a run read, linked or changed the private answers
(or rewrote the public data it was given). Needed where the answers are reachable at all: the
subprocess backend; under bwrap they are not mounted."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PrivateTripwire"]


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
