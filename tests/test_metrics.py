"""Each metric against scikit-learn's implementation of the same metric, and each metric's direction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from gome_env.grading.metrics import METRICS, get_metric

RNG = np.random.default_rng(0)
N = 500


def _labels(k: int, n: int = N) -> pd.Series:
    return pd.Series(RNG.integers(0, k, size=n))


def _noisy_labels(y: pd.Series, k: int, flip: float = 0.3) -> pd.Series:
    flips = RNG.random(len(y)) < flip
    return pd.Series(np.where(flips, RNG.integers(0, k, size=len(y)), y))


@pytest.mark.parametrize("k", [2, 3, 7])
def test_label_metrics_match_sklearn(k):
    y = _labels(k)
    p = _noisy_labels(y, k)
    assert get_metric("accuracy")(y, p) == pytest.approx(skm.accuracy_score(y, p))
    assert get_metric("balanced_accuracy")(y, p) == pytest.approx(skm.balanced_accuracy_score(y, p))
    assert get_metric("macro_f1")(y, p) == pytest.approx(skm.f1_score(y, p, average="macro"))


def test_label_metrics_on_strings_and_a_never_predicted_class():
    y = pd.Series(["yes", "no", "no", "no", "yes", "maybe"])
    p = pd.Series(["yes", "no", "yes", "no", "no", "no"])  # "maybe" never predicted
    assert get_metric("accuracy")(y, p) == pytest.approx(skm.accuracy_score(y, p))
    assert get_metric("balanced_accuracy")(y, p) == pytest.approx(skm.balanced_accuracy_score(y, p))
    assert get_metric("macro_f1")(y, p) == pytest.approx(skm.f1_score(y, p, average="macro", zero_division=0))


def test_labels_compare_as_text_ints_read_back_from_csv():
    """A label column read as int from one file and as str from another still matches."""
    assert get_metric("accuracy")(pd.Series([1, 2, 3]), pd.Series(["1", "2", "4"])) == pytest.approx(2 / 3)


def test_auc_matches_sklearn_with_ties():
    y = _labels(2)
    s = pd.Series(np.round(y * 0.3 + RNG.random(N), 1))  # rounding makes many tied scores
    assert get_metric("auc")(y, s) == pytest.approx(skm.roc_auc_score(y, s))


def test_auc_needs_both_classes():
    with pytest.raises(ValueError):
        get_metric("auc")(pd.Series([1, 1, 1]), pd.Series([0.2, 0.5, 0.9]))


def test_binary_logloss_matches_sklearn():
    y = _labels(2)
    p = pd.Series(np.clip(y * 0.5 + RNG.random(N) * 0.5, 0.01, 0.99))
    assert get_metric("logloss")(y, p) == pytest.approx(skm.log_loss(y, p))


def test_binary_logloss_clips_hard_zeros_and_ones():
    value = get_metric("logloss")(pd.Series([1, 0]), pd.Series([0.0, 1.0]))
    assert np.isfinite(value) and value > 30


@pytest.mark.parametrize("names", [["0", "1", "2", "3"], ["F", "L", "M", "VF"]])
def test_multiclass_logloss_matches_sklearn(names):
    k = len(names)
    y_idx = _labels(k).to_numpy()
    logits = RNG.normal(size=(N, k)) + 2.0 * np.eye(k)[y_idx]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = pd.Series([names[i] for i in y_idx])
    frame = pd.DataFrame(proba, columns=names)
    assert get_metric("logloss")(y, frame) == pytest.approx(skm.log_loss(y, proba, labels=names))
    # integer answers (as read from a CSV) against string column names
    if names[0] == "0":
        assert get_metric("logloss")(pd.Series(y_idx), frame) == pytest.approx(skm.log_loss(y_idx, proba))


def test_multiclass_logloss_renormalises_rows():
    y = pd.Series(["a", "b"])
    unnormalised = pd.DataFrame({"a": [0.2, 0.1], "b": [0.2, 0.3]})
    expected = skm.log_loss(["a", "b"], [[0.5, 0.5], [0.25, 0.75]])
    assert get_metric("logloss")(y, unnormalised) == pytest.approx(expected)


def test_regression_metrics_match_sklearn():
    y = pd.Series(RNG.gamma(2.0, 10.0, size=N))
    p = pd.Series(np.clip(y + RNG.normal(0, 5, size=N), 0, None))
    assert get_metric("rmse")(y, p) == pytest.approx(np.sqrt(skm.mean_squared_error(y, p)))
    assert get_metric("mae")(y, p) == pytest.approx(skm.mean_absolute_error(y, p))
    assert get_metric("rmsle")(y, p) == pytest.approx(np.sqrt(skm.mean_squared_log_error(y, p)))


def test_rmsle_rejects_values_at_or_below_minus_one():
    with pytest.raises(ValueError):
        get_metric("rmsle")(pd.Series([1.0, 2.0]), pd.Series([-1.5, 2.0]))


@pytest.mark.parametrize(
    "name, higher",
    [("accuracy", True), ("balanced_accuracy", True), ("macro_f1", True), ("auc", True),
     ("logloss", False), ("rmse", False), ("rmsle", False), ("mae", False)],
)
def test_directions(name, higher):
    metric = get_metric(name)
    assert metric.higher_is_better is higher
    good, bad = (0.9, 0.1) if higher else (0.1, 0.9)
    assert metric.better(good, bad) and not metric.better(bad, good)
    assert metric.better(bad, None) and not metric.better(None, bad)
    assert not metric.better(good, good)


def test_perfect_predictions_score_best():
    y = _labels(3)
    assert get_metric("accuracy")(y, y) == 1.0
    assert get_metric("macro_f1")(y, y) == 1.0
    yf = y.astype(float)
    for name in ("rmse", "mae", "rmsle"):
        assert get_metric(name)(yf, yf) == 0.0


def test_every_metric_has_a_kind_and_a_description():
    for metric in METRICS.values():
        assert metric.kind in ("label", "probability", "value")
        assert metric.description


def test_unknown_metric_names_the_valid_ones():
    with pytest.raises(ValueError, match="valid metrics"):
        get_metric("f2")


def test_label_metrics_compare_numeric_labels_as_numbers():
    # "3.0" written by a float column is the label 3, as scikit-learn and MLE-bench grade it
    y, p = pd.Series([3, 4, 5]), pd.Series([3.0, 4.0, 1.0])
    assert METRICS["accuracy"](y, p) == pytest.approx(skm.accuracy_score(y, p))
    assert METRICS["macro_f1"](y, p) == pytest.approx(skm.f1_score(y, p, average="macro"))
    assert METRICS["accuracy"](pd.Series(["a", "b"]), pd.Series(["a", "c"])) == 0.5


def test_kappa_bounds_wild_predictions():
    y = pd.Series([0, 1, 2, 3, 4])
    assert METRICS["qwk"](y, pd.Series([0, 1, 2, 3, 10**9])) == METRICS["qwk"](y, pd.Series([0, 1, 2, 3, 4]))


def test_metric_direction_api():
    from gome_env.grading.metrics import get_metric

    acc, rmse = get_metric("accuracy"), get_metric("rmse")
    assert acc.better(0.9, 0.8) and rmse.better(0.8, 0.9) and not acc.better(float("nan"), 0.1)
    assert acc.gain(0.9, 0.8) == pytest.approx(0.1) and rmse.gain(0.8, 0.9) == pytest.approx(0.1)
    assert acc.worst == float("-inf") and rmse.worst == float("inf")
