"""AIDE's greedy tree search (WecoAI/aideml, ``aide/agent.py``: ``search_policy``).

Each step picks one operator with ``aide_select`` (a pure function of the tree):

1. fewer than ``num_drafts`` drafts (children of the root) -> **draft** a new whole solution;
2. else with probability ``debug_prob``: a random buggy leaf whose debug depth is at most
   ``max_debug_depth`` -> **debug** it (its code, feedback and execution output);
3. else if there is no good node -> **draft**;
4. else **improve** the best good node (greedy).

The protocol (``start``): under ``"scratch"`` drafts see the task text only and the baseline
(node 0) is **not** a good node (AIDE has none: it drafts until one of its own drafts works);
under ``"baseline"`` drafts see node 0's code and feedback and node 0 counts as a good node.

The memory is AIDE's journal summary (``Journal.generate_summary``): for every good node its plan
(design), an analysis (the environment's feedback on the run, in place of AIDE's feedback call:
the diagnostics already say whether it is buggy and what the metric is) and its dev score, oldest
first; entries are never cut inside, the oldest are left out whole when it is too long. Defaults
are AIDE's; ``debug_prob=1.0, max_debug_depth=20`` gives AIRA-dojo's greedy variant.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from gome_env.diagnostics import render_feedback
from gome_env.grading.direction import Direction
from gome_env.tree import Tree

from policies import prompts
from policies.base import ConfigError, Episode, Policy, PolicyConfig
from policies.edits import request_edits

__all__ = ["GreedyConfig", "GreedyPolicy", "aide_select", "debuggable_nodes", "draft_count", "good_nodes", "memory_summary", "analysis"]


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
    """Drafts so far: the children of the root (node 0 is the baseline, not a draft)."""
    return len(tree.children(tree.root.id))


def good_nodes(tree: Tree, start: str = "baseline") -> list:
    """AIDE's good nodes: every node that ran and scored; node 0 only under ``start="baseline"``."""
    return [n for n in tree.good_nodes if n.dev_score is not None and (start == "baseline" or not n.is_root)]


def debuggable_nodes(tree: Tree, max_debug_depth: int) -> list:
    """Buggy leaves whose debug depth is at most ``max_debug_depth`` (AIDE's rule)."""
    return [n for n in tree.buggy_nodes if tree.is_leaf(n.id) and not n.is_root and n.debug_depth <= max_debug_depth]


def aide_select(tree: Tree, num_drafts: int, debug_prob: float, max_debug_depth: int, rng: random.Random,
                start: str = "baseline") -> tuple[str, int]:
    """AIDE's search policy: ``("draft", root)``, ``("debug", buggy leaf)`` or ``("improve", best)``."""
    if draft_count(tree) < num_drafts:
        return "draft", tree.root.id
    if rng.random() < debug_prob:
        candidates = debuggable_nodes(tree, max_debug_depth)
        if candidates:
            return "debug", rng.choice(candidates).id
    good = good_nodes(tree, start)
    if not good:
        return "draft", tree.root.id
    sign = Direction(tree.higher_is_better).sign
    best = max(good, key=lambda n: (sign * n.dev_score, -n.id))  # the earliest among ties
    return "improve", best.id


def analysis(diagnostics: dict, detail: str = "full") -> str:
    """One line on a run from the environment's feedback (run, warnings, error analysis), without
    the headline of scores and without output excerpts."""
    lines = render_feedback(diagnostics, detail).split("\n")[2:]
    kept, fence = [], False
    for line in lines:
        if line.strip().startswith("```"):
            fence = not fence
            continue
        if not fence and line.strip() and not line.strip().startswith("- output tail"):
            kept.append(line.strip().lstrip("- ").strip())
    return "; ".join(kept) or "ran without errors"


def memory_summary(tree: Tree, plans: dict[int, str], metric: str, limit: int, start: str = "baseline",
                   detail: str = "full") -> str:
    """AIDE's journal summary: plan, analysis and dev score of every good node, oldest first.
    Entries are whole; when they pass ``limit`` characters the oldest are left out (and counted)."""
    entries = []
    for node in good_nodes(tree, start):
        head = f"- baseline: {metric} {node.dev_score}" if node.is_root else (
            f"- node {node.id}: {' '.join(plans.get(node.id, '').split()) or '(no plan given)'} -> {metric} {node.dev_score}")
        entries.append(f"{head}\n  analysis: {analysis(node.diagnostics, detail)}")
    kept, size = [], 0
    for entry in reversed(entries):
        if kept and size + len(entry) + 1 > limit:
            break
        kept.insert(0, entry)
        size += len(entry) + 1
    left_out = len(entries) - len(kept)
    return "\n".join(([f"[... {left_out} earlier good nodes left out ...]"] if left_out else []) + kept)


class GreedyPolicy(Policy):
    """AIDE: draft, debug or greedily improve the best node, one model call per step."""

    name = "greedy"
    Config = GreedyConfig

    def __init__(self, model=None, **config) -> None:
        super().__init__(model, **config)
        self.plans: dict[int, str] = {}

    def run(self, episode: Episode) -> None:
        cfg = self.config
        self.plans = {episode.tree.root.id: "the provided baseline"}
        while True:
            kind, node_id = aide_select(episode.tree, cfg.num_drafts, cfg.debug_prob, cfg.max_debug_depth, episode.rng, cfg.start)
            memory = memory_summary(episode.tree, self.plans, episode.metric_name, cfg.max_memory_chars, cfg.start, cfg.diagnostics)
            if kind == "draft":
                request = prompts.draft_request(episode, cfg, memory)
            elif kind == "debug":
                request = prompts.debug_request(episode, node_id, cfg)
            else:
                request = prompts.improve_request(episode, node_id, cfg, memory)
            (outcome,) = request_edits(episode, [request], config=cfg)
            child = episode.apply(outcome, node_id, kind=kind)
            if child is not None:
                self.plans[child.id] = outcome.edit.plan
