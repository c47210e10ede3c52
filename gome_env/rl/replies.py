"""The text of ``GomeEnvironment``'s tool replies (one definition: the environment answers with
these, and ``gome_env.rl.toolcalls`` rebuilds a recorded trajectory's replies with them)."""

from __future__ import annotations

__all__ = ["patch_reply", "node_reply", "submit_reply"]


def patch_reply(node_id: int, status: str, dev_score: float | None, patches_left: int, feedback: str) -> str:
    """``apply_patch``'s reply (before the budget's clip): the new node, its status and dev score,
    the patches left, then the feedback."""
    return f"node {node_id}: {status}, dev score {dev_score}; {patches_left} patches left\n{feedback}"


def node_reply(node_id: int, status: str, dev_score: float | None) -> str:
    """``checkout``'s reply."""
    return f"node {node_id}: {status}, dev score {dev_score}"


def submit_reply(node_id: int, status: str, dev_score: float | None) -> str:
    """``submit``'s reply."""
    return f"submitted {node_reply(node_id, status, dev_score)}"
