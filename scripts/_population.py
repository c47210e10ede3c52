"""The population of reference entries behind each leaderboard (``scripts/build_leaderboards.py``).

The protocol is fixed here, before any grading: the same code draws every task's population from
its modality and metric alone, with ``random_state=0`` everywhere and no seed-only variants. A
real competition's board has many weak and middling entries, a dense middle and a thin top earned
by tuning, feature engineering and ensembling; the tiers copy that shape:

- ``weak`` (50): handicapped entries: 5-25% of the training rows or 30-50% of the columns, or
  weak families (constant prior/mean, naive Bayes, shallow trees);
- ``middle`` (45): one scikit-learn family with a plain configuration on every row (linear, kNN,
  decision tree, small forests, short boosting, an SVM for images);
- ``strong``: independent families, each tuned by a small fixed search (``STRONG_SEARCH`` points
  drawn from its grid with a seed fixed by the family's name): LightGBM, XGBoost and CatBoost,
  scikit-learn's histogram boosting and forests, a small neural net (scikit-learn's MLP) where the
  modality suits (images, text, series), tuned kernels and neighbours on images and linear models
  on TF-IDF n-grams for text; log target or absolute loss where the metric asks, short schedules
  for log loss;
- task-specific moves: for macro F1 the decision threshold of the best boosting searches, tuned
  on the dev rows (``family="thr"``); temperature lags for the demand series and differences of
  the hourly readings for the power series (``scripts/_features.py``);
- ``blend`` (at most 4): equal-weight blends of two or three of the strongest singles by *dev*
  score (never the test score), of different families, and no entry in two blends.

The task's own ``default_solution.py`` and ``reference_gold.py`` are witnesses, never entries.
"""

from __future__ import annotations

import itertools
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from gome_env.tasks.task import TaskSpec
from scripts._features import Features
from scripts._models import make_model

__all__ = ["Recipe", "draw_population", "fit_predict", "blend_recipes", "tune_threshold", "to_submission", "TIER_SIZES", "STRONG_SEARCH"]

TIER_SIZES = {"weak": 50, "middle": 45, "blend": 4}
# Points of each strong family's fixed search (families that do not suit a task's modality are skipped).
STRONG_SEARCH = {"lgbm": 18, "xgb": 16, "cat": 14, "hgb": 12, "rf": 4, "et": 4, "mlp": 6, "svm": 4, "knn": 3, "linear": 6}
THRESHOLD_MOVES = 10  # macro F1: the dev-tuned threshold of this many strong boosting entries
# Rows a non-reference entry may train on (big data: the slower families are subsampled).
ROW_CAPS = {"knn": 6_000, "svm": 3_000, "rf": 20_000, "et": 20_000, "hgb": 40_000, "linear": 40_000, "tree": 40_000,
            "cat": 20_000, "mlp": 20_000, "lgbm": 40_000, "xgb": 40_000}
USES_LIN = {"nb", "linear", "knn", "svm", "prior", "mlp"}
BIG = 20_000  # training rows above which a task counts as big


@dataclass(frozen=True)
class Recipe:
    """One leaderboard entry: a model family, its parameters and its handicaps (a blend lists its parts)."""

    family: str
    params: tuple[tuple[str, object], ...] = ()
    feat_frac: float = 1.0
    row_frac: float = 1.0
    tier: str = "middle"
    parts: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        if self.parts:  # a blend, or a move applied to another entry
            return self.family + "(" + "+".join(self.parts) + ")"
        out = self.family + "".join(f"-{k}{v}" for k, v in self.params)
        if self.feat_frac < 1:
            out += f"-feat{self.feat_frac}"
        if self.row_frac < 1:
            out += f"-rows{self.row_frac}"
        return out

    @property
    def seed(self) -> int:
        """Which rows and columns a handicapped entry keeps: fixed by its name."""
        return zlib.crc32(self.name.encode())


MIDDLE = {
    "prior": [{}],
    "nb": [{}],
    "linear": [{"C": c} for c in (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)],
    "knn": [{"k": k, "w": w} for k in (3, 7, 15, 31, 63) for w in ("u", "d")],
    "tree": [{"depth": d, "msl": m} for d in (3, 5, 8, 12, 0) for m in (1, 10, 40)],
    "rf": [{"trees": t, "depth": d, "msl": 1, "mf": "sqrt"} for t in (20, 50) for d in (4, 8, 0)],
    "et": [{"trees": t, "depth": d, "msl": 1, "mf": "sqrt"} for t in (20, 50) for d in (6, 0)],
    "hgb": [{"lr": lr, "it": it, "leaf": leaf, "msl": 20, "l2": 0.0, "mf": 1.0} for lr in (0.03, 0.1) for it in (15, 30, 60) for leaf in (7, 31)],
    "svm": [{"C": c} for c in (0.3, 1.0, 3.0)],
}
WEAK_ONLY = {"tree": [{"depth": d, "msl": 1} for d in (1, 2)]}


def _grid(**axes) -> list[dict]:
    keys = list(axes)
    return [dict(zip(keys, values)) for values in itertools.product(*(axes[k] for k in keys))]


def _strong_grid(spec: TaskSpec, n_train: int) -> dict[str, list[dict]]:
    """Each strong family's search space (big tasks: fewer, faster rounds, so the build stays within minutes)."""
    big = n_train > BIG
    many_classes = spec.metric_name == "logloss" and len(spec.prediction_columns) > 2  # a tree per class and round
    sched = ((0.1, 150), (0.1, 300), (0.2, 150)) if big else ((0.05, 300), (0.05, 600), (0.1, 150), (0.1, 300))
    if spec.metric_name == "logloss":  # calibrated probabilities: also fewer, slower rounds
        sched += ((0.03, 200), (0.05, 120), (0.1, 60))
    if many_classes:  # short schedules only: every round grows one tree per class
        sched = ((0.05, 150), (0.1, 60), (0.1, 100), (0.2, 60))
    cat_sched = ((0.1, 200), (0.2, 200)) if big else ((0.1, 100), (0.2, 100)) if many_classes else ((0.05, 500), (0.1, 300))
    hgb_sched = ((0.1, 200), (0.1, 400), (0.2, 200)) if big else ((0.05, 300), (0.05, 600), (0.1, 200), (0.1, 400))
    hgb_sched = sched if many_classes else hgb_sched
    grid = {
        "hgb": [{"lr": lr, "it": it, "leaf": leaf, "msl": msl, "l2": l2, "mf": mf} for lr, it in hgb_sched
                for leaf in (15, 31, 63) for msl in (10, 40) for l2 in (0.0, 1.0) for mf in (0.5, 1.0)],
        "lgbm": [{"lr": lr, "it": it, **p} for lr, it in sched
                 for p in _grid(leaf=(7, 15, 31, 63), mcs=(5, 20, 50), cs=(0.5, 0.8, 1.0), ss=(0.7, 1.0), l2=(0.0, 1.0, 5.0))],
        "xgb": [{"lr": lr, "it": it, **p} for lr, it in sched
                for p in _grid(depth=(3, 4, 6, 8), mcw=(1, 3, 10), cs=(0.5, 0.8, 1.0), ss=(0.7, 1.0), l2=(1.0, 5.0))],
        "cat": [{"lr": lr, "it": it, **p} for lr, it in cat_sched for p in _grid(depth=(4, 6), l2=(1.0, 3.0, 10.0))],
    }
    for fam in ("hgb", "lgbm", "xgb", "cat"):
        if spec.metric.kind == "value" and spec.metric_name != "rmsle":
            grid[fam] += [{**p, "log": 1} for p in grid[fam][::2]]  # log target for skewed values
        if spec.metric_name == "mae":
            grid[fam] += [{**p, "loss": "mae"} for p in grid[fam][::2]]
    trees = (100, 200) if big else (200, 400)
    grid["rf"] = grid["et"] = [{"trees": t, "depth": 0, "msl": m, "mf": mf} for t in trees for m in (1, 3, 10) for mf in (0.3, 0.6, "sqrt")]
    if spec.modality in ("image", "text", "time-series"):  # a small neural net where the inputs suit one
        grid["mlp"] = [{"h": h, "a": a} for h in ((64,), (128,), (256,), (128, 64)) for a in (1e-4, 1e-3, 1e-2)]
    if spec.modality == "image":  # on pixels, tuned kernels and neighbours are the real work
        grid["svm"] = [{"C": c} for c in (3.0, 5.0, 10.0, 20.0, 50.0)]
        grid["knn"] = [{"k": k, "w": "d"} for k in (1, 2, 4, 6, 10)]
    if spec.modality == "text":  # linear models on TF-IDF word n-grams
        grid["linear"] = [{"C": c} for c in (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)]
    return grid


def draw_population(spec: TaskSpec, seed: int = 0, n_train: int = 0) -> list[Recipe]:
    """The weak, middle and strong entries of a task's board (blends and threshold moves come later, from dev scores)."""
    rng = np.random.default_rng(seed)
    families = [f for f in MIDDLE if f != "svm" or spec.modality == "image"]
    recipes: dict[str, Recipe] = {}

    def draw(count: int, make) -> None:
        added, tries = 0, 0
        while added < count and tries < 50 * count:
            tries += 1
            recipe = make()
            if recipe.name not in recipes:
                recipes[recipe.name] = recipe
                added += 1

    def pick(grid: list[dict], r=rng) -> tuple:
        return tuple(grid[r.integers(len(grid))].items())

    def weak() -> Recipe:
        fam = families[rng.integers(len(families))]
        grid = MIDDLE[fam] + WEAK_ONLY.get(fam, [])
        if rng.random() < 0.5:
            return Recipe(fam, pick(grid), row_frac=float(rng.choice([0.05, 0.1, 0.25])), tier="weak")
        return Recipe(fam, pick(grid), feat_frac=float(rng.choice([0.3, 0.5])), tier="weak")

    draw(3, lambda: Recipe(("prior", "nb", "tree")[len(recipes)], () if len(recipes) < 2 else (("depth", 2), ("msl", 1)), tier="weak"))
    draw(TIER_SIZES["weak"] - 3, weak)
    mid_families = [f for f in families if f not in ("prior", "nb")]
    draw(TIER_SIZES["middle"], lambda: Recipe((fam := mid_families[rng.integers(len(mid_families))]), pick(MIDDLE[fam]), tier="middle"))
    for fam, space in _strong_grid(spec, n_train).items():  # each family's fixed search: its own seeded draw
        fam_rng = np.random.default_rng([seed, zlib.crc32(fam.encode())])
        draw(min(STRONG_SEARCH[fam], len(space)), lambda f=fam, g=space, r=fam_rng: Recipe(f, pick(g, r), tier="strong"))
    # A constant prediction ignores the columns it is given: its handicapped draws are the same model.
    return [r for r in recipes.values() if r.family != "prior" or r.name == "prior"]


def threshold_recipes(spec: TaskSpec, dev_ranked: list[Recipe]) -> list[Recipe]:
    """Macro F1 on two classes: the best boosting entries by dev score, their threshold tuned on the dev rows."""
    if spec.metric_name != "macro_f1":
        return []
    boosted = [r for r in dev_ranked if r.family in ("lgbm", "xgb", "cat", "hgb")]
    return [Recipe("thr", tier="strong", parts=(r.name,)) for r in boosted[:THRESHOLD_MOVES]]


def tune_threshold(pred: np.ndarray, n_dev: int, dev_labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Class probabilities moved so that ``argmax`` applies the threshold with the best macro F1 on the dev rows."""
    from sklearn.metrics import f1_score

    grid = np.arange(0.05, 0.95, 0.01)
    p = np.clip(pred[:, 1], 1e-6, 1 - 1e-6)
    f1 = [f1_score(dev_labels, np.where(p[:n_dev] >= t, classes[1], classes[0]), average="macro") for t in grid]
    t = float(grid[int(np.argmax(f1))])
    shifted = 1 / (1 + np.exp(-(np.log(p / (1 - p)) - np.log(t / (1 - t)))))
    return np.column_stack([1 - shifted, shifted])


def blend_recipes(dev_ranked: list[Recipe], seed: int = 0, top: int = 12) -> list[Recipe]:
    """At most ``TIER_SIZES["blend"]`` blends of two or three of the ``top`` strong singles by dev score
    (best first): members of different families, and no entry in two blends."""
    pool, used, out = list(dev_ranked[:top]), set(), []
    for size in (2, 3, 2, 3)[: TIER_SIZES["blend"]]:
        members: list[Recipe] = []
        for r in pool:
            if r.name not in used and r.family not in {m.family for m in members}:
                members.append(r)
            if len(members) == size:
                break
        if len(members) < 2:
            break
        used.update(m.name for m in members)
        out.append(Recipe("blend", tier="blend", parts=tuple(m.name for m in members)))
    return out


def fit_predict(recipe: Recipe, spec: TaskSpec, feats: Features, y: pd.Series, classes: np.ndarray | None) -> np.ndarray:
    """Fit one entry on (its share of) the training rows; predict the evaluation rows (dev, then test).

    Values for regression; for classification, class probabilities in the order of ``classes``."""
    rng = np.random.default_rng(recipe.seed)
    lin = recipe.family in USES_LIN or (sparse.issparse(feats.lin_train) and recipe.family in ("lgbm", "xgb"))
    X_tr, X_ev = (feats.lin_train, feats.lin_test) if lin else (feats.tree_train, feats.tree_test)
    n_cols, n_rows = X_tr.shape[1], len(y)
    k = max(1, int(round(recipe.feat_frac * n_cols)))
    cols = np.sort(rng.choice(n_cols, size=k, replace=False)) if k < n_cols else np.arange(n_cols)
    m = max(min(int(recipe.row_frac * n_rows), ROW_CAPS.get(recipe.family, n_rows)), min(n_rows, 50))
    rows = np.sort(rng.choice(n_rows, size=m, replace=False)) if m < n_rows else np.arange(n_rows)
    X_fit, X_pred = X_tr[rows][:, cols], X_ev[:, cols]
    if recipe.family == "nb" and not feats.nonneg and sparse.issparse(X_fit):
        X_fit, X_pred = X_fit.toarray(), X_pred.toarray()
    y_fit = y.to_numpy()[rows]
    model = make_model(recipe.family, dict(recipe.params), classes is not None, feats.nonneg)
    if classes is None:
        log = spec.metric_name == "rmsle" or dict(recipe.params).get("log") == 1
        model.fit(X_fit, np.log1p(y_fit) if log else y_fit)
        pred = model.predict(X_pred)
        return np.expm1(pred) if log else pred
    if len(np.unique(y_fit)) < 2:
        return np.tile(pd.Series(y_fit).value_counts(normalize=True).reindex(classes, fill_value=0).to_numpy(), (X_pred.shape[0], 1))
    codes = pd.Index(classes).get_indexer(y_fit)  # every library sees classes as 0..K-1
    model.fit(X_fit, codes)
    proba = model.predict_proba(X_pred)
    out = np.zeros((X_pred.shape[0], len(classes)))
    out[:, np.asarray(model.classes_, dtype=int)] = proba
    return out


def to_submission(spec: TaskSpec, pred: np.ndarray, classes: np.ndarray | None, ids: pd.Series) -> pd.DataFrame:
    """A submission frame from an entry's predictions (values, or class probabilities)."""
    sub = pd.DataFrame({spec.id_column: ids.to_numpy()})
    kind = spec.metric.kind
    if classes is None:
        sub[spec.target] = np.clip(pred, 0, None) if spec.metric_name == "rmsle" else pred
    elif kind == "label":
        sub[spec.target] = classes[pred.argmax(1)]
    elif len(spec.prediction_columns) > 1:
        names = [str(c) for c in classes]
        for col in spec.prediction_columns:
            sub[col] = pred[:, names.index(col)] if col in names else 0.0
    else:
        sub[spec.target] = pred[:, -1]
    return sub
