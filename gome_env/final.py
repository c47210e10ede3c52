"""``FinalReport``: an episode's result (``info["final"]``, ``MLEEnv.final()``).

The submitted node, its dev and test scores, whether its submission exists and is valid, where
the test score lands on the leaderboard (``rank``: a ``gome_env.grading.medals.Rank``, MLE-bench's
medal rule), and the baseline's scores to compare with. A typed record that reads like the dict it
replaces, the rank's fields as its own (``final["medal"]``, ``final.gold``,
``final.get("percentile")``, ``dict(final)``; ``to_dict()`` for JSON, flat).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gome_env.grading.grader import GradeResult
from gome_env.grading.medals import Leaderboard, Rank
from gome_env.records import MappingRecord

__all__ = ["FinalReport", "final_report"]


@dataclass(eq=False)
class FinalReport(MappingRecord):
    """An episode's result; ``refit`` is set by adapters that re-run the submission (MLE-bench)."""

    task: str
    node_id: int
    dev_score: float | None
    test_score: float | None  # None unless the test predictions were valid
    valid_submission: bool
    submission_exists: bool
    rank: Rank = field(default_factory=Rank)  # medal, above_median, gold/silver/bronze, percentile (read flat)
    thresholds: dict[str, float] = field(default_factory=dict)  # gold, silver, bronze, median
    baseline_dev_score: float | None = None
    baseline_test_score: float | None = None
    steps: int = 0
    nodes: int = 0
    higher_is_better: bool = True
    refit: dict[str, Any] | None = None

    _optional = ("refit",)
    _embedded = ("rank",)


def final_report(*, task: str, node_id: int, dev_score: float | None, test: GradeResult | None,
                 baseline_dev_score: float | None, baseline_test: GradeResult | None, leaderboard: Leaderboard,
                 steps: int, nodes: int, higher_is_better: bool) -> FinalReport:
    """The report for node ``node_id``, from its private test grade (None: it was never graded)."""
    valid = bool(test and test.valid)
    score = test.score if valid and test is not None else None
    t = leaderboard.thresholds
    return FinalReport(
        task=task, node_id=node_id, dev_score=dev_score, test_score=score, valid_submission=valid,
        submission_exists=test is not None and test.exists, rank=leaderboard.rank(score),
        thresholds={"gold": t.gold, "silver": t.silver, "bronze": t.bronze, "median": t.median},
        baseline_dev_score=baseline_dev_score, baseline_test_score=baseline_test.score if baseline_test else None,
        steps=steps, nodes=nodes, higher_is_better=higher_is_better,
    )
