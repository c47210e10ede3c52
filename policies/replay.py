"""Test helpers: a policy that replays given diffs, and a model that answers from a table.

``ReplayPolicy`` needs no model: it sends its diffs in order (each from the node it names, or
from the node the previous step made) and then stops, so the runner submits the best node.
``table_backend`` is a ``ScriptedBackend`` whose answer is chosen by the first table key found
in the conversation, so a policy's prompts can be answered deterministically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from policies.base import Episode, Policy
from policies.models import ScriptedBackend

__all__ = ["ReplayConfig", "ReplayPolicy", "table_backend"]


@dataclass
class ReplayConfig:
    """``diffs``: the actions to send, in order (a diff, or ``submit`` to end there).
    ``parents``: the node each diff is applied to (None: the node the previous step made, or the
    root at the start); default all None."""

    diffs: list[str] = field(default_factory=list)
    parents: list[int | None] | None = None


class ReplayPolicy(Policy):
    """Replays a fixed list of diffs: a deterministic baseline and a test fixture."""

    name = "replay"
    Config = ReplayConfig
    needs_model = False

    def run(self, episode: Episode) -> None:
        parents = self.config.parents or [None] * len(self.config.diffs)
        current = episode.tree.root.id
        for diff, parent in zip(self.config.diffs, parents):
            if diff.strip().lower().startswith("submit"):
                words = diff.split()
                self.submit_node = int(words[1]) if len(words) > 1 else None
                return
            node = episode.step(diff, current if parent is None else parent, kind="replay")
            current = node.id


Table = dict[str, "str | Callable[[list[dict]], str]"]


def table_backend(table: Table, default: str | Callable[[list[dict]], str] | None = None) -> ScriptedBackend:
    """A ScriptedBackend answering from ``table``: the first key (in table order) that occurs in
    the conversation's text picks the answer, a string or a callable ``(messages) -> str``.
    ``default`` answers when no key matches (an error when it is None)."""

    def answer(messages: list[dict]) -> str:
        text = "\n".join(m["content"] for m in messages)
        for key, value in table.items():
            if key in text:
                return value(messages) if callable(value) else value
        if default is None:
            raise KeyError(f"no table key found in the conversation; keys: {list(table)}")
        return default(messages) if callable(default) else default

    return ScriptedBackend(answer)
