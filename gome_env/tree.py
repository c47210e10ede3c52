"""The search tree: every step makes an immutable node (a snapshot of the editable files plus
its diagnostics). Policies read it; only the environment adds to it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from gome_env.diagnostics import Diagnostics
from gome_env.grading.direction import Direction
from gome_env.records import plain
from gome_env.store import BlobStore, Snapshot

__all__ = ["Node", "Tree"]


@dataclass(frozen=True)
class Node:
    """One step's result. ``diff`` is the action that made it from its parent (empty for the root)."""

    id: int
    parent_id: int | None
    step: int
    diff: str
    snapshot: Snapshot = field(repr=False)
    diagnostics: Mapping[str, Any] = field(repr=False)  # a gome_env.diagnostics.Diagnostics (or a plain dict)
    debug_depth: int = 0  # consecutive buggy ancestors this node tries to fix (AIDE's debug depth)

    @property
    def status(self) -> str:
        d = self.diagnostics
        return d.status if isinstance(d, Diagnostics) else d["status"]

    @property
    def dev_score(self) -> float | None:
        d = self.diagnostics
        return d.dev_score if isinstance(d, Diagnostics) else d.get("dev_score")

    @property
    def runtime_s(self) -> float:
        """How long the node's run took (0.0 when nothing ran)."""
        d = self.diagnostics
        execution = d.execution if isinstance(d, Diagnostics) else d.get("execution")
        runtime = getattr(execution, "runtime_s", None) if not isinstance(execution, dict) else execution.get("runtime_s")
        return runtime or 0.0

    @property
    def is_buggy(self) -> bool:
        return self.status != "ok"

    @property
    def is_root(self) -> bool:
        return self.parent_id is None

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "parent_id": self.parent_id,
            "step": self.step,
            "status": self.status,
            "dev_score": self.dev_score,
            "debug_depth": self.debug_depth,
            "diff": self.diff,
            "diagnostics": plain(self.diagnostics),
        }


class Tree:
    """Nodes by id, with the queries tree-search policies need."""

    def __init__(self, higher_is_better: bool) -> None:
        self.higher_is_better = higher_is_better
        self.direction = Direction(higher_is_better)
        self.store = BlobStore()
        self.nodes: dict[int, Node] = {}
        self._children: dict[int, list[int]] = {}
        self._best: Node | None = None  # kept as nodes are added: best() is O(1) at any tree size

    @property
    def next_id(self) -> int:
        """The id the next added node gets."""
        return len(self.nodes)

    def add(self, parent_id: int | None, step: int, diff: str, files: dict[str, str], diagnostics: Mapping[str, Any]) -> Node:
        """A new node under ``parent_id`` (None: the root), with id ``next_id``; ``diagnostics`` are
        kept as given (``gome_env.commit`` finishes them first)."""
        if parent_id is None and self.nodes:
            raise ValueError("the tree has a root already: a new node needs a parent")
        parent = self.nodes[parent_id] if parent_id is not None else None
        depth = parent.debug_depth + 1 if parent is not None and parent.is_buggy and not parent.is_root else 0
        node = Node(self.next_id, parent_id, step, diff, self.store.put(files), diagnostics, depth)
        self.nodes[node.id] = node
        self._children[node.id] = []
        if parent_id is not None:
            self._children[parent_id].append(node.id)
        if not node.is_buggy and node.dev_score is not None and self._beats_best(node.dev_score):
            self._best = node
        return node

    def _beats_best(self, score: float) -> bool:
        """Strictly better than the best so far (so the earliest node wins a tie)."""
        return self.direction.better(score, self._best.dev_score if self._best is not None else None)

    def __getitem__(self, node_id: int) -> Node:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise KeyError(f"no node {node_id}; node ids run from 0 to {len(self.nodes) - 1}") from None

    def __len__(self) -> int:
        return len(self.nodes)

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    @property
    def root(self) -> Node:
        return self.nodes[0]

    def files(self, node_id: int) -> dict[str, str]:
        return self.store.get(self[node_id].snapshot)

    def children(self, node_id: int) -> list[Node]:
        return [self.nodes[c] for c in self._children[node_id]]

    def is_leaf(self, node_id: int) -> bool:
        return not self._children[node_id]

    def path(self, node_id: int) -> list[Node]:
        """Nodes from the root down to ``node_id``."""
        out = []
        node: Node | None = self[node_id]
        while node is not None:
            out.append(node)
            node = self.nodes[node.parent_id] if node.parent_id is not None else None
        return out[::-1]

    @property
    def good_nodes(self) -> list[Node]:
        return [n for n in self if not n.is_buggy]

    @property
    def buggy_nodes(self) -> list[Node]:
        return [n for n in self if n.is_buggy]

    @property
    def leaves(self) -> list[Node]:
        return [n for n in self if self.is_leaf(n.id)]

    def best(self) -> Node | None:
        """The good node with the best dev score (the earliest among ties)."""
        return self._best

    def to_dict(self) -> dict:
        return {"higher_is_better": self.higher_is_better, "nodes": [n.to_dict() for n in self]}

    def nbytes(self) -> dict[str, int]:
        """What the tree stores, in bytes: ``chunks`` (compressed file content, shared by all
        nodes), ``snapshots`` (each node's paths and chunk keys), ``nodes`` (each node's diff and
        diagnostics as JSON) and their ``total``."""
        chunks = self.store.nbytes
        snapshots = sum(self.store.snapshot_nbytes(n.snapshot) for n in self)
        nodes = sum(len(n.diff.encode()) + len(json.dumps(plain(n.diagnostics), default=str).encode()) for n in self)
        return {"chunks": chunks, "snapshots": snapshots, "nodes": nodes, "total": chunks + snapshots + nodes}
