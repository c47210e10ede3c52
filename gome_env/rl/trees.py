"""Rows that carry their tree: a dataset row may start an episode from any node of the tree it
came from (a benchmark run's search tree), not only from node 0.

A tree travels in its serialised form, ``Tree.to_dict()`` (what a benchmark run records as
``record["tree"]`` in ``runs.jsonl``): per node its id, parent, diff, status, dev score and
diagnostics, no files. ``restore_tree(spec, data)`` rebuilds the ``Tree`` by replaying the diffs
from the task's baseline (node 0's ``solution.py``); nothing runs, and the recorded diagnostics
come back as they were. A row's ``tree`` column is that dict as a JSON string (Arrow would merge
the nodes' different diagnostics into one record with nulls), a dict, a ``Tree``, or the path of a
JSON file holding a tree or a run record with one.

``check_rows(rows)`` is the check a dataset builder runs: every row's ``node_id`` names a node of
its tree (a row without a tree starts from node 0), and the tree replays; a bad row is a
``ValueError`` naming the row when the dataset is built, not inside training.
"""

from __future__ import annotations

import json
import numbers
from pathlib import Path
from typing import Any, Iterable, Mapping

from gome_env.patching.diffs import apply_diff
from gome_env.pool import resolve_task
from gome_env.tree import Tree

__all__ = ["tree_data", "tree_json", "restore_tree", "check_row", "check_rows", "tree_rows"]

SOLUTION = "solution.py"


def tree_data(tree: Any) -> dict:
    """The serialised form (``{"higher_is_better", "nodes": [...]}``) of ``tree``: a ``Tree``, that
    dict, its JSON text, or the path of a JSON file holding it (or a run record whose ``tree`` or
    ``record.tree`` holds it)."""
    if isinstance(tree, Tree):
        return tree.to_dict()
    if isinstance(tree, Path) or (isinstance(tree, str) and not tree.lstrip().startswith("{")):
        path = Path(tree)
        if not path.is_file():
            raise ValueError(f"tree file {str(path)!r} does not exist")
        tree = path.read_text()
    if isinstance(tree, (str, bytes)):
        try:
            tree = json.loads(tree)
        except json.JSONDecodeError as exc:
            raise ValueError(f"the tree is not valid JSON: {exc}") from None
    if isinstance(tree, Mapping) and "nodes" not in tree:
        inner = tree.get("tree") or (tree.get("record") or {}).get("tree")
        if inner is not None:
            tree = inner
    if not isinstance(tree, Mapping) or not isinstance(tree.get("nodes"), list):
        raise ValueError("a tree is a gome_env.tree.Tree or its to_dict() form ({'higher_is_better', 'nodes': [...]})")
    return dict(tree)


def tree_json(tree: Any) -> str:
    """A row's ``tree`` column: the serialised tree as compact JSON."""
    return json.dumps(tree_data(tree), separators=(",", ":"), default=str)


def restore_tree(task: Any, tree: Any) -> Tree:
    """A new ``Tree`` rebuilt from ``tree`` (any form ``tree_data`` takes) for ``task``: node 0
    holds the task's baseline, every other node its parent's files with its recorded diff applied
    (a ``patch_failed`` node keeps its parent's files) and its recorded diagnostics. A ``ValueError``
    when the nodes are not numbered 0..n-1 with earlier parents, the tree ranks scores the other
    way from the task's metric, or a diff that applied when it was recorded no longer does."""
    spec = resolve_task(task)
    data = tree_data(tree)
    out = Tree(bool(data.get("higher_is_better", spec.higher_is_better)))
    if out.higher_is_better != spec.higher_is_better:
        raise ValueError(f"the tree ranks scores the other way from {spec.id}'s metric")
    nodes = sorted(data["nodes"], key=lambda n: n.get("id", -1) if isinstance(n, Mapping) else -1)
    for expected, node in enumerate(nodes):
        if not isinstance(node, Mapping) or node.get("id") != expected:
            raise ValueError(f"the tree's nodes must be numbered 0..{len(nodes) - 1}; no node {expected}")
        parent = node.get("parent_id")
        diagnostics = node.get("diagnostics") or {"status": node.get("status", "ok"), "dev_score": node.get("dev_score")}
        if expected == 0:
            if parent is not None:
                raise ValueError("node 0 of the tree must be its root (no parent)")
            out.add(None, 0, "", {SOLUTION: spec.baseline_source}, diagnostics)
            continue
        if not isinstance(parent, int) or not 0 <= parent < expected:
            raise ValueError(f"node {expected}'s parent {parent!r} is not an earlier node")
        files = out.files(parent)
        diff = node.get("diff") or ""
        status = diagnostics.get("status", node.get("status"))
        if status != "patch_failed":
            new, patch = apply_diff(files, diff)
            if not patch.applied:
                raise ValueError(f"node {expected}'s diff no longer applies to node {parent}: {patch.error}")
            files = new
        out.add(parent, int(node.get("step", expected)), diff, files, diagnostics)
    return out


def _node_ids(task: Any, tree: Any, cache: dict | None = None) -> set[int]:
    """The node ids of ``tree`` restored for ``task`` (``cache``: per task and tree text, so rows
    that share a tree replay it once)."""
    key = (str(task), tree if isinstance(tree, str) else id(tree))
    if cache is not None and key in cache:
        return cache[key]
    ids = set(restore_tree(task, tree).nodes)
    if cache is not None:
        cache[key] = ids
    return ids


def check_row(row: Mapping[str, Any], _cache: dict | None = None) -> None:
    """Raise ``ValueError`` unless ``row`` can start an episode: its ``node_id`` is an integer, 0
    or a node of its ``tree`` (which must replay, see ``restore_tree``)."""
    node_id, tree = row.get("node_id", 0), row.get("tree") or None  # "": a dataset column's "no tree"
    if not isinstance(node_id, numbers.Integral) or isinstance(node_id, bool):
        raise ValueError(f"node_id must be an integer, got {node_id!r}")
    if tree is None:
        if int(node_id) != 0:
            raise ValueError(f"node {node_id} needs the row's tree (a 'tree' column): without one only node 0 exists")
        return
    if row.get("task") is None:
        raise ValueError("the row names no task")
    ids = _node_ids(row["task"], tree, _cache)
    if int(node_id) not in ids:
        raise ValueError(f"node {node_id} is not in the row's tree (ids 0..{len(ids) - 1})")


def check_rows(rows: Iterable[Mapping[str, Any]]) -> int:
    """``check_row`` on every row (a tree shared by rows replays once); a ``ValueError`` names the
    first bad row. Returns the count."""
    count, cache = 0, {}
    for count, row in enumerate(rows, 1):
        try:
            check_row(row, cache)
        except ValueError as exc:
            raise ValueError(f"row {count - 1} (task {row.get('task')!r}, node {row.get('node_id')!r}): {exc}") from None
    return count


def tree_rows(task: str, tree: Any, node_ids: Iterable[int] | None = None, seed: int = 0) -> list[dict[str, Any]]:
    """Rows for ``GRPOTrainer(environment_factory=GomeEnvironment)`` that start from ``node_ids``
    (default: every node whose run was ``ok``) of ``tree``, each carrying the tree (JSON), checked
    by ``check_rows``."""
    from gome_env.rl.toolcalls import tool_row

    text = tree_json(tree)
    restored = restore_tree(task, text)  # a tree that does not replay is named as such, not as a row
    if node_ids is None:
        node_ids = [node.id for node in restored if node.status == "ok"]
    rows = [{**tool_row(task, seed, int(k)), "tree": text} for k in node_ids]
    check_rows(rows)
    return rows
