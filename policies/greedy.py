"""AIDE's greedy tree search.

Each step picks one operator with ``aide_select`` (a pure function of the tree):

1. fewer than ``num_drafts`` drafts (children of the root, the baseline) -> **draft** a new
   whole solution from the task text and the memory;
2. else with probability ``debug_prob``: a random buggy leaf whose debug depth is at most
   ``max_debug_depth`` -> **debug** it (its code and execution output, cut to 2,500 characters
   at each end);
3. else if there is no good node -> **draft**;
4. else **improve** the best good node (greedy).

The memory is AIDE's journal summary: the plan and the dev score of every good node. AIDE's
separate feedback call (is it buggy? what is the metric?) is not needed: the environment's
diagnostics say both. Defaults are AIDE's; ``debug_prob=1.0, max_debug_depth=20`` gives
AIRA-dojo's greedy variant.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from gome_env.tree import Tree

from policies import prompts
from policies.base import ConfigError, Episode, Policy, PolicyConfig
from policies.edits import EditRequest, request_edits

__all__ = ["GreedyConfig", "GreedyPolicy", "aide_select", "debuggable_nodes", "draft_count"]


@dataclass
class GreedyConfig(PolicyConfig):
    """AIDE's search settings: ``num_drafts`` root drafts, ``debug_prob`` chance to debug,
    ``max_debug_depth`` deepest debug chain. ``temperature=0.5`` is AIDE's code temperature."""

    num_drafts: int = 5
    debug_prob: float = 0.5
    max_debug_depth: int = 3
    temperature: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.debug_prob <= 1.0 or self.num_drafts < 0 or self.max_debug_depth < 0:
            raise ConfigError("need 0 <= debug_prob <= 1, num_drafts >= 0 and max_debug_depth >= 0")


def draft_count(tree: Tree) -> int:
    """Drafts so far: the children of the root (the baseline stands where AIDE has no node)."""
    return len(tree.children(tree.root.id))


def debuggable_nodes(tree: Tree, max_debug_depth: int) -> list:
    """Buggy leaves whose debug depth is at most ``max_debug_depth`` (AIDE's rule)."""
    return [n for n in tree.buggy_nodes if tree.is_leaf(n.id) and not n.is_root and n.debug_depth <= max_debug_depth]


def aide_select(tree: Tree, num_drafts: int, debug_prob: float, max_debug_depth: int, rng: random.Random) -> tuple[str, int]:
    """AIDE's search policy: ``("draft", root)``, ``("debug", buggy leaf)`` or ``("improve", best)``."""
    if draft_count(tree) < num_drafts:
        return "draft", tree.root.id
    if rng.random() < debug_prob:
        candidates = debuggable_nodes(tree, max_debug_depth)
        if candidates:
            return "debug", rng.choice(candidates).id
    best = tree.best()
    if best is None:
        return "draft", tree.root.id
    return "improve", best.id


def memory_summary(tree: Tree, plans: dict[int, str], metric: str, limit: int) -> str:
    """AIDE's journal summary: plan and dev score of every good node (newest last, cut to fit)."""
    lines = []
    for node in tree.good_nodes:
        if node.is_root:
            lines.append(f"- baseline: {metric} {node.dev_score}")
            continue
        plan = " ".join(plans.get(node.id, "").split())[:200] or "(no plan given)"
        lines.append(f"- node {node.id}: {plan} -> {metric} {node.dev_score}")
    text = "\n".join(lines)
    return text if len(text) <= limit else text[-limit:]


class GreedyPolicy(Policy):
    """AIDE: draft, debug or greedily improve the best node, one model call per step."""

    name = "greedy"
    Config = GreedyConfig

    def run(self, episode: Episode) -> None:
        cfg = self.config
        plans: dict[int, str] = {}
        while True:
            kind, node_id = aide_select(episode.tree, cfg.num_drafts, cfg.debug_prob, cfg.max_debug_depth, episode.rng)
            node = episode.tree[node_id]
            files = episode.files(node_id)
            memory = memory_summary(episode.tree, plans, episode.metric_name, cfg.max_memory_chars)
            if kind == "draft":
                messages, form = prompts.draft_prompt(episode.task_text, memory, cfg), "whole"
            elif kind == "debug":
                messages, form = prompts.debug_prompt(episode.task_text, files, node.diagnostics, cfg, cfg.diagnostics), cfg.edit_form
            else:
                score = f"{episode.metric_name} {node.dev_score}"
                messages, form = prompts.improve_prompt(episode.task_text, files, memory, cfg, score), cfg.edit_form
            (outcome,) = request_edits(episode, [EditRequest(messages, files, form, kind)], config=cfg)
            child = episode.step(outcome.diff, node_id, kind=kind, calls=outcome.calls, parse_ok=outcome.ok)
            plans[child.id] = outcome.edit.plan if outcome.edit else ""
