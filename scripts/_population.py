"""The population of reference entries behind each leaderboard (``scripts/build_leaderboards.py``).

A real competition's board has many weak and middling entries, a dense middle and a thin top
earned by tuning, feature engineering and ensembling. The population copies that shape with
distinct models only (no seed-only variants; ``random_state=0`` everywhere):

- ``weak``: handicapped entries: a fraction of the training rows (5-25%) or of the columns
  (30-50%), or weak families (constant prior/mean, naive Bayes, shallow trees);
- ``middle``: one model family with a plain configuration on every row and column (linear, kNN,
  decision tree, small forests, short boosting, an SVM for images);
- ``strong``: tuned gradient boosting (learning rate, iterations, leaves, leaf size, L2,
  column sampling, log target or absolute loss where the metric asks) and large forests on
  the engineered features, every row (for log loss also short, slow schedules: calibrated probabilities);
- ``blend``: equal-weight blends of two or three of the strongest singles, chosen by their
  *dev* score (the public leaderboard), never the test score.

On top sit the task's own solution files: ``default_solution.py`` and ``reference_gold.py``.
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

__all__ = ["Recipe", "draw_population", "fit_predict", "blend_recipes", "to_submission", "TIER_SIZES"]

TIER_SIZES = {"weak": 50, "middle": 45, "strong": 40, "calibrated": 10, "blend": 30}
# Rows a non-reference entry may train on (big data: the weak and middle entries are subsampled).
ROW_CAPS = {"knn": 6_000, "svm": 3_000, "rf": 20_000, "et": 20_000, "hgb": 40_000, "linear": 40_000, "tree": 40_000}
USES_LIN = {"nb", "linear", "knn", "svm", "prior"}
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
        if self.family == "blend":
            return "blend(" + "+".join(self.parts) + ")"
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


def _strong_grid(spec: TaskSpec, n_train: int) -> dict[str, list[dict]]:
    # Big tasks: the same tuning space with fewer, faster rounds, so the build stays within minutes.
    schedules = ((0.1, 200), (0.1, 400), (0.2, 200), (0.2, 300)) if n_train > BIG else ((0.03, 600), (0.05, 300), (0.05, 800), (0.1, 200), (0.1, 400))
    hgb = [
        {"lr": lr, "it": it, "leaf": leaf, "msl": msl, "l2": l2, "mf": mf}
        for lr, it in schedules
        for leaf in (15, 31, 63) for msl in (10, 40) for l2 in (0.0, 1.0) for mf in (0.5, 1.0)
    ]
    if spec.metric.kind == "value" and spec.metric_name != "rmsle":
        hgb += [{**p, "log": 1} for p in hgb[::3]]  # log target for skewed values
    if spec.metric_name == "mae":
        hgb += [{**p, "loss": "mae"} for p in hgb[::2]]
    trees = (100, 200) if n_train > BIG else (200, 400)
    forests = [{"trees": t, "depth": 0, "msl": m, "mf": mf} for t in trees for m in (1, 3, 10) for mf in (0.3, 0.6, "sqrt")]
    grid = {"hgb": hgb, "rf": forests, "et": forests}
    if spec.modality == "image":  # on pixels, tuned kernels and neighbours are the real work
        grid["svm"] = [{"C": c} for c in (5.0, 10.0, 20.0, 50.0)]
        grid["knn"] = [{"k": k, "w": "d"} for k in (1, 2, 4, 6, 10)]
    return grid


def draw_population(spec: TaskSpec, seed: int = 0, n_train: int = 0) -> list[Recipe]:
    """The weak, middle and strong entries of a task's board (blends come later, from dev scores)."""
    rng = np.random.default_rng(seed)
    families = [f for f in MIDDLE if f != "svm" or spec.modality == "image"]
    recipes: dict[str, Recipe] = {}

    def draw(tier: str, count: int, make) -> None:
        added, tries = 0, 0
        while added < count and tries < 50 * count:
            tries += 1
            recipe = make()
            if recipe.name not in recipes:
                recipes[recipe.name] = recipe
                added += 1

    def pick(grid: list[dict]) -> tuple:
        return tuple(grid[rng.integers(len(grid))].items())

    def weak() -> Recipe:
        fam = families[rng.integers(len(families))]
        grid = MIDDLE[fam] + WEAK_ONLY.get(fam, [])
        if rng.random() < 0.5:
            return Recipe(fam, pick(grid), row_frac=float(rng.choice([0.05, 0.1, 0.25])), tier="weak")
        return Recipe(fam, pick(grid), feat_frac=float(rng.choice([0.3, 0.5])), tier="weak")

    draw("weak", 3, lambda: Recipe(("prior", "nb", "tree")[len(recipes)], () if len(recipes) < 2 else (("depth", 2), ("msl", 1)), tier="weak"))
    draw("weak", TIER_SIZES["weak"] - 3, weak)
    mid_families = [f for f in families if f not in ("prior", "nb")]
    draw("middle", TIER_SIZES["middle"], lambda: Recipe((fam := mid_families[rng.integers(len(mid_families))]), pick(MIDDLE[fam]), tier="middle"))
    strong = _strong_grid(spec, n_train)
    strong_families = ("hgb", "hgb", "hgb", "rf", "et") + (("svm", "svm", "knn") if spec.modality == "image" else ())
    draw("strong", TIER_SIZES["strong"], lambda: Recipe((fam := strong_families[rng.integers(len(strong_families))]), pick(strong[fam]), tier="strong"))
    if spec.metric_name == "logloss":  # for log loss, tuning boosting means fewer, slower rounds (calibrated probabilities)
        short = [{"lr": lr, "it": it, "leaf": leaf, "msl": msl, "l2": 1.0, "mf": mf} for lr, it in ((0.03, 200), (0.05, 150), (0.1, 80))
                 for leaf in (7, 15, 31) for msl in (20, 40) for mf in (0.5, 1.0)]
        draw("strong", TIER_SIZES["calibrated"], lambda: Recipe("hgb", pick(short), tier="strong"))
    # A constant prediction ignores the columns it is given: its handicapped draws are the same model.
    return [r for r in recipes.values() if r.family != "prior" or r.name == "prior"]


def blend_recipes(dev_ranked: list[str], seed: int = 0, top: int = 10) -> list[Recipe]:
    """Blends of two or three of the ``top`` strong singles by dev score (best first)."""
    pool = dev_ranked[:top]
    combos = list(itertools.combinations(pool, 2)) + list(itertools.combinations(pool, 3))
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(combos), size=min(TIER_SIZES["blend"], len(combos)), replace=False)
    return [Recipe("blend", tier="blend", parts=tuple(combos[i])) for i in sorted(chosen)]


def _model(recipe: Recipe, classify: bool, nonneg: bool):
    from sklearn import dummy, ensemble, linear_model, naive_bayes, neighbors, svm, tree

    p, fam = dict(recipe.params), recipe.family
    depth = p.get("depth") or None
    if fam == "prior":
        return dummy.DummyClassifier(strategy="prior") if classify else dummy.DummyRegressor(strategy="mean")
    if fam == "nb":
        if classify:
            return naive_bayes.MultinomialNB(alpha=0.3) if nonneg else naive_bayes.GaussianNB()
        return linear_model.BayesianRidge()
    if fam == "linear":
        return linear_model.LogisticRegression(C=p["C"], max_iter=500) if classify else linear_model.Ridge(alpha=1.0 / p["C"])
    if fam == "knn":
        kind = neighbors.KNeighborsClassifier if classify else neighbors.KNeighborsRegressor
        return kind(n_neighbors=p["k"], weights="distance" if p["w"] == "d" else "uniform")
    if fam == "tree":
        kind = tree.DecisionTreeClassifier if classify else tree.DecisionTreeRegressor
        return kind(max_depth=depth, min_samples_leaf=p["msl"], random_state=0)
    if fam in ("rf", "et"):
        names = {("rf", True): "RandomForestClassifier", ("rf", False): "RandomForestRegressor",
                 ("et", True): "ExtraTreesClassifier", ("et", False): "ExtraTreesRegressor"}
        kind = getattr(ensemble, names[fam, classify])
        return kind(n_estimators=p["trees"], max_depth=depth, min_samples_leaf=p["msl"], max_features=p["mf"], n_jobs=1, random_state=0)
    if fam == "hgb":
        kind = ensemble.HistGradientBoostingClassifier if classify else ensemble.HistGradientBoostingRegressor
        extra = {"loss": "absolute_error"} if p.get("loss") == "mae" else {}
        return kind(learning_rate=p["lr"], max_iter=p["it"], max_leaf_nodes=p["leaf"], min_samples_leaf=p["msl"],
                    l2_regularization=p["l2"], max_features=p["mf"], early_stopping=False, random_state=0, **extra)
    if fam == "svm":
        return svm.SVC(C=p["C"], gamma="scale", probability=True, random_state=0) if classify else svm.SVR(C=p["C"])
    raise ValueError(f"unknown family {fam!r}")


def fit_predict(recipe: Recipe, spec: TaskSpec, feats: Features, y: pd.Series, classes: np.ndarray | None) -> np.ndarray:
    """Fit one entry on (its share of) the training rows; predict the evaluation rows (dev, then test).

    Values for regression; for classification, class probabilities in the order of ``classes``."""
    rng = np.random.default_rng(recipe.seed)
    lin = recipe.family in USES_LIN
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
    model = _model(recipe, classes is not None, feats.nonneg)
    if classes is None:
        log = spec.metric_name == "rmsle" or dict(recipe.params).get("log") == 1
        model.fit(X_fit, np.log1p(y_fit) if log else y_fit)
        pred = model.predict(X_pred)
        return np.expm1(pred) if log else pred
    if len(np.unique(y_fit)) < 2:
        return np.tile(pd.Series(y_fit).value_counts(normalize=True).reindex(classes, fill_value=0).to_numpy(), (X_pred.shape[0], 1))
    model.fit(X_fit, y_fit)
    proba = model.predict_proba(X_pred)
    out = np.zeros((X_pred.shape[0], len(classes)))
    for j, cls in enumerate(model.classes_):
        out[:, list(classes).index(cls)] = proba[:, j]
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
