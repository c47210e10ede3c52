"""Selection rules of the tree searches on hand-built trees: which node AIDE drafts from, debugs
or improves; which child UCT picks; what an evolutionary generation does."""

from __future__ import annotations

import math
import random

import pytest

from gome_env.tree import Tree
from gome_env.grading.direction import Direction
from policies.evolutionary import EvolutionaryConfig, Population, plan_generation, softmax
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
    memory = memory_summary(tree, {1: "use boosting", 2: "scale features"})
    assert memory.startswith("Design: the provided baseline\nResults: ran without errors\nValidation Metric: 3.0\n---")
    assert "Design: use boosting\nResults: ran without errors\nValidation Metric: 2.0" in memory


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


def test_uct_unvisited_children_are_never_chosen():
    # AIRA gives an unvisited child (an unfixed bug, which backed up nothing) UCT -1e8
    tree = build([(None, "ok", 0.5), (0, "ok", 0.9), (0, "ok", 0.8), (0, "runtime_error", None)])
    stats = stats_for(tree, {1: [0.9], 2: [0.8]})
    assert uct_score(stats, 3, stats.visits[0], 0.25) == -math.inf
    assert uct_select(stats, 0, [1, 2, 3], c=0.25) == 1


def test_uct_lower_is_better():
    tree = build([(None, "ok", 5.0), (0, "ok", 2.0), (0, "ok", 4.0)], higher_is_better=False)
    stats = stats_for(tree, {0: [5.0], 1: [2.0], 2: [4.0]})
    assert stats.normalise(2.0) == 1.0
    assert uct_select(stats, 0, [1, 2], c=0.0) == 1


def test_select_leaf_descends_through_visited_children_only():
    tree = build([(None, "ok", 0.5), (0, "ok", 0.9), (0, "runtime_error", None), (1, "ok", 0.95), (1, "ok", 0.6)])
    stats = stats_for(tree, {1: [0.9], 2: [None], 3: [0.95], 4: [0.6]})
    assert select_leaf(stats, tree, 0, c=0.0) == 3
    only_buggy = build([(None, "ok", 0.5), (0, "runtime_error", None)])
    assert select_leaf(stats_for(only_buggy, {1: [None]}), only_buggy, 0, c=0.25) == 0  # expand the root again


def test_backup_of_an_unfixed_bug_is_nothing_and_a_fix_walks_the_search_path():
    stats = SearchStats(True)
    for node, parent in [(0, None), (1, 0), (5, 1), (6, 1)]:  # 5 hangs under 1 in the search tree (debugged result)
        stats.add(node, parent)
    stats.backup(5, 0.8)
    assert stats.visits == {5: 1, 1: 1, 0: 1} and stats.value_sum[0] == 0.8
    stats.backup(6, None)  # an unfixed bug: AIRA backs up nothing (no zero-value visit)
    assert stats.visits == {5: 1, 1: 1, 0: 1} and stats.q(1) == 0.5  # one value: min == max
    stats.backup(6, 0.4)
    assert stats.visits[1] == 2 and stats.value_sum[1] == pytest.approx(1.2) and (stats.low, stats.high) == (0.4, 0.8)
    assert stats.q(5) == 1.0 and stats.q(6) == 0.0 and stats.q(1) == pytest.approx(0.5)


# ---------------------------------------------------------------------- evolutionary


def population_of(scores: dict[int, float], higher_is_better: bool = True, size: int = 500) -> Population:
    pop = Population(Direction(higher_is_better), size)
    for node_id, score in scores.items():
        pop.seed(node_id, score)
    return pop


def test_generation_zero_drafts_then_mutations_then_crossovers():
    pop = population_of({1: 0.9, 2: 0.7, 0: 0.5})
    cfg = EvolutionaryConfig(individuals_per_generation=4, crossover_prob=1.0, crossover_after=2)
    assert [op for op, _ in plan_generation(0, pop, cfg, random.Random(0))] == ["draft"] * 4
    assert [op for op, _ in plan_generation(1, pop, cfg, random.Random(0))] == ["mutate"] * 4
    plan = plan_generation(2, pop, cfg, random.Random(0))
    assert all(op == "crossover" and len(ps) == 2 and ps[0] != ps[1] for op, ps in plan)
    never = EvolutionaryConfig(crossover_prob=0.0)
    assert {op for op, _ in plan_generation(5, pop, never, random.Random(0))} == {"mutate"}
    assert {op for op, _ in plan_generation(5, population_of({}), cfg, random.Random(0))} == {"draft"}
    assert {op for op, _ in plan_generation(5, population_of({3: 0.2}), cfg, random.Random(0))} == {"mutate"}


def test_aira_defaults():
    cfg = EvolutionaryConfig()
    assert (cfg.population_size, cfg.individuals_per_generation, cfg.crossover_prob, cfg.crossover_after) == (500, 5, 0.5, 2)
    assert (cfg.max_debug_depth, cfg.selection_temperature, cfg.crossover_temperature) == (10, 1.0, 0.5)
    assert (cfg.temperature, cfg.top_p) == (0.6, 0.95)


def test_selection_probabilities_are_a_softmax_of_normalised_scores():
    pop = population_of({0: 0.1, 1: 0.9, 2: 0.5})
    e = math.e
    expected = {0: 1 / (1 + e + e**0.5), 1: e / (1 + e + e**0.5), 2: e**0.5 / (1 + e + e**0.5)}
    assert pop.probabilities(1.0) == pytest.approx(expected)
    assert softmax([0.0, 1.0], 0.5) == pytest.approx([1 / (1 + e**2), e**2 / (1 + e**2)])
    lower = population_of({0: 0.1, 1: 0.9}, higher_is_better=False)
    assert lower.probabilities(1.0) == pytest.approx({0: e / (1 + e), 1: 1 / (1 + e)})
    rng = random.Random(0)
    picks = [pop.sample(1, rng, 1.0)[0] for _ in range(3000)]
    assert picks.count(1) / 3000 == pytest.approx(expected[1], abs=0.04)
    assert all(len(set(pop.sample(2, rng, 1.0))) == 2 for _ in range(20))


def test_admission_at_least_the_average_and_the_worst_dropped_past_the_size():
    pop = population_of({1: 0.6, 2: 0.8}, size=3)  # average 0.7
    assert not pop.admit(3, 0.65) and 3 not in pop.members
    assert (pop.low, pop.high) == (0.6, 0.8)  # a rejected score still widens the range
    assert pop.admit(4, 0.7)  # ties with the average count
    assert pop.admit(5, 0.9) and sorted(pop.members) == [2, 4, 5]  # size 3: the worst (node 1) dropped
    assert not pop.admit(6, None)
    lower = population_of({1: 2.0, 2: 4.0}, higher_is_better=False)
    assert lower.admit(3, 3.0) and not lower.admit(4, 3.5)
    assert population_of({}).admit(7, -5.0)  # an empty population takes anything good
