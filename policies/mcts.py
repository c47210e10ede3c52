"""Monte Carlo tree search over solutions, as in AIRA-dojo (facebookresearch/aira-dojo,
``src/dojo/solvers/mcts/mcts.py`` with ``configs/solver/mlebench/mcts.yaml``).

One iteration:

1. **select**: from the root, while the node has visited children, go to the child with the
   highest UCT = Q + c * sqrt(ln N(parent) / N(child)), where Q is the child's mean backed-up dev
   score normalised by the global min and max of all backed-up scores (1 best, 0 worst; 0.5
   while they are equal). An unvisited child (an unfixed bug) is never chosen (AIRA: -1e8);
2. **expand**: make ``num_children`` children, one at a time (AIRA): drafts from the root
   (under the ``start`` protocol: with node 0's code under ``"baseline"``), improvements
   elsewhere. Each child's prompt holds AIRA's memory (plan and dev score of every good node)
   and the plans of its earlier siblings, and asks for a different idea;
3. **debug**: a buggy child is debugged up to ``max_debug_depth`` times (AIRA: 20), each prompt
   with AIRA's debug memory (the plans of the chain's earlier attempts);
4. **back up**: only a good result's dev score is backed up (the child's, or the fixed one's),
   along the path to the root; an unfixed bug backs up nothing (AIRA).

``batch_children=True`` (this project's extension, off by default) asks for all children of an
expansion in one batched call, without the siblings' plans. docs/POLICIES.md lists each default
against the reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from gome_env.grading.direction import Direction
from gome_env.tree import Tree

from policies import prompts
from policies.base import ConfigError, Episode, Policy, PolicyConfig
from policies.edits import EditRequest, request_edits

__all__ = ["MCTSConfig", "MCTSPolicy", "SearchStats", "uct_score", "uct_select", "select_leaf", "journal_memory", "debug_memory", "debug_chains"]


@dataclass
class MCTSConfig(PolicyConfig):
    """AIRA-dojo's MLE-bench settings: ``uct_c`` 0.25, ``num_children`` 5 per expansion,
    ``max_debug_depth`` 20, sampling temperature 0.6 and top-p 0.95. ``memory=False`` leaves
    the memory and the siblings' plans out; ``batch_children=True`` (extension) batches an
    expansion's children in one call."""

    uct_c: float = 0.25
    num_children: int = 5
    max_debug_depth: int = 20
    memory: bool = True
    batch_children: bool = False
    temperature: float = 0.6
    top_p: float = 0.95

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_children < 1 or self.max_debug_depth < 0 or self.uct_c < 0:
            raise ConfigError("need num_children >= 1, max_debug_depth >= 0 and uct_c >= 0")


def journal_memory(tree: Tree, plans: dict[int, str], metric: str, limit: int, siblings: list[int] = ()) -> str:
    """AIRA's ``simple_memory``: the plan and dev score of every good node made so far (newest
    kept when it must be cut), then the plans of this expansion's earlier ``siblings`` (any
    status), and the request to propose something different. Empty when there is nothing yet."""
    lines = []
    for node in tree.good_nodes:
        if node.id in plans:
            plan = " ".join(plans[node.id].split()) or "(no plan given)"
            lines.append(f"- node {node.id}: {plan} -> {metric} {node.dev_score}")
    sib = []
    for node_id in siblings:
        plan = " ".join(plans.get(node_id, "").split()) or "(no plan given)"
        sib.append(f"- sibling {node_id} ({tree[node_id].status}): {plan}")
    if not lines and not sib:
        return ""
    tail = ("Ideas already tried from this node:\n" + "\n".join(sib) + "\n") if sib else ""
    while lines and len("\n".join(lines)) + len(tail) > limit:
        lines.pop(0)  # the oldest entries go first; entries are never cut mid-line
    parts = [p for p in ("\n".join(lines), tail.rstrip("\n")) if p]
    return "\n".join(parts) + "\nPropose an idea that differs from all of these."


def debug_memory(tree: Tree, plans: dict[int, str], node_id: int, limit: int) -> str:
    """AIRA's ``debug_memory`` (ancestral memory): the plans of the earlier attempts in a buggy
    chain, from the buggy node up to its last good ancestor, oldest first ('' when none)."""
    chain = []
    node = tree[node_id]
    while node is not None and node.is_buggy and not node.is_root:
        chain.insert(0, node)
        node = tree[node.parent_id] if node.parent_id is not None else None
    lines = [f"- attempt at node {n.id} ({n.status}): {' '.join(plans.get(n.id, '').split()) or '(no plan given)'}" for n in chain]
    while len(lines) > 1 and len("\n".join(lines)) > limit:
        lines.pop(0)
    return "\n".join(lines)

def debug_chains(episode: Episode, results: list[int], plans: dict[int, str], cfg, note: dict | None = None) -> list[int]:
    """AIRA's debug loop, shared by MCTS and evolutionary search: debug every buggy node of
    ``results`` (batched across them) until fixed or ``cfg.max_debug_depth`` attempts, each prompt
    with the chain's earlier attempts as memory (when ``cfg.memory``). Returns the last node of
    each chain; the plans of new nodes are added to ``plans``."""
    results = list(results)
    for _ in range(cfg.max_debug_depth):
        buggy = [i for i, r in enumerate(results) if episode.tree[r].is_buggy]
        if not buggy:
            break
        memory = [debug_memory(episode.tree, plans, results[i], cfg.max_memory_chars) if cfg.memory else "" for i in buggy]
        requests = [prompts.debug_request(episode, results[i], cfg, m) for i, m in zip(buggy, memory)]
        for i, outcome in zip(buggy, request_edits(episode, requests, config=cfg)):
            fixed = episode.apply(outcome, results[i], kind="debug", note=note)
            if fixed is not None:
                plans[fixed.id] = outcome.edit.plan
                results[i] = fixed.id
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
    """AIRA-dojo's MCTS: UCT selection, expansion with memory, debug loop, back-up of good results."""

    name = "mcts"
    Config = MCTSConfig

    def __init__(self, model=None, **config) -> None:
        super().__init__(model, **config)
        self.plans: dict[int, str] = {}
        self.stats: SearchStats | None = None

    def run(self, episode: Episode) -> None:
        cfg = self.config
        root = episode.tree.root.id
        self.stats = stats = SearchStats(episode.higher_is_better)
        stats.add(root, None)
        while True:
            leaf = select_leaf(stats, episode.tree, root, cfg.uct_c)
            self.expand(episode, leaf)

    def expand(self, episode: Episode, node_id: int) -> list[int]:
        """Make ``num_children`` children of ``node_id`` (one at a time, or one batch with
        ``batch_children``), debug the buggy ones, back each result up; return the results. An
        unusable answer makes no child."""
        cfg = self.config
        groups = [list(range(cfg.num_children))] if cfg.batch_children else [[i] for i in range(cfg.num_children)]
        made: list[int] = []  # this expansion's children (before debugging): the siblings
        results: list[int] = []
        for group in groups:
            requests = [self.request(episode, node_id, made) for _ in group]
            children = []
            for request, outcome in zip(requests, request_edits(episode, requests, config=cfg)):
                child = episode.apply(outcome, node_id, kind=request.kind)
                if child is not None:
                    self.plans[child.id] = outcome.edit.plan
                    children.append(child.id)
            made.extend(children)
            for result in self.debug(episode, children):
                self.stats.add(result, node_id)
                node = episode.tree[result]
                self.stats.backup(result, None if node.is_buggy else node.dev_score)
                results.append(result)
        return results

    def request(self, episode: Episode, node_id: int, siblings: list[int]) -> EditRequest:
        """A draft (from the root, under the start protocol) or an improvement of ``node_id``,
        with the memory and the siblings' plans."""
        cfg = self.config
        memory = journal_memory(episode.tree, self.plans, episode.metric_name, cfg.max_memory_chars, siblings) if cfg.memory else ""
        if node_id == episode.tree.root.id:
            return prompts.draft_request(episode, cfg, memory)
        return prompts.improve_request(episode, node_id, cfg, memory)

    def debug(self, episode: Episode, results: list[int]) -> list[int]:
        """Debug buggy results (batched across them) until fixed or ``max_debug_depth`` tries,
        each prompt with AIRA's debug memory (the chain's earlier attempts)."""
        return debug_chains(episode, results, self.plans, self.config)

    def summary(self) -> dict:
        s = self.stats
        return {} if s is None else {"visits": {str(k): v for k, v in sorted(s.visits.items())}, "score_range": [s.low, s.high]}
