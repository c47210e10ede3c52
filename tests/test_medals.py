"""MLE-bench's medal rule, table-driven: every N range, ties at the thresholds, both directions, the median."""

from __future__ import annotations

import numpy as np
import pytest

from gome_env.grading.medals import Leaderboard, Rank, _positions, medal_thresholds, percentile

# (N, gold position, silver position, bronze position), 1-indexed; computed by hand from the rule:
#   1-99:     max(1, int(0.1N)), max(1, int(0.2N)), max(1, int(0.4N))
#   100-249:  10, int(0.2N), int(0.4N)
#   250-999:  10 + int(0.002N), 50, 100
#   >=1000:   10 + int(0.002N), int(0.05N), int(0.1N)
POSITIONS = [
    (1, 1, 1, 1),
    (2, 1, 1, 1),
    (4, 1, 1, 1),
    (5, 1, 1, 2),
    (9, 1, 1, 3),
    (10, 1, 2, 4),
    (19, 1, 3, 7),
    (50, 5, 10, 20),
    (99, 9, 19, 39),
    (100, 10, 20, 40),
    (120, 10, 24, 48),
    (249, 10, 49, 99),
    (250, 10, 50, 100),
    (499, 10, 50, 100),
    (500, 11, 50, 100),
    (999, 11, 50, 100),
    (1000, 12, 50, 100),
    (1499, 12, 74, 149),
    (2500, 15, 125, 250),
]


@pytest.mark.parametrize("n, gold, silver, bronze", POSITIONS)
def test_threshold_positions(n, gold, silver, bronze):
    assert _positions(n) == (gold, silver, bronze)


@pytest.mark.parametrize("n, gold, silver, bronze", POSITIONS)
@pytest.mark.parametrize("higher", [True, False])
def test_thresholds_are_the_scores_at_those_positions(n, gold, silver, bronze, higher):
    # team i (1-indexed, best first) scores n - i when higher is better, i otherwise: all distinct
    ranked = [float(n - i) if higher else float(i) for i in range(1, n + 1)]
    shuffled = list(np.random.default_rng(n).permutation(ranked))
    th = medal_thresholds(shuffled, higher)
    assert (th.gold, th.silver, th.bronze) == (ranked[gold - 1], ranked[silver - 1], ranked[bronze - 1])
    board = Leaderboard(tuple(shuffled), higher)
    # the team exactly at each threshold earns that medal; the next one down earns the next
    assert board.rank(ranked[gold - 1])["gold"]
    if bronze < n:
        assert board.rank(ranked[bronze])["medal"] == "none"
    if silver > gold:
        assert board.rank(ranked[gold])["medal"] == "silver"


def test_no_teams_is_an_error():
    with pytest.raises(ValueError):
        _positions(0)


# (scores best-first, higher_is_better, candidate score, expected medal, expected above_median)
CASES = [
    # N = 10, higher is better: gold at position 1 (10), silver at 2 (9), bronze at 4 (7), median 5.5
    ([10, 9, 8, 7, 6, 5, 4, 3, 2, 1], True, 10, "gold", True),
    ([10, 9, 8, 7, 6, 5, 4, 3, 2, 1], True, 11, "gold", True),
    ([10, 9, 8, 7, 6, 5, 4, 3, 2, 1], True, 9.5, "silver", True),
    ([10, 9, 8, 7, 6, 5, 4, 3, 2, 1], True, 9, "silver", True),
    ([10, 9, 8, 7, 6, 5, 4, 3, 2, 1], True, 7, "bronze", True),
    ([10, 9, 8, 7, 6, 5, 4, 3, 2, 1], True, 6.99, "none", True),
    ([10, 9, 8, 7, 6, 5, 4, 3, 2, 1], True, 5.5, "none", False),  # equal to the median: not above it
    ([10, 9, 8, 7, 6, 5, 4, 3, 2, 1], True, 5.51, "none", True),
    # the same board, lower is better (e.g. RMSE): positions count from the smallest score
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], False, 1, "gold", True),
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], False, 0.5, "gold", True),
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], False, 2, "silver", True),
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], False, 4, "bronze", True),
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], False, 4.01, "none", True),
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], False, 5.5, "none", False),
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], False, 5.49, "none", True),
    # ties at a threshold: several teams share the gold score; matching it earns gold
    ([0.9, 0.9, 0.9, 0.8, 0.8, 0.7, 0.7, 0.7, 0.6, 0.5], True, 0.9, "gold", True),
    ([0.9, 0.9, 0.9, 0.8, 0.8, 0.7, 0.7, 0.7, 0.6, 0.5], True, 0.85, "bronze", True),  # silver = pos 2 = 0.9
    ([0.9, 0.9, 0.9, 0.8, 0.8, 0.7, 0.7, 0.7, 0.6, 0.5], True, 0.8, "bronze", True),  # bronze = pos 4 = 0.8
    ([0.9, 0.9, 0.9, 0.8, 0.8, 0.7, 0.7, 0.7, 0.6, 0.5], True, 0.79, "none", True),  # median is 0.75
    # a board where everyone ties: everyone (and anyone as good) is gold, nobody is above the median
    ([0.5] * 20, True, 0.5, "gold", False),
    ([0.5] * 20, False, 0.5, "gold", False),
    ([0.5] * 20, True, 0.49, "none", False),
    # missing or non-finite scores earn nothing
    ([10, 9, 8, 7, 6, 5, 4, 3, 2, 1], True, None, "none", False),
    ([10, 9, 8, 7, 6, 5, 4, 3, 2, 1], True, float("nan"), "none", False),
]


@pytest.mark.parametrize("scores, higher, score, medal, above", CASES)
def test_rank_cases(scores, higher, score, medal, above):
    result = Leaderboard(tuple(float(s) for s in scores), higher).rank(score)
    assert result["medal"] == medal
    assert result["above_median"] is above
    assert [m for m in ("gold", "silver", "bronze") if result[m]] == ([] if medal == "none" else [medal])


ORDER = {"gold": 3, "silver": 2, "bronze": 1, "none": 0}


@pytest.mark.parametrize("n", [37, 150, 600, 1200])
@pytest.mark.parametrize("higher", [True, False])
def test_ties_at_thresholds_in_every_range(n, higher):
    """A score tied with a threshold earns at least that medal; a score just worse than bronze earns none."""
    scores = np.round(np.random.default_rng(n).normal(size=n), 1)  # rounding creates many ties
    board = Leaderboard(tuple(scores), higher)
    th = board.thresholds
    for medal in ("gold", "silver", "bronze"):
        assert ORDER[board.rank(getattr(th, medal))["medal"]] >= ORDER[medal]
        # every team tied with the threshold shares it: at least as many medallists as the position says
        position = _positions(n)[("gold", "silver", "bronze").index(medal)]
        earned = sum(ORDER[board.rank(s)["medal"]] >= ORDER[medal] for s in scores)
        assert earned >= position
    assert board.rank(th.bronze + (-0.05 if higher else 0.05))["medal"] == "none"


def test_median_of_even_board_is_the_mean_of_the_middle_two():
    board = Leaderboard((1.0, 2.0, 3.0, 4.0), True)
    assert board.thresholds.median == 2.5


def test_from_csv(tmp_path):
    path = tmp_path / "leaderboard.csv"
    path.write_text("team,score\na,0.9\nb,0.8\nc,\n")
    board = Leaderboard.from_csv(path, True)
    assert board.scores == (0.9, 0.8)
    (tmp_path / "bad.csv").write_text("team,points\na,1\n")
    with pytest.raises(ValueError, match="score"):
        Leaderboard.from_csv(tmp_path / "bad.csv", True)


# ---------------------------------------------------------------- Rank: typed, read like a dict, with the percentile


@pytest.mark.parametrize("higher", [True, False])
def test_percentile_counts_teams_beaten_ties_half(higher):
    ranked = [10.0, 9.0, 8.0, 7.0] if higher else [1.0, 2.0, 3.0, 4.0]  # best first
    board = Leaderboard(tuple(ranked), higher)
    assert board.rank(ranked[0])["percentile"] == pytest.approx(3.5 / 4)  # beats 3, ties 1
    better_than_all = ranked[0] + (1 if higher else -1)
    assert board.rank(better_than_all).percentile == 1.0
    worse_than_all = ranked[-1] - (1 if higher else -1)
    assert board.rank(worse_than_all).percentile == 0.0
    between = (ranked[1] + ranked[2]) / 2
    assert board.rank(between).percentile == pytest.approx(2 / 4)
    assert board.rank(None).percentile == 0.0 and board.rank(float("nan")).percentile == 0.0
    assert percentile(ranked[0], [], higher) == 0.0


def test_rank_is_typed_and_reads_like_a_mapping():
    rank = Leaderboard((10.0, 9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0), True).rank(9.0)
    assert isinstance(rank, Rank)
    assert rank["medal"] == rank.medal == "silver" and rank["silver"] and not rank["gold"]
    assert rank.get("percentile") == pytest.approx(8.5 / 10) and rank.get("nope", 7) == 7
    assert "percentile" in rank and "nope" not in rank
    assert dict(rank) == rank.to_dict() == {"medal": "silver", "gold": False, "silver": True, "bronze": False,
                                             "above_median": True, "percentile": pytest.approx(0.85)}
    with pytest.raises(KeyError):
        rank["nope"]
