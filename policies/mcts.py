"""Monte Carlo tree search over solutions, as in AIRA-dojo (facebookresearch/aira-dojo,
``src/dojo/solvers/mcts/mcts.py`` with ``configs/solver/mlebench/mcts.yaml``).

One iteration:

1. **select**: from the root, while the node has visited children, go to the child with the
   highest UCT = Q + c * sqrt(ln N(parent) / N(child)), where Q is the child's mean backed-up dev
   score normalised by the global min and max of all backed-up scores (1 best, 0 worst; 0.5
   while they are equal). An unvisited child (an unfixed bug) is never chosen (AIRA: -1e8);
2. **expand**: make ``num_children`` children, one at a time (AIRA): drafts from the root
   (under the ``start`` protocol: with node 0's code under ``"baseline"``), improvements
   elsewhere, with AIRA's operator prompts and ``simple_memory`` (``policies.aira_prompts``);
3. **review**: after every run the model reviews it (AIRA's analyze operator,
   ``policies.reflection``; ``reflect``): a bug or not, and an analysis for the memories;
4. **debug**: a buggy child is debugged up to ``max_debug_depth`` times (AIRA: 20), each prompt
   with AIRA's debug memory (the chain's earlier attempts with their analyses);
5. **back up**: only a good result's dev score is backed up (the child's, or the fixed one's),
   along the path to the root; an unfixed bug backs up nothing (AIRA).

Extensions, off by default: ``batch_children=True`` asks for all children of an expansion in
one batched call; ``sibling_memory=True`` adds the plans of the expansion's earlier children
(any status) to the memory. docs/POLICIES.md lists each default against the reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from gome_env.grading.direction import Direction
from gome_env.tree import Tree

from policies import aira_prompts
from policies.base import ConfigError, Episode, Policy, PolicyConfig
from policies.edits import EditRequest, request_edits
from policies.reflection import ReflectionConfig, Reflector

__all__ = ["MCTSConfig", "MCTSPolicy", "SearchStats", "uct_score", "uct_select", "select_leaf", "debug_chains"]


@dataclass
class MCTSConfig(PolicyConfig, ReflectionConfig):
    """AIRA-dojo's MLE-bench settings: ``uct_c`` 0.25, ``num_children`` 5 per expansion,
    ``max_debug_depth`` 20, operator sampling temperature 0.6 and top-p 0.95 (``mcts.yaml``).
    ``memory=False`` leaves the memories out. Extensions (off): ``batch_children`` batches an
    expansion's children in one call, ``sibling_memory`` shows the earlier siblings' plans. The
    reflection switches: ``policies.reflection``."""

    uct_c: float = 0.25
    num_children: int = 5
    max_debug_depth: int = 20
    memory: bool = True
    batch_children: bool = False
    sibling_memory: bool = False
    temperature: float = 0.6
    top_p: float = 0.95

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_children < 1 or self.max_debug_depth < 0 or self.uct_c < 0:
            raise ConfigError("need num_children >= 1, max_debug_depth >= 0 and uct_c >= 0")


def debug_chains(episode: Episode, results: list[int], plans: dict[int, str], cfg, reflector: Reflector,
                 debug_ids: set[int], note: dict | None = None) -> list[int]:
    """AIRA's debug loop, shared by MCTS and evolutionary search: debug every buggy node of
    ``results`` (buggy for the search: ``reflector.is_buggy``; batched across them) until fixed or
    ``cfg.max_debug_depth`` attempts, each prompt with the chain's earlier attempts as memory (when
    ``cfg.memory``), each new run reviewed. Returns the last node of each chain; the plans of new
    nodes are added to ``plans`` and their ids to ``debug_ids``."""
    results = list(results)
    for _ in range(cfg.max_debug_depth):
        buggy = [i for i, r in enumerate(results) if reflector.is_buggy(episode.tree[r])]
        if not buggy:
            break
        requests = [aira_prompts.debug_request(episode, results[i], cfg, aira_prompts.ancestral_memory(
            episode.tree, results[i], plans, reflector, debug_ids) if cfg.memory else []) for i in buggy]
        fixed_ids = []
        for i, outcome in zip(buggy, request_edits(episode, requests, config=cfg)):
            fixed = episode.apply(outcome, results[i], kind="debug", note=note, calls=reflector.take_calls())
            if fixed is not None:
                plans[fixed.id] = outcome.edit.plan
                debug_ids.add(fixed.id)
                results[i] = fixed.id
                fixed_ids.append(fixed.id)
        reflector.reflect(episode, fixed_ids)
    return results


@dataclass
class SearchStats:
    """Visit counts and backed-up values per node, and the search tree's own edges (a debugged
    result hangs under the node that was expanded, not under its buggy ancestor)."""

    higher_is_better: bool = True
    visits: dict[int, int] = field(default_factory=dict)
    value_sum: dict[int, float] = field(default_factory=dict)  # sum of raw dev scores backed up
    parent: dict[int, int | None] = field(default_factory=dict)
    children: dict[int, list[int]] = field(default_factory=dict)
    low: float | None = None
    high: float | None = None

    def add(self, node_id: int, parent_id: int | None) -> None:
        self.parent[node_id] = parent_id
        self.children.setdefault(node_id, [])
        if parent_id is not None:
            self.children.setdefault(parent_id, []).append(node_id)

    def backup(self, node_id: int, score: float | None) -> None:
        """Add a good result's ``score`` to ``node_id`` and each of its ancestors; ``None`` (an
        unfixed bug) backs up nothing, as in AIRA."""
        if score is None or not math.isfinite(score):
            return
        self.low = score if self.low is None else min(self.low, score)
        self.high = score if self.high is None else max(self.high, score)
        current: int | None = node_id
        while current is not None:
            self.visits[current] = self.visits.get(current, 0) + 1
            self.value_sum[current] = self.value_sum.get(current, 0.0) + score
            current = self.parent.get(current)

    def normalise(self, score: float) -> float:
        """1 at the best backed-up score, 0 at the worst (0.5 while all are equal)."""
        if self.low is None or self.high is None or self.high == self.low:
            return 0.5
        d = Direction(self.higher_is_better)
        worst = self.low if d.better(self.high, self.low) else self.high
        return d.gain(score, worst) / (self.high - self.low)

    def q(self, node_id: int) -> float:
        """Normalised mean backed-up value (0 when never visited)."""
        n = self.visits.get(node_id, 0)
        return 0.0 if n == 0 else self.normalise(self.value_sum[node_id] / n)


def uct_score(stats: SearchStats, child: int, parent_visits: int, c: float) -> float:
    """AIRA's UCT: normalised Q + c * sqrt(ln N_parent / n); -inf for an unvisited child."""
    n = stats.visits.get(child, 0)
    if n == 0:
        return -math.inf
    return stats.q(child) + c * math.sqrt(math.log(max(parent_visits, 1)) / n)


def uct_select(stats: SearchStats, parent: int, candidates: list[int], c: float) -> int:
    """The candidate child with the highest UCT (the earliest among ties)."""
    parent_visits = stats.visits.get(parent, 0)
    return max(candidates, key=lambda child: (uct_score(stats, child, parent_visits, c), -child))


def select_leaf(stats: SearchStats, tree: Tree, root: int, c: float) -> int:
    """Walk down from ``root`` by UCT through visited children; return the node to expand."""
    node = root
    while True:
        visited = [ch for ch in stats.children.get(node, []) if stats.visits.get(ch, 0) > 0]
        if not visited:
            return node
        node = uct_select(stats, node, visited, c)


class MCTSPolicy(Policy):
    """AIRA-dojo's MCTS: UCT selection, expansion with memory, review, debug loop, back-up of good results."""

    name = "mcts"
    Config = MCTSConfig

    def __init__(self, model=None, **config) -> None:
        super().__init__(model, **config)
        self.plans: dict[int, str] = {}
        self.debug_ids: set[int] = set()
        self.stats: SearchStats | None = None
        self.reflector = Reflector(self.config)

    def run(self, episode: Episode) -> None:
        cfg = self.config
        root = episode.tree.root.id
        self.stats = stats = SearchStats(episode.higher_is_better)
        self.reflector = Reflector(cfg)
        stats.add(root, None)
        while True:
            leaf = select_leaf(stats, episode.tree, root, cfg.uct_c)
            self.expand(episode, leaf)

    def expand(self, episode: Episode, node_id: int) -> list[int]:
        """Make ``num_children`` children of ``node_id`` (one at a time, or one batch with
        ``batch_children``), review each run, debug the buggy ones, back each result up; return
        the results. An unusable answer makes no child."""
        cfg, reflector = self.config, self.reflector
        groups = [list(range(cfg.num_children))] if cfg.batch_children else [[i] for i in range(cfg.num_children)]
        made: list[int] = []  # this expansion's children (before debugging): the siblings
        results: list[int] = []
        for group in groups:
            requests = [self.request(episode, node_id, made) for _ in group]
            children = []
            for request, outcome in zip(requests, request_edits(episode, requests, config=cfg)):
                child = episode.apply(outcome, node_id, kind=request.kind, calls=reflector.take_calls())
                if child is not None:
                    self.plans[child.id] = outcome.edit.plan
                    children.append(child.id)
            made.extend(children)
            reflector.reflect(episode, children)
            for result in self.debug(episode, children):
                self.stats.add(result, node_id)
                node = episode.tree[result]
                self.stats.backup(result, None if reflector.is_buggy(node) else node.dev_score)
                results.append(result)
        return results

    def request(self, episode: Episode, node_id: int, siblings: list[int]) -> EditRequest:
        """A draft (from the root, under the start protocol) or an improvement of ``node_id``, with
        AIRA's memory (and the siblings' plans under ``sibling_memory``)."""
        cfg = self.config
        memory: list[str] = []
        if cfg.memory:
            memory = aira_prompts.simple_memory(episode.tree, self.plans, self.reflector, self.debug_ids)
            if cfg.sibling_memory and siblings:  # the newest entry: kept longest when the window is tight
                memory.append(aira_prompts.sibling_plans(episode.tree, self.plans, siblings))
        if node_id == episode.tree.root.id:
            return aira_prompts.draft_request(episode, cfg, memory)
        return aira_prompts.improve_request(episode, node_id, cfg, memory)

    def debug(self, episode: Episode, results: list[int]) -> list[int]:
        """Debug buggy results (batched across them) until fixed or ``max_debug_depth`` tries,
        each prompt with AIRA's debug memory (the chain's earlier attempts)."""
        return debug_chains(episode, results, self.plans, self.config, self.reflector, self.debug_ids)

    def summary(self) -> dict:
        s = self.stats
        out = {"reflections": self.reflector.summary()}
        if s is not None:
            out |= {"visits": {str(k): v for k, v in sorted(s.visits.items())}, "score_range": [s.low, s.high]}
        return out
