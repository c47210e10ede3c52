"""The node tree's queries, without an environment."""

import pytest

from gome_env.tree import Tree


def _ok(score):
    return {"status": "ok", "dev_score": score}


def _grow(tree, diagnostics):
    for d in diagnostics:
        tree.add(0 if len(tree) else None, len(tree), "", {"solution.py": "x = 1\n"}, d)
    return tree


@pytest.mark.parametrize("higher", [True, False])
def test_best_is_the_best_good_scored_node_and_the_earliest_of_a_tie(higher):
    tree = Tree(higher_is_better=higher)
    assert tree.best() is None
    _grow(tree, [_ok(None), {"status": "runtime_error", "dev_score": None}])
    assert tree.best() is None  # nothing scored yet
    good, better = (0.5, 0.7) if higher else (0.7, 0.5)
    _grow(tree, [_ok(good), {"status": "invalid_submission", "dev_score": better * 10}, _ok(better), _ok(better), _ok(good)])
    assert tree.best().id == 4  # the first of the two best scores; the buggy node's score is ignored
    assert tree.best() is max((n for n in tree.good_nodes if n.dev_score is not None),
                              key=lambda n: ((1 if higher else -1) * n.dev_score, -n.id))


@pytest.mark.parametrize("higher", [True, False])
def test_a_nan_score_is_never_the_best(higher):
    # The tree compares scores through gome_env.grading.direction.Direction: NaN counts as missing.
    tree = _grow(Tree(higher_is_better=higher), [_ok(float("nan"))])
    assert tree.best() is None
    _grow(tree, [_ok(0.3), _ok(float("nan"))])
    assert tree.best().id == 1
