"""A task's witnesses: the private test scores of its ``default_solution.py`` (a competent
ten-minute entry) and its ``reference_gold.py`` (the gold-level reference), measured on the pinned
data and kept in ``envs/<id>/witnesses.json``::

    {"task": "digits", "default_score": 0.0967, "gold_score": 0.02596, "pins_sha256": "a112798841ae4c5e",
     "sources_sha256": "1ccfbb563748c5d8"}

The benchmark's second normalised score puts a run's test score on the scale 0 = the default
solution's score, 1 = the gold threshold, so "beats a ten-minute default" is a figure of its own.
The scores hold for the data and the code they were measured on: :func:`current_witnesses` returns
None when ``pins_sha256`` is not the task's current :func:`~gome_env.tasks.pins.pins_digest` (the
board and its pins were rebuilt since) or ``sources_sha256`` is not :func:`solutions_digest` of the
two files as they are now (either was edited since), so a stale default is never used. The
leaderboard build writes the file (:func:`write_witnesses`) from its own runs of the two files.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gome_env.tasks.pins import pins_digest

if TYPE_CHECKING:  # pragma: no cover
    from gome_env.tasks.task import TaskSpec

__all__ = ["WITNESSES_FILE", "SOLUTIONS", "Witnesses", "read_witnesses", "current_witnesses", "write_witnesses",
           "solutions_digest"]

WITNESSES_FILE = "witnesses.json"
SOLUTIONS = ("default_solution.py", "reference_gold.py")
"""The two files whose test scores a task's witnesses record, in this order."""


@dataclass(frozen=True)
class Witnesses:
    """Test scores of a task's default solution and gold reference, and the pins and solution files they were measured on."""

    task: str
    default_score: float | None
    gold_score: float | None
    pins_sha256: str | None
    sources_sha256: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _score(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def read_witnesses(spec: TaskSpec) -> Witnesses | None:
    """What ``envs/<id>/witnesses.json`` says, or None without one. A malformed file raises ValueError."""
    path = spec.folder / WITNESSES_FILE
    if not path.exists():
        return None
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from exc
    if not isinstance(raw, dict) or "default_score" not in raw:
        raise ValueError(f"{path}: expected an object with default_score, gold_score and pins_sha256")
    return Witnesses(task=str(raw.get("task", spec.id)), default_score=_score(raw.get("default_score")),
                     gold_score=_score(raw.get("gold_score")), pins_sha256=raw.get("pins_sha256"),
                     sources_sha256=raw.get("sources_sha256"))


def solutions_digest(spec: TaskSpec) -> str:
    """A short hash (16 hex digits) of the task's ``default_solution.py`` and ``reference_gold.py``
    as they are now (a missing file counts as empty)."""
    h = hashlib.sha256()
    for name in SOLUTIONS:
        path = spec.folder / name
        h.update(name.encode() + b"\0" + (path.read_bytes() if path.exists() else b"") + b"\0")
    return h.hexdigest()[:16]


def current_witnesses(spec: TaskSpec) -> Witnesses | None:
    """The witnesses when they were measured on the task's current pins and solution files; None if
    missing or stale."""
    found = read_witnesses(spec)
    if found is None or found.pins_sha256 != pins_digest(spec) or found.sources_sha256 != solutions_digest(spec):
        return None
    return found


def write_witnesses(spec: TaskSpec, default_score: float | None, gold_score: float | None) -> Path:
    """Write ``envs/<id>/witnesses.json`` for the task's current pins and solution files."""
    found = Witnesses(task=spec.id, default_score=_score(default_score), gold_score=_score(gold_score),
                      pins_sha256=pins_digest(spec), sources_sha256=solutions_digest(spec))
    path = spec.folder / WITNESSES_FILE
    path.write_text(json.dumps(found.to_dict(), indent=1) + "\n")
    return path
