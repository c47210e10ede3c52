import math

import pytest

from gome_env.grading.direction import Direction, is_missing
from gome_env.grading.metrics import get_metric


@pytest.mark.parametrize("higher", [True, False])
def test_missing_scores_are_worst(higher):
    d = Direction(higher)
    for missing in (None, math.nan):
        assert is_missing(missing)
        assert not d.better(missing, 0.0)
        assert d.better(0.0, missing)
        assert not d.at_least(missing, 0.0) and not d.at_least(0.0, missing)
        assert d.gain(1.0, missing) == 0.0
    assert d.best([None, math.nan]) is None


def test_direction_follows_the_metric():
    up, down = Direction(True), Direction(False)
    assert up.better(2, 1) and not up.better(1, 1) and up.at_least(1, 1)
    assert down.better(1, 2) and down.gain(1.0, 3.0) == 2.0 and up.gain(1.0, 3.0) == -2.0
    assert up.worst == -math.inf and down.worst == math.inf
    assert down.best([3, None, 1, 2]) == 1 and down.sorted([3, 1, 2]) == [1.0, 2.0, 3.0]
    rmse = get_metric("rmse")
    assert rmse.direction == down and rmse.better(0.1, math.nan)
