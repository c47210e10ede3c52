"""AIDE's greedy tree search (WecoAI/aideml, ``aide/agent.py``: ``search_policy``).

Each step picks one operator with ``aide_select`` (a pure function of the tree):

1. fewer than ``num_drafts`` drafts (children of the root) -> **draft** a new whole solution;
2. else with probability ``debug_prob``: a random buggy leaf whose debug depth is at most
   ``max_debug_depth`` -> **debug** it (its code, feedback and execution output);
3. else if there is no good node -> **draft**;
4. else **improve** the best good node (greedy).

After every run the model reviews it (AIDE's feedback call, ``policies.reflection``; ``reflect``):
whether it is a bug and a short analysis. A run the review calls buggy is buggy for the search
(``reflection_marks_bugs``), and the analysis is the memory's "Results" line.

The prompts are AIDE's (``policies.aide_prompts``: introduction, task, memory, response format,
sketch and implementation guidelines); ``operators="aira"`` uses AIRA-dojo's operator prompts and
memories instead (``policies.aira_prompts``), which with ``debug_prob=1.0, max_debug_depth=20``
is AIRA-dojo's greedy (``configs/solver/mlebench/greedy.yaml``).

The protocol (``start``): under ``"scratch"`` drafts see the task text only and the baseline
(node 0) is **not** a good node (AIDE has none: it drafts until one of its own drafts works);
under ``"baseline"`` drafts see node 0's code and feedback and node 0 counts as a good node.

The memory is AIDE's journal summary (``Journal.generate_summary``): for every good node its
design (plan), results (the review's analysis; the environment's feedback line without one) and
dev score, oldest first, whole. Sampling: temperature 0.5 (aideml ``aide/utils/config.yaml``
``agent.code.temp``), top-p 1.0 (AIDE sets none).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from typing import Callable

from gome_env.grading.direction import Direction
from gome_env.tree import Tree

from policies import aide_prompts, aira_prompts
from policies.base import ConfigError, Episode, Policy, PolicyConfig
from policies.edits import request_edits
from policies.reflection import ReflectionConfig, Reflector, env_analysis

__all__ = ["GreedyConfig", "GreedyPolicy", "aide_select", "debuggable_nodes", "draft_count", "good_nodes", "memory_entries", "memory_summary", "analysis"]


OPERATOR_SETS = ("aide", "aira")
analysis = env_analysis  # the memory's analysis when there is no review (kept under its old name)


@dataclass
class GreedyConfig(PolicyConfig, ReflectionConfig):
    """AIDE's search settings: ``num_drafts`` root drafts, ``debug_prob`` chance to debug,
    ``max_debug_depth`` deepest debug chain. ``temperature=0.5`` is AIDE's code temperature, top-p
    1.0 (AIDE sets none). ``operators``: ``"aide"`` (AIDE's prompts and journal summary) or
    ``"aira"`` (AIRA-dojo's operator prompts and memories; with ``debug_prob=1.0,
    max_debug_depth=20`` AIRA-dojo's greedy). The reflection switches: ``policies.reflection``."""

    num_drafts: int = 5
    debug_prob: float = 0.5
    max_debug_depth: int = 3
    operators: str = "aide"
    temperature: float = 0.5
    top_p: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.operators not in OPERATOR_SETS:
            raise ConfigError(f"unknown operators {self.operators!r}; valid: {', '.join(OPERATOR_SETS)}")
        if not 0.0 <= self.debug_prob <= 1.0 or self.num_drafts < 0 or self.max_debug_depth < 0:
            raise ConfigError("need 0 <= debug_prob <= 1, num_drafts >= 0 and max_debug_depth >= 0")


def draft_count(tree: Tree) -> int:
    """Drafts so far: the children of the root (node 0 is the baseline, not a draft)."""
    return len(tree.children(tree.root.id))


def _env_buggy(node) -> bool:
    return node.is_buggy


def good_nodes(tree: Tree, start: str = "baseline", is_buggy: Callable = _env_buggy) -> list:
    """AIDE's good nodes: every node that ran, scored and is not ``is_buggy`` (the environment's
    status, or also the review's: ``Reflector.is_buggy``); node 0 only under ``start="baseline"``."""
    return [n for n in tree if not is_buggy(n) and n.dev_score is not None and (start == "baseline" or not n.is_root)]


def debuggable_nodes(tree: Tree, max_debug_depth: int, is_buggy: Callable = _env_buggy) -> list:
    """Buggy leaves whose debug depth is at most ``max_debug_depth`` (AIDE's rule)."""
    return [n for n in tree if is_buggy(n) and tree.is_leaf(n.id) and not n.is_root and n.debug_depth <= max_debug_depth]


def aide_select(tree: Tree, num_drafts: int, debug_prob: float, max_debug_depth: int, rng: random.Random,
                start: str = "baseline", is_buggy: Callable = _env_buggy) -> tuple[str, int]:
    """AIDE's search policy: ``("draft", root)``, ``("debug", buggy leaf)`` or ``("improve", best)``."""
    if draft_count(tree) < num_drafts:
        return "draft", tree.root.id
    if rng.random() < debug_prob:
        candidates = debuggable_nodes(tree, max_debug_depth, is_buggy)
        if candidates:
            return "debug", rng.choice(candidates).id
    good = good_nodes(tree, start, is_buggy)
    if not good:
        return "draft", tree.root.id
    sign = Direction(tree.higher_is_better).sign
    best = max(good, key=lambda n: (sign * n.dev_score, -n.id))  # the earliest among ties
    return "improve", best.id


def memory_entries(tree: Tree, plans: dict[int, str], *, start: str = "baseline", detail: str = "full",
                   reflector: Reflector | None = None) -> list[str]:
    """AIDE's journal summary as entries: design, results and validation metric of every good
    node, oldest first, whole. The results are the review's analysis (``reflector``), else the
    environment's feedback line (``env_analysis``)."""
    is_buggy = reflector.is_buggy if reflector is not None else _env_buggy
    entries = []
    for node in good_nodes(tree, start, is_buggy):
        plan = "the provided baseline" if node.is_root else (" ".join(plans.get(node.id, "").split()) or "(no plan given)")
        results = reflector.analysis_of(node) if reflector is not None else env_analysis(dict(node.diagnostics), detail)
        entries.append((plan, results, node.dev_score))
    return aide_prompts.journal_entries(entries)


def memory_summary(tree: Tree, plans: dict[int, str], **options) -> str:
    """The journal summary's whole text (``memory_entries`` joined by AIDE's rule)."""
    return aide_prompts.SEPARATOR.join(memory_entries(tree, plans, **options))


class GreedyPolicy(Policy):
    """AIDE: draft, debug or greedily improve the best node, one model call per step."""

    name = "greedy"
    Config = GreedyConfig

    def __init__(self, model=None, **config) -> None:
        super().__init__(model, **config)
        self.plans: dict[int, str] = {}
        self.debug_ids: set[int] = set()
        self.reflector = Reflector(self.config)

    def run(self, episode: Episode) -> None:
        cfg = self.config
        self.plans = {episode.tree.root.id: "the provided baseline"}
        self.debug_ids = set()
        self.reflector = reflector = Reflector(cfg)
        while True:
            kind, node_id = aide_select(episode.tree, cfg.num_drafts, cfg.debug_prob, cfg.max_debug_depth, episode.rng,
                                        cfg.start, reflector.is_buggy)
            request = self.request(episode, kind, node_id)
            (outcome,) = request_edits(episode, [request], config=cfg)
            child = episode.apply(outcome, node_id, kind=kind, calls=reflector.take_calls())
            if child is not None:
                self.plans[child.id] = outcome.edit.plan
                if kind == "debug":
                    self.debug_ids.add(child.id)
                reflector.reflect(episode, [child.id])

    def request(self, episode: Episode, kind: str, node_id: int):
        """The draft, debug or improve request, with AIDE's prompts and memory (or AIRA's)."""
        cfg, tree, reflector = self.config, episode.tree, self.reflector
        if cfg.operators == "aira":
            plans = {k: v for k, v in self.plans.items() if k != tree.root.id}
            if kind == "debug":
                return aira_prompts.debug_request(episode, node_id, cfg, aira_prompts.ancestral_memory(
                    tree, node_id, plans, reflector, self.debug_ids))
            memory = aira_prompts.simple_memory(tree, plans, reflector, self.debug_ids)
            if kind == "draft":
                return aira_prompts.draft_request(episode, cfg, memory)
            return aira_prompts.improve_request(episode, node_id, cfg, memory)
        if kind == "debug":
            return aide_prompts.debug_request(episode, node_id, cfg)
        memory = memory_entries(tree, self.plans, start=cfg.start, detail=cfg.diagnostics, reflector=reflector)
        if kind == "draft":
            return aide_prompts.draft_request(episode, cfg, memory)
        return aide_prompts.improve_request(episode, node_id, cfg, memory)

    def summary(self) -> dict:
        return {"reflections": self.reflector.summary()}
