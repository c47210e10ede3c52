"""GOME's momentum memories: the accepted hypotheses (success) and the rejected ones (failure).

**SuccessMemory** holds every accepted hypothesis with its measured improvement (``gain``, in
metric units, positive = better). It is what the traces share in the all-reduce (``merge``: the
union of the entries, keeping the larger weight when two traces hold the same one), and what the
next rounds' prompts list as accepted in other traces (with ``enable_success_memory`` on).

This project's extension (``GOMEConfig.similarity_weighting``, off by default, not in RD-Agent):
each entry's ``weight`` starts at its gain and is multiplied by ``beta`` at the end of every
later round (``decay``), so an entry accepted ``t`` rounds ago weighs ``gain * beta**t`` (recent
successful directions count most, like momentum in SGD); ``momentum(text)`` is the
weight-averaged word overlap of a candidate hypothesis with the remembered successes, in [0, 1],
and raises its selection weight.

**FailureMemory** holds hypotheses that were not accepted (or broke the run), with status and
reason; under the same extension it lowers the weight of similar candidates (``similarity``).

Both keep every entry by default (``capacity=None``), whole; a ``capacity`` keeps the heaviest
successes or the latest failures.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

__all__ = ["Success", "Failure", "SuccessMemory", "FailureMemory", "similarity"]

_WORD_RE = re.compile(r"[a-z][a-z0-9_]{2,}")
_STOP = frozenset("the and for with use using from that this into than then add more its are was were".split())


def _words(text: str) -> frozenset[str]:
    return frozenset(w for w in _WORD_RE.findall(text.lower()) if w not in _STOP)


def similarity(a: str, b: str) -> float:
    """Word-set Jaccard similarity of two texts (0 to 1)."""
    wa, wb = _words(a), _words(b)
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / len(wa | wb)


@dataclass
class Success:
    hypothesis: str
    gain: float
    dev_score: float | None
    node_id: int
    trace: int
    round: int
    weight: float


@dataclass
class Failure:
    hypothesis: str
    status: str
    dev_score: float | None
    reason: str
    node_id: int
    trace: int
    round: int


@dataclass
class SuccessMemory:
    """Accepted hypotheses with decaying weights (momentum with factor ``beta``)."""

    beta: float = 0.9
    capacity: int | None = None
    entries: list[Success] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not 0.0 <= self.beta <= 1.0:
            raise ValueError(f"beta must be in [0, 1], got {self.beta}")

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, hypothesis: str, gain: float, dev_score: float | None, node_id: int, trace: int = 0, round: int = 0) -> Success:
        """Remember an accepted hypothesis; its weight starts at its gain."""
        entry = Success(hypothesis, float(gain), dev_score, node_id, trace, round, float(gain))
        self.entries.append(entry)
        self._trim()
        return entry

    def decay(self) -> None:
        """One round passes: every weight is multiplied by ``beta``."""
        for e in self.entries:
            e.weight *= self.beta

    @property
    def velocity(self) -> float:
        """The total remaining weight (how much momentum there is)."""
        return sum(e.weight for e in self.entries)

    def momentum(self, text: str) -> float:
        """How close ``text`` is to the remembered successes: weight-averaged similarity, 0 to 1."""
        total = self.velocity
        if total <= 0:
            return 0.0
        return sum(e.weight * similarity(text, e.hypothesis) for e in self.entries) / total

    def merge(self, other: SuccessMemory) -> None:
        """All-reduce: take in ``other``'s entries (same node: keep the larger weight)."""
        mine = {e.node_id: e for e in self.entries}
        for e in other.entries:
            if e.node_id in mine:
                mine[e.node_id].weight = max(mine[e.node_id].weight, e.weight)
            else:
                copy = Success(**asdict(e))
                self.entries.append(copy)
                mine[e.node_id] = copy
        self._trim()

    def render(self, metric: str, limit: int | None = None) -> str:
        """The strongest entries for a prompt, one line each (all of them, or those that fit
        ``limit`` characters)."""
        lines = []
        for e in sorted(self.entries, key=lambda e: -e.weight):
            lines.append(f"- {_short(e.hypothesis)} -> {metric} {e.dev_score} (gain {e.gain:+.4g}, weight {e.weight:.3g})")
        return _fit(lines, limit)

    def _trim(self) -> None:
        if self.capacity is not None and len(self.entries) > self.capacity:
            self.entries = sorted(self.entries, key=lambda e: -e.weight)[: self.capacity]

    def to_list(self) -> list[dict]:
        return [asdict(e) for e in self.entries]


@dataclass
class FailureMemory:
    """Hypotheses that did not help (all, or the latest ``capacity``)."""

    capacity: int | None = None
    entries: list[Failure] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, hypothesis: str, status: str, dev_score: float | None, reason: str, node_id: int, trace: int = 0, round: int = 0) -> Failure:
        entry = Failure(hypothesis, status, dev_score, reason, node_id, trace, round)
        self.entries.append(entry)
        if self.capacity is not None:
            self.entries = self.entries[-self.capacity :]
        return entry

    def similarity(self, text: str) -> float:
        """The largest similarity of ``text`` to a remembered failure (0 to 1)."""
        return max((similarity(text, e.hypothesis) for e in self.entries), default=0.0)

    def render(self, metric: str, limit: int | None = None) -> str:
        lines = []
        for e in reversed(self.entries):
            result = f"{metric} {e.dev_score}, no gain" if e.status == "ok" else f"{e.status}: {_short(e.reason)}"
            lines.append(f"- {_short(e.hypothesis)} -> {result}")
        return _fit(lines, limit)

    def to_list(self) -> list[dict]:
        return [asdict(e) for e in self.entries]


def _short(text: str) -> str:
    return " ".join(text.split())


def _fit(lines: list[str], limit: int | None) -> str:
    out, size = [], 0
    for line in lines:
        if limit is not None and size + len(line) + 1 > limit:
            break
        out.append(line)
        size += len(line) + 1
    return "\n".join(out)
