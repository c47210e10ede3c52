"""Commit an evaluated outcome: finish its diagnostics, put it in the tree, compute its reward.

The second half of every step (the first is ``Evaluator.evaluate``). ``MLEEnv.reset`` commits the
baseline as the root, ``MLEEnv.step`` and ``EnvPool.step_many`` commit each outcome as a child of
the node its diff was applied to. The diagnostics get their ids, ``is_best`` (strictly better than
``context.previous_best``, the best dev score before the step) and ``best_dev_score`` (the best
including this step) here, once, before the node that holds them enters the tree; nothing changes
them afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from gome_env.diagnostics import Diagnostics
from gome_env.evaluation import Outcome
from gome_env.rewards import RewardContext, RewardFn
from gome_env.tree import Node, Tree

__all__ = ["Committed", "commit"]


@dataclass
class Committed:
    """One committed step: its finished ``diagnostics``, the ``node`` made (None when the step was
    refused before anything ran and ``keep`` was off) and its ``reward`` (0.0 without a reward)."""

    diagnostics: Diagnostics
    node: Node | None
    reward: float

    @property
    def node_id(self) -> int | None:
        return self.node.id if self.node is not None else None

    def to_dict(self) -> dict:
        return {"node_id": self.node_id, "reward": self.reward, "diagnostics": self.diagnostics.to_dict()}


def commit(tree: Tree, outcome: Outcome, context: RewardContext, reward_fn: RewardFn | None = None, *,
           parent_id: int | None, step: int = 0, diff: str = "", keep: bool = True, **extra: object) -> Committed:
    """Finish ``outcome``'s diagnostics against ``context`` (the tree's state before the step),
    add them as a node under ``parent_id`` (None: the root of an empty tree) unless ``keep`` is
    False, and compute ``reward_fn(diagnostics, context)`` once. ``extra`` sets further
    diagnostics fields (the root's ``sandbox_note``)."""
    d = outcome.diagnostics
    is_best = d.status == "ok" and context.direction.better(d.dev_score, context.previous_best)
    finished = replace(d, is_best=is_best, best_dev_score=d.dev_score if is_best else context.previous_best,
                       node_id=tree.next_id if keep else None, parent_id=parent_id if keep else None, **extra)
    node = tree.add(parent_id, step, diff, outcome.files, finished) if keep else None
    reward = float(reward_fn(finished, context)) if reward_fn is not None else 0.0
    return Committed(finished, node, reward)
