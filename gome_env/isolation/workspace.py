"""The workspace a step runs in: exactly the step's files, plus the public data at ``data/``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from gome_env.isolation.sandbox import Sandbox

__all__ = ["layout_workspace"]


def _remove(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
        return
    shutil.rmtree(path, ignore_errors=True)
    if path.exists():  # a read-only leftover: make it writable and retry
        for p in [path, *path.rglob("*")]:
            if p.is_dir() and not p.is_symlink():
                p.chmod(0o700)
        shutil.rmtree(path)


def layout_workspace(workspace: Path, files: dict[str, str], sandbox: Sandbox, data_dir: Path) -> None:
    """Make ``workspace`` hold exactly ``files`` plus the public data at ``data/``.

    The folder itself and its ``data`` entry are kept (a warm bwrap worker has them mounted);
    everything else the previous run left is removed, and the files are written afresh."""
    workspace.mkdir(parents=True, exist_ok=True)
    workspace.chmod(0o755)
    for entry in os.scandir(workspace):
        if entry.name != "data":
            _remove(Path(entry.path))
    for path, text in files.items():
        target = workspace / path
        if target.parent != workspace:
            target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    sandbox.prepare_workspace(workspace, data_dir)
