"""Metrics, implemented once, each with its direction.

Every metric takes the private answers and the submission, both as pandas objects aligned
row-by-row on the id column by the grader, and returns a float. ``y_true`` is the answer column
(a Series); ``y_pred`` is either one column (a Series) or, for probabilistic multiclass metrics,
one column per class (a DataFrame whose column names are the class labels as strings).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from gome_env.grading.direction import Direction

__all__ = ["Metric", "METRICS", "get_metric"]

_EPS = 1e-15


@dataclass(frozen=True)
class Metric:
    """A scoring rule: its name, its direction and what the submission must hold."""

    name: str
    higher_is_better: bool
    fn: Callable[[pd.Series, "pd.Series | pd.DataFrame"], float]
    kind: str  # "label" (class predictions), "probability" or "value" (regression)
    description: str

    def __call__(self, y_true, y_pred) -> float:
        return float(self.fn(y_true, y_pred))

    @property
    def direction(self) -> Direction:
        """This metric's :class:`~gome_env.grading.direction.Direction` (``better``, ``gain``, ``worst``)."""
        return Direction(self.higher_is_better)

    def better(self, a: float | None, b: float | None) -> bool:
        """True when score ``a`` is strictly better than ``b`` (None and NaN are worst)."""
        return self.direction.better(a, b)

    def gain(self, new: float | None, old: float | None) -> float:
        """How much ``new`` improves on ``old`` (negative when worse; 0.0 when either is missing)."""
        return self.direction.gain(new, old)

    @property
    def worst(self) -> float:
        """The worst possible score: ``-inf`` when higher is better, else ``+inf``."""
        return self.direction.worst


def _labels_pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """Labels to compare: as numbers when both sides are numeric (``3`` equals ``3.0``, as in
    scikit-learn), else as strings."""
    t, p = np.asarray(y_true), np.asarray(y_pred).ravel()
    t_num, p_num = pd.to_numeric(pd.Series(t), errors="coerce"), pd.to_numeric(pd.Series(p), errors="coerce")
    if not t_num.isna().any() and not p_num.isna().any():
        return t_num.to_numpy(dtype=float), p_num.to_numpy(dtype=float)
    return t.astype(str), p.astype(str)


def accuracy(y_true, y_pred) -> float:
    t, p = _labels_pair(y_true, y_pred)
    return float(np.mean(t == p))


def balanced_accuracy(y_true, y_pred) -> float:
    t, p = _labels_pair(y_true, y_pred)
    recalls = [np.mean(p[t == c] == c) for c in np.unique(t)]
    return float(np.mean(recalls))


def macro_f1(y_true, y_pred) -> float:
    t, p = _labels_pair(y_true, y_pred)
    scores = []
    for c in np.unique(np.concatenate([t, p])):
        tp = np.sum((t == c) & (p == c))
        fp = np.sum((t != c) & (p == c))
        fn = np.sum((t == c) & (p != c))
        denom = 2 * tp + fp + fn
        scores.append(0.0 if denom == 0 else 2 * tp / denom)
    return float(np.mean(scores))


def roc_auc(y_true, y_pred) -> float:
    """Binary ROC AUC via the rank statistic (ties get average ranks)."""
    t = np.asarray(y_true).astype(float)
    s = np.asarray(y_pred, dtype=float).ravel()
    pos = t == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC needs both classes among the answers")
    ranks = pd.Series(s).rank(method="average").to_numpy()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def log_loss(y_true, y_pred) -> float:
    """Binary (one probability column for class 1) or multiclass (a column per class) log loss.

    Rows of a multiclass submission are renormalised to sum to one, as Kaggle does. Multiclass
    answers may be labels (a Series) or one-hot columns (a DataFrame, as MLE-bench stores them).
    """
    if isinstance(y_true, pd.DataFrame):
        y_true = y_true.astype(float).idxmax(axis=1)
    if isinstance(y_pred, pd.DataFrame) and y_pred.shape[1] > 1:
        classes = [str(c) for c in y_pred.columns]
        probs = np.clip(y_pred.to_numpy(dtype=float), _EPS, 1 - _EPS)
        probs = probs / probs.sum(axis=1, keepdims=True)
        index = {c: i for i, c in enumerate(classes)}
        t = np.asarray(y_true).astype(str)  # class labels name the probability columns
        unknown = sorted(set(t) - set(classes))
        if unknown:
            raise ValueError(f"answers hold classes with no probability column: {unknown[:5]}")
        rows = np.arange(len(t))
        cols = np.array([index[c] for c in t])
        return float(-np.mean(np.log(probs[rows, cols])))
    p = np.clip(np.asarray(y_pred, dtype=float).ravel(), _EPS, 1 - _EPS)
    t = np.asarray(y_true).astype(float)
    return float(-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)))


def quadratic_weighted_kappa(y_true, y_pred) -> float:
    """Cohen's kappa with quadratic weights over integer ratings."""
    t = np.asarray(y_true).astype(float).round().astype(int)
    # Predictions outside the answers' ratings are clipped to them (as far off as a rating can be),
    # so a wild value cannot make the rating matrix huge.
    p = np.clip(np.asarray(y_pred, dtype=float).ravel().round(), t.min(), t.max()).astype(int)
    lo, hi = t.min(), t.max()
    k = hi - lo + 1
    observed = np.zeros((k, k))
    np.add.at(observed, (t - lo, p - lo), 1)
    expected = np.outer(observed.sum(1), observed.sum(0)) / observed.sum()
    i, j = np.indices((k, k))
    weights = (i - j) ** 2 / max(1, (k - 1) ** 2)
    denom = (weights * expected).sum()
    return float(1 - (weights * observed).sum() / denom) if denom else 1.0


def mean_column_auc(y_true, y_pred) -> float:
    """ROC AUC averaged over target columns (multi-label tasks)."""
    cols = list(y_true.columns)
    return float(np.mean([roc_auc(y_true[c], y_pred[c]) for c in cols]))


def mean_column_rmsle(y_true, y_pred) -> float:
    """RMSLE averaged over target columns."""
    cols = list(y_true.columns)
    return float(np.mean([rmsle(y_true[c], y_pred[c]) for c in cols]))


def rmse(y_true, y_pred) -> float:
    d = np.asarray(y_true, dtype=float) - np.asarray(y_pred, dtype=float).ravel()
    return float(np.sqrt(np.mean(d**2)))


def rmsle(y_true, y_pred) -> float:
    t = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float).ravel()
    if np.any(p <= -1) or np.any(t <= -1):
        raise ValueError("RMSLE needs values greater than -1")
    return float(np.sqrt(np.mean((np.log1p(p) - np.log1p(t)) ** 2)))


def mae(y_true, y_pred) -> float:
    return float(np.mean(np.abs(np.asarray(y_true, dtype=float) - np.asarray(y_pred, dtype=float).ravel())))


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("accuracy", True, accuracy, "label", "share of rows whose predicted label is right"),
        Metric("balanced_accuracy", True, balanced_accuracy, "label", "mean recall over classes"),
        Metric("macro_f1", True, macro_f1, "label", "unweighted mean of per-class F1"),
        Metric("auc", True, roc_auc, "probability", "area under the ROC curve (binary)"),
        Metric("logloss", False, log_loss, "probability", "cross-entropy of predicted probabilities"),
        Metric("qwk", True, quadratic_weighted_kappa, "value", "quadratic weighted kappa over integer ratings"),
        Metric("mean_column_auc", True, mean_column_auc, "probability", "ROC AUC averaged over target columns"),
        Metric("mean_column_rmsle", False, mean_column_rmsle, "value", "RMSLE averaged over target columns"),
        Metric("rmse", False, rmse, "value", "root mean squared error"),
        Metric("rmsle", False, rmsle, "value", "root mean squared logarithmic error"),
        Metric("mae", False, mae, "value", "mean absolute error"),
    ]
}


def get_metric(name: str) -> Metric:
    try:
        return METRICS[name]
    except KeyError:
        raise ValueError(f"unknown metric {name!r}; valid metrics: {', '.join(sorted(METRICS))}") from None
