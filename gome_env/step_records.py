"""The typed parts of a step's diagnostics: what the patch did, what the run did, whether the
submission is valid, the resources against their limits, and where the dev predictions go wrong.

Each part is a dataclass with ``to_dict()`` (``gome_env.records.MappingRecord``). For one release
they also read like the dicts they replace (``d["execution"]["runtime_s"]`` as well as
``d.execution.runtime_s``), so policies and scripts written against the dicts keep working.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gome_env.isolation.procio import Limits, RunResult
from gome_env.records import MappingRecord

__all__ = ["PatchInfo", "Execution", "Submission", "Resources", "ErrorAnalysis", "QuickCopy", "SHOWN_CHARS"]

SHOWN_CHARS = 2500  # of output shown at each end, as AIDE does
_ATOMS = (str, int, float, bool, type(None))


def _copied(value: Any) -> Any:
    """A deep copy of JSON-like data and ``QuickCopy`` records (anything else: ``copy.deepcopy``)."""
    if isinstance(value, _ATOMS):
        return value
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copied(v) for v in value]
    if isinstance(value, QuickCopy):
        new = object.__new__(type(value))
        new.__dict__.update({k: _copied(v) for k, v in vars(value).items()})
        return new
    return copy.deepcopy(value)


class QuickCopy:
    """``copy.deepcopy`` of a record of JSON-like fields without the generic machinery (the env
    hands every caller its own copy of a node's diagnostics, once per step)."""

    def __deepcopy__(self, memo: dict) -> Any:
        return _copied(self)


@dataclass(eq=False)
class PatchInfo(QuickCopy, MappingRecord):
    """What applying the action's diff did (``gome_env.patching.diffs.PatchResult``, as a record)."""

    applied: bool
    strategy: str | None = None  # exact, shifted, whitespace, fuzzy, or how a whole-file edit was taken
    files: list[str] = field(default_factory=list)
    rejected_hunks: list[dict] = field(default_factory=list)  # file, hunk, expected
    error: str | None = None  # why it did not apply
    notes: list[str] = field(default_factory=list)  # what the diff cleaning did

    @classmethod
    def of(cls, patch: Any) -> "PatchInfo | None":
        """A ``PatchResult``, its dict or a ``PatchInfo`` as a ``PatchInfo`` (None stays None)."""
        if patch is None or isinstance(patch, PatchInfo):
            return patch
        fields = patch if isinstance(patch, Mapping) else patch.as_dict()
        return cls(**{k: v for k, v in fields.items() if k in cls.__dataclass_fields__})


@dataclass(eq=False)
class Execution(QuickCopy, MappingRecord):
    """What the run did: exit, time, memory, the head and tail of its output, the exception it
    raised, and whether it ran on the warm worker. A syntax error fills only ``exception``."""

    returncode: int | None = None
    signal: str | None = None
    runtime_s: float | None = None
    peak_memory_mb: float | None = None
    timed_out: bool = False
    memory_exceeded: bool = False
    output_limited: bool = False
    stdout_head: str = ""
    stdout_tail: str = ""
    stderr_head: str = ""
    stderr_tail: str = ""
    exception: dict | None = None  # type, message, file, line, source_line (gome_env.diagnostics.parse_exception)
    leftover_processes_killed: int = 0
    executor: str | None = None  # "warm" or "cold" (RunResult.warm)

    @classmethod
    def of_run(cls, run: RunResult, exception: dict | None) -> "Execution":
        def tail(text: str) -> str:
            return text[-SHOWN_CHARS:] if len(text) > SHOWN_CHARS else ""

        return cls(returncode=run.returncode, signal=run.signal, runtime_s=run.runtime_s, peak_memory_mb=run.peak_memory_mb,
                   timed_out=run.timed_out, memory_exceeded=run.memory_exceeded, output_limited=run.output_limited,
                   stdout_head=run.stdout[:SHOWN_CHARS], stdout_tail=tail(run.stdout), stderr_head=run.stderr[:SHOWN_CHARS],
                   stderr_tail=tail(run.stderr), exception=exception, leftover_processes_killed=run.leftover_processes_killed,
                   executor="warm" if run.warm else "cold")


@dataclass(eq=False)
class Submission(QuickCopy, MappingRecord):
    """Whether ``submission/dev.csv`` and ``submission/test.csv`` are valid, and what is wrong."""

    valid: bool
    problems: list[str] = field(default_factory=list)


@dataclass(eq=False)
class Resources(QuickCopy, MappingRecord):
    """What the run used against its limits."""

    runtime_s: float
    timeout_s: float
    peak_memory_mb: float
    memory_limit_mb: int | None
    output_bytes: int
    output_limit_bytes: int

    @classmethod
    def of_run(cls, run: RunResult, limits: Limits, timeout_s: float) -> "Resources":
        return cls(runtime_s=run.runtime_s, timeout_s=timeout_s, peak_memory_mb=run.peak_memory_mb,
                   memory_limit_mb=limits.memory_mb, output_bytes=run.output_bytes, output_limit_bytes=limits.output_bytes)


@dataclass(eq=False)
class ErrorAnalysis(QuickCopy, MappingRecord):
    """Where the dev predictions go wrong (detail ``full``), aggregates only. ``kind`` says which
    fields are set: ``classification`` (per class, most confused pairs), ``regression``
    (residuals, worst segments), ``multi-target`` (``note``) or ``unavailable`` (``error``)."""

    kind: str
    accuracy_at_argmax: float | None = None
    per_class: list[dict] | None = None  # class, support, precision, recall
    classes_not_shown: int | None = None
    most_confused: list[dict] | None = None  # true, predicted, count
    residual_mean: float | None = None
    residual_std: float | None = None
    abs_error_p50_p90_max: list[float] | None = None
    worst_segments: list[dict] | None = None  # segment, target_range, mean_error, rmse
    note: str | None = None
    error: str | None = None

    _optional = ("accuracy_at_argmax", "per_class", "classes_not_shown", "most_confused", "residual_mean", "residual_std",
                 "abs_error_p50_p90_max", "worst_segments", "note", "error")

    @classmethod
    def of(cls, fields: Mapping[str, Any]) -> "ErrorAnalysis":
        return cls(**fields)
