"""Monte Carlo tree search over solutions, as in AIRA-dojo.

One iteration:

1. **select**: from the root, while the node has been expanded and has good children, go to the
   child with the highest UCT = Q + c * sqrt(ln N(parent) / N(child)), where Q is the mean
   backed-up value normalised by the global min and max dev score seen (0 worst, 1 best; a buggy
   result counts 0) and an unvisited child scores +inf;
2. **expand**: ask for ``num_children`` children in one batched model call (drafts from the root,
   improvements elsewhere) and run them;
3. **debug**: each buggy child is debugged (batched) up to ``max_debug_depth`` times; the fixed
   node, or the last buggy one, is the result and becomes the selected node's child in the
   search tree;
4. **back up**: each result's dev score (None when still buggy) is added to every node on its
   path to the root.

Defaults are AIRA-dojo's (c = 0.25, 5 children per expansion, debug depth 20).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from gome_env.tree import Tree

from policies import prompts
from policies.base import ConfigError, Episode, Policy, PolicyConfig
from policies.edits import EditRequest, request_edits

__all__ = ["MCTSConfig", "MCTSPolicy", "SearchStats", "uct_score", "uct_select", "select_leaf"]


@dataclass
class MCTSConfig(PolicyConfig):
    """``uct_c``: exploration constant; ``num_children``: children per expansion;
    ``max_debug_depth``: debug attempts per buggy child."""

    uct_c: float = 0.25
    num_children: int = 5
    max_debug_depth: int = 20

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_children < 1 or self.max_debug_depth < 0 or self.uct_c < 0:
            raise ConfigError("need num_children >= 1, max_debug_depth >= 0 and uct_c >= 0")


@dataclass
class SearchStats:
    """Visit counts and backed-up values per node, and the search tree's own edges (a debugged
    result hangs under the node that was expanded, not under its buggy ancestor)."""

    higher_is_better: bool = True
    visits: dict[int, int] = field(default_factory=dict)
    value_sum: dict[int, float] = field(default_factory=dict)  # sum of raw dev scores backed up
    value_count: dict[int, int] = field(default_factory=dict)  # how many of them were not None
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
        """Add ``score`` (None for a buggy result) to ``node_id`` and each of its ancestors."""
        if score is not None:
            self.low = score if self.low is None else min(self.low, score)
            self.high = score if self.high is None else max(self.high, score)
        current: int | None = node_id
        while current is not None:
            self.visits[current] = self.visits.get(current, 0) + 1
            if score is not None:
                self.value_sum[current] = self.value_sum.get(current, 0.0) + score
                self.value_count[current] = self.value_count.get(current, 0) + 1
            current = self.parent.get(current)

    def normalise(self, score: float) -> float:
        """0 at the worst dev score seen, 1 at the best (0.5 while all are equal)."""
        if self.low is None or self.high is None or self.high == self.low:
            return 0.5
        x = (score - self.low) / (self.high - self.low)
        return x if self.higher_is_better else 1.0 - x

    def q(self, node_id: int) -> float:
        """Mean normalised value: buggy results count 0."""
        n = self.visits.get(node_id, 0)
        good = self.value_count.get(node_id, 0)
        if n == 0 or good == 0:
            return 0.0
        return good * self.normalise(self.value_sum[node_id] / good) / n


def uct_score(stats: SearchStats, child: int, parent_visits: int, c: float) -> float:
    n = stats.visits.get(child, 0)
    if n == 0:
        return math.inf
    return stats.q(child) + c * math.sqrt(math.log(max(parent_visits, 1)) / n)


def uct_select(stats: SearchStats, parent: int, candidates: list[int], c: float) -> int:
    """The candidate child with the highest UCT (the earliest among ties)."""
    parent_visits = stats.visits.get(parent, 0)
    return max(candidates, key=lambda child: (uct_score(stats, child, parent_visits, c), -child))


def select_leaf(stats: SearchStats, tree: Tree, root: int, c: float) -> int:
    """Walk down from ``root`` by UCT through expanded nodes with good children; return the node
    to expand."""
    node = root
    while True:
        good = [ch for ch in stats.children.get(node, []) if not tree[ch].is_buggy]
        if not good:
            return node
        node = uct_select(stats, node, good, c)


class MCTSPolicy(Policy):
    """AIRA-dojo's MCTS: UCT selection, batched expansion, debug loop, back-up of fixed scores."""

    name = "mcts"
    Config = MCTSConfig

    def run(self, episode: Episode) -> None:
        cfg = self.config
        root = episode.tree.root.id
        stats = SearchStats(episode.higher_is_better)
        stats.add(root, None)
        stats.backup(root, episode.tree.root.dev_score)
        while True:
            leaf = select_leaf(stats, episode.tree, root, cfg.uct_c)
            for result in self.expand(episode, leaf):
                stats.add(result, leaf)
                node = episode.tree[result]
                stats.backup(result, None if node.is_buggy else node.dev_score)

    def expand(self, episode: Episode, node_id: int) -> list[int]:
        """Make ``num_children`` children of ``node_id``, debug the buggy ones; return the results."""
        cfg = self.config
        files = episode.files(node_id)
        if node_id == episode.tree.root.id:
            messages, form, kind = prompts.draft_prompt(episode.task_text, "", cfg), "whole", "draft"
        else:
            node = episode.tree[node_id]
            score = f"{episode.metric_name} {node.dev_score}"
            messages, form, kind = prompts.improve_prompt(episode.task_text, files, "", cfg, score), cfg.edit_form, "improve"
        requests = [EditRequest(messages, files, form, kind) for _ in range(cfg.num_children)]
        results = []
        for outcome in request_edits(episode, requests, config=cfg):
            results.append(episode.step(outcome.diff, node_id, kind=kind, calls=outcome.calls, parse_ok=outcome.ok).id)
        return self.debug(episode, results)

    def debug(self, episode: Episode, results: list[int]) -> list[int]:
        """Debug buggy results (batched across them) until fixed or ``max_debug_depth`` tries."""
        cfg = self.config
        for _ in range(cfg.max_debug_depth):
            buggy = [i for i, r in enumerate(results) if episode.tree[r].is_buggy]
            if not buggy:
                break
            requests = [prompts.debug_request(episode, results[i], cfg) for i in buggy]
            for i, outcome in zip(buggy, request_edits(episode, requests, config=cfg)):
                results[i] = episode.step(outcome.diff, results[i], kind="debug", calls=outcome.calls, parse_ok=outcome.ok).id
        return results
