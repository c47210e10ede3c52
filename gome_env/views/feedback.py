"""A node's feedback as text: its diagnostics rendered at a detail level and clipped, and its run's
output cut to both ends. The same node at the same level gives byte-identical text wherever it is
shown (every policy's prompts, the RL datasets and tools)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gome_env.diagnostics import head_tail, render_feedback
from gome_env.views.text import clip

__all__ = ["feedback", "node_feedback", "execution_output"]


def _part(record: Any, name: str) -> Any:
    """A part of a record, read as a mapping's key or as an attribute (None when absent)."""
    if record is None:
        return None
    if isinstance(record, Mapping):
        return record.get(name)
    return getattr(record, name, None)


def feedback(diagnostics: Mapping, detail: str, limit: int) -> str:
    """The environment's diagnostics as markdown at the chosen richness (full/standard/minimal),
    clipped to ``limit`` characters at line boundaries."""
    return clip(render_feedback(diagnostics, detail), limit)


def node_feedback(diagnostics: Mapping, cfg: Any) -> str:
    """THE feedback on a node: its diagnostics at ``cfg.diagnostics``, clipped to
    ``cfg.max_feedback_chars`` (``cfg``: anything with those two attributes, e.g. a
    ``policies.PolicyConfig``). Same node, same level -> byte-identical text."""
    return feedback(diagnostics, cfg.diagnostics, cfg.max_feedback_chars)


def execution_output(diagnostics: Mapping, each_end: int) -> str:
    """The run's output, cut to the first and last ``each_end`` characters (AIDE shows 2,500)."""
    ex = _part(diagnostics, "execution")
    out = (_part(ex, "stdout_head") or "") + (_part(ex, "stdout_tail") or "")
    err = (_part(ex, "stderr_head") or "") + (_part(ex, "stderr_tail") or "")
    text = "\n".join(t for t in (out.strip(), err.strip()) if t)
    if not text:
        text = _part(diagnostics, "reason") or "(no output)"
    return head_tail(text, each_end)
