"""Selection rules of the tree searches on hand-built trees: which node AIDE drafts from, debugs
or improves; which child UCT picks; what an evolutionary generation does."""

from __future__ import annotations

import math
import random

import pytest

from gome_env.tree import Tree
from policies.evolutionary import EvolutionaryConfig, pick_parents, plan_generation, population
from policies.greedy import aide_select, debuggable_nodes, draft_count, memory_summary
from policies.mcts import SearchStats, select_leaf, uct_score, uct_select


class AlwaysBelow(random.Random):
    """random() always 0.0 (so every probability fires); choice() takes the first."""

    def random(self) -> float:
        return 0.0

    def choice(self, seq):
        return seq[0]


class AlwaysAbove(AlwaysBelow):
    def random(self) -> float:
        return 0.999


def build(nodes: list[tuple[int | None, str, float | None]], higher_is_better: bool = True) -> Tree:
    """A tree from (parent, status, dev_score) rows; node i is row i."""
    tree = Tree(higher_is_better)
    for i, (parent, status, score) in enumerate(nodes):
        tree.add(parent, i, "", {"solution.py": f"# node {i}\n"}, {"status": status, "dev_score": score})
    return tree


# ---------------------------------------------------------------------- AIDE


def test_aide_drafts_until_num_drafts():
    tree = build([(None, "ok", 0.5), (0, "ok", 0.7), (0, "runtime_error", None)])
    assert draft_count(tree) == 2
    assert aide_select(tree, 3, 1.0, 3, AlwaysBelow()) == ("draft", 0)
    tree.add(0, 3, "", {}, {"status": "ok", "dev_score": 0.6})
    assert aide_select(tree, 3, 0.0, 3, AlwaysBelow()) == ("improve", 1)  # greedy: the best good node


def test_aide_debugs_a_buggy_leaf_within_depth():
    # 0 root; drafts 1 (ok 0.7), 2 (buggy); 3 debugs 2 and is still buggy (depth 1)
    tree = build([(None, "ok", 0.5), (0, "ok", 0.7), (0, "runtime_error", None), (2, "syntax_error", None)])
    assert tree[3].debug_depth == 1
    assert [n.id for n in debuggable_nodes(tree, 3)] == [3]  # node 2 is not a leaf any more
    assert aide_select(tree, 2, 0.5, 3, AlwaysBelow()) == ("debug", 3)
    assert aide_select(tree, 2, 0.5, 3, AlwaysAbove()) == ("improve", 1)  # the coin says improve
    assert aide_select(tree, 2, 1.0, 0, AlwaysBelow()) == ("improve", 1)  # node 3 is too deep to debug


def test_aide_drafts_when_no_good_node():
    tree = build([(None, "runtime_error", None), (0, "runtime_error", None)])
    assert aide_select(tree, 1, 0.0, 3, AlwaysBelow()) == ("draft", 0)
    assert aide_select(tree, 1, 1.0, 3, AlwaysBelow()) == ("debug", 1)


def test_aide_lower_is_better_and_memory():
    tree = build([(None, "ok", 3.0), (0, "ok", 2.0), (0, "ok", 2.5)], higher_is_better=False)
    assert aide_select(tree, 2, 0.0, 3, AlwaysBelow()) == ("improve", 1)
    memory = memory_summary(tree, {1: "use boosting", 2: "scale features"}, "rmse", 1000)
    assert "baseline: rmse 3.0" in memory and "node 1: use boosting -> rmse 2.0" in memory


# ---------------------------------------------------------------------- MCTS


def stats_for(tree: Tree, backed: dict[int, list[float | None]]) -> SearchStats:
    """Search edges follow the tree; each listed node gets its values backed up to the root."""
    stats = SearchStats(tree.higher_is_better)
    for node in tree:
        stats.add(node.id, node.parent_id)
    for node_id, values in backed.items():
        for v in values:
            stats.backup(node_id, v)
    return stats


def test_uct_prefers_the_higher_normalised_value_at_equal_visits():
    tree = build([(None, "ok", 0.5), (0, "ok", 0.6), (0, "ok", 0.9)])
    stats = stats_for(tree, {0: [0.5], 1: [0.6], 2: [0.9]})
    assert stats.normalise(0.9) == 1.0 and stats.normalise(0.5) == 0.0
    assert uct_select(stats, 0, [1, 2], c=0.25) == 2


def test_uct_explores_rarely_visited_children():
    tree = build([(None, "ok", 0.5), (0, "ok", 0.8), (0, "ok", 0.7)])
    stats = stats_for(tree, {1: [0.8] * 30, 2: [0.7]})
    # exploitation alone picks 1; a large c makes the once-visited child win
    assert uct_select(stats, 0, [1, 2], c=0.0) == 1
    assert uct_select(stats, 0, [1, 2], c=2.0) == 2
    q1, q2 = stats.q(1), stats.q(2)
    n0 = stats.visits[0]
    assert uct_score(stats, 2, n0, 0.25) == pytest.approx(q2 + 0.25 * math.sqrt(math.log(n0) / 1))
    assert q1 > q2


def test_uct_counts_buggy_results_as_zero_and_unvisited_as_infinite():
    tree = build([(None, "ok", 0.5), (0, "ok", 0.9), (0, "ok", 0.8), (0, "ok", 0.7)])
    stats = stats_for(tree, {0: [0.5], 1: [0.9, None, None, None], 2: [0.8]})
    assert stats.q(1) == pytest.approx(1.0 / 4)  # one good value (normalised 1) over 4 visits
    assert uct_select(stats, 0, [1, 2], c=0.0) == 2
    assert uct_score(stats, 3, stats.visits[0], 0.25) == math.inf
    assert uct_select(stats, 0, [1, 2, 3], c=0.25) == 3


def test_uct_lower_is_better():
    tree = build([(None, "ok", 5.0), (0, "ok", 2.0), (0, "ok", 4.0)], higher_is_better=False)
    stats = stats_for(tree, {0: [5.0], 1: [2.0], 2: [4.0]})
    assert stats.normalise(2.0) == 1.0
    assert uct_select(stats, 0, [1, 2], c=0.0) == 1


def test_select_leaf_descends_through_good_children_only():
    tree = build([(None, "ok", 0.5), (0, "ok", 0.9), (0, "runtime_error", None), (1, "ok", 0.95), (1, "ok", 0.6)])
    stats = stats_for(tree, {0: [0.5], 1: [0.9], 2: [None], 3: [0.95], 4: [0.6]})
    assert select_leaf(stats, tree, 0, c=0.0) == 3
    only_buggy = build([(None, "ok", 0.5), (0, "runtime_error", None)])
    assert select_leaf(stats_for(only_buggy, {1: [None]}), only_buggy, 0, c=0.25) == 0  # expand the root again


def test_backup_walks_the_search_path():
    stats = SearchStats(True)
    for node, parent in [(0, None), (1, 0), (5, 1)]:  # 5 hangs under 1 in the search tree (debugged result)
        stats.add(node, parent)
    stats.backup(5, 0.8)
    assert stats.visits == {5: 1, 1: 1, 0: 1} and stats.value_sum[0] == 0.8
    stats.backup(1, None)
    assert stats.visits[1] == 2 and stats.value_count[1] == 1


# ---------------------------------------------------------------------- evolutionary


def test_generation_zero_drafts_then_mutations_then_crossovers():
    tree = build([(None, "ok", 0.5), (0, "ok", 0.9), (0, "ok", 0.7), (0, "runtime_error", None)])
    members = population(tree, 10)
    assert [m.id for m in members] == [1, 2, 0]
    assert [m.id for m in population(tree, 2)] == [1, 2]
    cfg = EvolutionaryConfig(individuals_per_generation=4, crossover_prob=1.0, crossover_after=2)
    assert [op for op, _ in plan_generation(0, members, cfg, random.Random(0), True)] == ["draft"] * 4
    assert [op for op, _ in plan_generation(1, members, cfg, random.Random(0), True)] == ["mutate"] * 4
    plan = plan_generation(2, members, cfg, random.Random(0), True)
    assert all(op == "crossover" and len(ps) == 2 and ps[0].id != ps[1].id for op, ps in plan)
    never = EvolutionaryConfig(crossover_prob=0.0)
    assert {op for op, _ in plan_generation(5, members, never, random.Random(0), True)} == {"mutate"}


def test_parent_selection_favours_the_fittest():
    tree = build([(None, "ok", 0.1), (0, "ok", 0.9), (0, "ok", 0.2)])
    members = population(tree, 10)
    rng = random.Random(0)
    picks = [pick_parents(members, 1, rng, True, floor=0.05)[0].id for _ in range(400)]
    assert picks.count(1) > picks.count(2) > 0 and picks.count(1) > picks.count(0)
    lower = build([(None, "ok", 0.1), (0, "ok", 0.9)], higher_is_better=False)
    picks = [pick_parents(population(lower, 10), 1, rng, False, floor=0.05)[0].id for _ in range(200)]
    assert picks.count(0) > picks.count(1)
