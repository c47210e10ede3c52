"""The population of reference entries behind each leaderboard (``scripts/build_leaderboards.py``).

The protocol is fixed here, before any grading: the same code draws every task's population from
its modality and metric alone, with ``random_state=0`` everywhere and no seed-only variants. A
real competition's board has many weak and middling entries, a dense middle and a thin top earned
by tuning, feature engineering and ensembling; the tiers copy that shape:

- ``weak`` (38): handicapped entries: 5-25% of the training rows or 30-50% of the columns, or
  weak families (constant prior/mean, naive Bayes, shallow trees);
- ``middle`` (35): one scikit-learn family with a plain configuration on every row (linear, kNN,
  decision tree, small forests, short boosting, an SVM for images);
- ``strong`` entrants (``ENTRANTS``, by modality): each tunes one family as an entrant does. It
  tries ``SEARCH_POINTS`` points of the family's grid (``BIG_SEARCH_POINTS`` on big tasks,
  images and text), drawn without replacement in an order seeded by the family's name (no point in two
  entrants), and submits the one with the best *dev* score. Boosting (LightGBM, XGBoost,
  CatBoost, scikit-learn's histogram boosting) is early-stopped on the dev rows; forests, a
  linear model, a small MLP, kernels and neighbours where the modality suits; log target or
  absolute loss where the metric asks;
- task-specific moves: for macro F1 every strong point's decision threshold is tuned on the dev
  rows (``thr``); temperature lags for the demand series and differences of the hourly readings
  for the power series (``scripts/_features.py``);
- ``blend`` (at most 4): equal-weight blends of two or three of the strongest entrants by *dev*
  score (never the test score), of different families, and no entry in two blends.

An entry that predicts exactly as one already entered (an SVM past its margin, boosting stopped at
the same round) is a twin and is left out; the build then enters further entrants
(``reserve_entrants``: each family's next unused grid points, the families taken in turn) until
the board holds ``MIN_TEAMS`` distinct entries.

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

__all__ = ["Recipe", "draw_population", "fit_predict", "training_rows", "blend_recipes", "blend_parts", "blend_predictions", "tune_threshold", "to_submission", "TIER_SIZES", "ENTRANTS", "SEARCH_POINTS",
           "MIN_TEAMS", "reserve_entrants"]

TIER_SIZES = {"weak": 38, "middle": 35, "blend": 4}
MIN_TEAMS = 150  # distinct entries on every board (the tiers draw more; twins are left out and replaced)
SEARCH_POINTS = 4  # each strong entrant submits the dev-best of this many points of its family's grid
BIG_SEARCH_POINTS = 2  # ... on tasks over ``BIG`` training rows, on images and on text (wide inputs are slow)
# Strong entrants per family and modality (the families that suit the inputs; each entrant its own search).
ENTRANTS = {
    "tabular": {"lgbm": 24, "xgb": 18, "cat": 12, "hgb": 14, "rf": 5, "et": 5, "linear": 4},
    "time-series": {"lgbm": 22, "xgb": 16, "cat": 10, "hgb": 12, "rf": 5, "et": 5, "linear": 4, "mlp": 8},
    "image": {"svm": 12, "mlp": 16, "knn": 8, "lgbm": 10, "xgb": 8, "hgb": 8, "cat": 2, "rf": 5, "et": 5, "linear": 5},
    "text": {"linear": 6, "mlp": 10, "lgbm": 22, "xgb": 16, "cat": 4, "hgb": 8, "rf": 5, "et": 5},
}
BOOSTING = ("lgbm", "xgb", "cat", "hgb")
EARLY_STOP = 50  # rounds without a better dev score before a boosting entry stops
EARLY_STOP_EPOCHS = 10  # epochs without a better dev score before a net stops (scikit-learn's own patience)
# Rows a non-reference entry may train on (big data: the slower families are subsampled). The four
# boosting libraries share one cap, so no boosting family is handicapped against another. The entry
# cache records each entry's training rows and refits one whose cap has changed since.
ROW_CAPS = {"knn": 6_000, "svm": 3_000, "rf": 20_000, "et": 20_000, "hgb": 40_000, "linear": 40_000, "tree": 40_000,
            "cat": 40_000, "mlp": 20_000, "lgbm": 40_000, "xgb": 40_000}
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
    """Each strong family's search space. Boosting is early-stopped on the dev rows (``es``: the round
    cap ``cap``); big tasks and many-class log loss get faster rates so the build stays within minutes."""
    big = n_train > BIG
    many_classes = spec.metric_name == "logloss" and len(spec.prediction_columns) > 2  # a tree per class and round
    rates, cap = ((0.1, 0.2), 600) if many_classes else ((0.05, 0.1, 0.2), 1500) if big else ((0.03, 0.05, 0.1), 3000)
    es = {"es": 1, "cap": cap}
    grid = {
        "lgbm": [{"lr": lr, **p, **es} for lr in rates
                 for p in _grid(leaf=(7, 15, 31, 63), mcs=(5, 20, 50), cs=(0.5, 0.8, 1.0), ss=(0.7, 1.0), l2=(0.0, 1.0, 5.0))],
        "xgb": [{"lr": lr, **p, **es} for lr in rates
                for p in _grid(depth=(3, 4, 6, 8), mcw=(1, 3, 10), cs=(0.5, 0.8, 1.0), ss=(0.7, 1.0), l2=(1.0, 5.0))],
        "cat": [{"lr": lr, **p, **es} for lr in rates[-2:] for p in _grid(depth=(4, 6, 8), l2=(1.0, 3.0, 10.0), rs=(1.0, 5.0))],
        "hgb": [{"lr": lr, "leaf": leaf, "msl": msl, "l2": l2, "mf": mf, **es} for lr in rates[-2:]
                for leaf in (15, 31, 63) for msl in (10, 20, 40) for l2 in (0.0, 1.0) for mf in (0.5, 1.0)],
    }
    for fam in BOOSTING:
        if spec.metric.kind == "value" and spec.metric_name != "rmsle":
            grid[fam] += [{**p, "log": 1} for p in grid[fam][::2]]  # log target for skewed values
        if spec.metric_name == "mae":
            grid[fam] += [{**p, "loss": "mae"} for p in grid[fam][::2]]
    trees = 150 if big else 300
    grid["rf"] = grid["et"] = [{"trees": trees, "depth": 0, "msl": m, "mf": mf} for m in (1, 2, 4, 8) for mf in (0.2, 0.33, 0.5, 0.7, "sqrt")]
    grid["linear"] = [{"C": float(c)} for c in np.round(np.logspace(-3, 2.5, 24), 5)]
    grid["mlp"] = [{"h": h, "a": a, "lr": lr, "es": 1} for h in ((64,), (128,), (256,), (512,), (128, 64), (256, 128))
                   for a in (1e-4, 1e-3, 1e-2, 0.1, 1.0) for lr in (3e-4, 1e-3, 3e-3)]
    grid["svm"] = [{"C": c, "g": g} for c in (0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0) for g in (0.5, 1.0, 2.0, 4.0)]
    grid["knn"] = [{"k": k, "w": w, "p": q} for k in (1, 2, 3, 4, 5, 6, 8, 10, 12, 15) for w in ("u", "d") for q in (1, 2)]
    if spec.modality == "text":  # 20,000 sparse n-gram columns: liblinear for the linear models, small nets
        grid["linear"] = [{**p, "solver": "liblinear"} for p in grid["linear"]]
        grid["mlp"] = [p for p in grid["mlp"] if p["h"] in ((64,), (128,))]
    if spec.metric_name == "macro_f1":  # the obvious first move on F1: the decision threshold, tuned on the dev rows
        grid = {fam: [{**p, "thr": 1} for p in points] for fam, points in grid.items()}
    return grid


def draw_population(spec: TaskSpec, seed: int = 0, n_train: int = 0) -> tuple[list[Recipe], list[list[Recipe]]]:
    """The weak and middle entries of a task's board, and its strong entrants: each a list of search
    points (no point in two entrants), of which the build keeps the one with the best dev score.
    Blends come later, from dev scores."""
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
    # A constant prediction ignores the columns it is given: its handicapped draws are the same model.
    singles = [r for r in recipes.values() if r.family != "prior" or r.name == "prior"]
    searches = _searches(spec, seed, n_train)
    entrants = [points for fam, count in ENTRANTS[spec.modality].items() for points in searches[fam][:count]]
    return singles, entrants


def reserve_entrants(spec: TaskSpec, seed: int = 0, n_train: int = 0) -> list[list[Recipe]]:
    """Further strong entrants, to replace twins: each family's next unused searches, the families
    taken in turn (in ``ENTRANTS`` order), until every family's grid is spent."""
    searches = _searches(spec, seed, n_train)
    spare = [searches[fam][count:] for fam, count in ENTRANTS[spec.modality].items()]
    return [queue[i] for i in range(max(map(len, spare), default=0)) for queue in spare if i < len(queue)]


def _searches(spec: TaskSpec, seed: int, n_train: int) -> dict[str, list[list[Recipe]]]:
    """Every search a strong entrant of each family can run: its grid in an order seeded by the
    family's name, cut into searches of ``SEARCH_POINTS`` points (``BIG_SEARCH_POINTS`` on big
    tasks, images and text), no point in two searches."""
    points = BIG_SEARCH_POINTS if n_train > BIG or spec.modality in ("image", "text") else SEARCH_POINTS
    grids = _strong_grid(spec, n_train)
    out = {}
    for fam in ENTRANTS[spec.modality]:
        space = grids[fam]
        order = np.random.default_rng([seed, zlib.crc32(fam.encode())]).permutation(len(space))
        out[fam] = [[Recipe(fam, tuple(space[i].items()), tier="strong") for i in order[e * points:(e + 1) * points]]
                    for e in range(len(space) // points)]
    return out


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
    (best first), then of the best single of each family the top lacks: members of different
    families, and no entry in two blends."""
    pool, used, out = list(dev_ranked[:top]), set(), []
    for r in dev_ranked[top:]:  # one family can fill the top: its best rival of each other family joins
        if r.family not in {m.family for m in pool}:
            pool.append(r)
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


def blend_parts(team: str) -> tuple[str, ...] | None:
    """The members of a blend entry named ``blend(a+b+...)``, or None for a single entry."""
    if team.startswith("blend(") and team.endswith(")"):
        return tuple(team[len("blend("):-1].split("+"))
    return None


def blend_predictions(members: list[np.ndarray]) -> np.ndarray:
    """A blend's predictions: the equal-weight mean of its members' (never cached under the blend's name)."""
    return np.mean(members, axis=0)


def _fit(model, family: str, params: dict, X, y, dev) -> None:
    """Fit, early-stopped on the dev rows when the recipe says so (``es``): the boosting libraries
    watch the dev loss; scikit-learn's histogram boosting is grown in steps and cut where it was best;
    the net is trained an epoch at a time and kept at its best epoch."""
    if not params.get("es"):
        model.fit(X, y)
    elif family == "mlp":
        _fit_net(model, X, y, dev, params)
    elif family == "lgbm":
        import lightgbm

        model.fit(X, y, eval_set=[dev], callbacks=[lightgbm.early_stopping(EARLY_STOP, verbose=False)])
    elif family == "xgb":
        model.set_params(early_stopping_rounds=EARLY_STOP)
        model.fit(X, y, eval_set=[dev], verbose=False)
    elif family == "cat":
        model.fit(X, y, eval_set=dev, early_stopping_rounds=EARLY_STOP)
    else:  # hgb: no external eval set in scikit-learn, so grow it 25 rounds at a time and watch the dev loss
        X_dev, y_dev = dev
        cap, best, best_rounds, rounds = model.max_iter, np.inf, 0, 0
        model.set_params(warm_start=True, early_stopping=False)
        while rounds < cap and rounds - best_rounds < EARLY_STOP:
            rounds = min(cap, rounds + 25)
            model.set_params(max_iter=rounds).fit(X, y)
            loss = _dev_loss(model, X_dev, y_dev, params)
            if loss < best:
                best, best_rounds = loss, rounds
        model.set_params(warm_start=False, max_iter=best_rounds).fit(X, y)


def _fit_net(model, X, y, dev, params: dict) -> None:
    """scikit-learn's MLP stops on the accuracy (R^2) of its own 10% split, which lets a net grow
    overconfident on log loss; here it trains on every row it was given, one epoch at a time, and
    keeps the weights of the epoch with the best dev loss, as boosting keeps its best round."""
    import copy

    X_dev, y_dev = dev
    # A generator, not a seed: each epoch then shuffles the rows anew (an int restarts the stream).
    model.set_params(early_stopping=False, random_state=np.random.RandomState(0))
    classes = np.unique(y) if hasattr(model, "predict_proba") else None
    best, best_weights, since = np.inf, None, 0
    for _ in range(model.max_iter):
        model.partial_fit(X, y, **({"classes": classes} if classes is not None else {}))
        loss = _dev_loss(model, X_dev, y_dev, params)
        if loss < best:
            best, best_weights, since = loss, copy.deepcopy((model.coefs_, model.intercepts_)), 0
        elif (since := since + 1) >= EARLY_STOP_EPOCHS:
            break
    if best_weights is not None:  # None: the dev loss was never finite; the last epoch's weights stay
        model.coefs_, model.intercepts_ = best_weights


def _dev_loss(model, X, y, params: dict) -> float:
    """The loss a boosting library early-stops on: log loss, or squared (absolute) error of values."""
    if hasattr(model, "predict_proba"):
        proba = np.clip(model.predict_proba(X), 1e-15, 1)
        return float(-np.mean(np.log(proba[np.arange(len(y)), np.searchsorted(model.classes_, y)])))
    err = model.predict(X) - y
    return float(np.mean(np.abs(err)) if params.get("loss") == "mae" else np.mean(err ** 2))


def training_rows(recipe: Recipe, n_rows: int) -> int:
    """How many of a task's ``n_rows`` training rows an entry fits on: its share, within its family's cap."""
    return max(min(int(recipe.row_frac * n_rows), ROW_CAPS.get(recipe.family, n_rows)), min(n_rows, 50))


def fit_predict(recipe: Recipe, spec: TaskSpec, feats: Features, y: pd.Series, classes: np.ndarray | None,
                n_dev: int = 0, dev_y: np.ndarray | None = None) -> np.ndarray:
    """Fit one entry on (its share of) the training rows; predict the evaluation rows (dev, then test).

    Values for regression; for classification, class probabilities in the order of ``classes``.
    ``dev_y`` (the first ``n_dev`` evaluation rows' labels) serves the recipes tuned on the dev rows:
    early stopping (``es``) and the macro-F1 threshold (``thr``)."""
    params = dict(recipe.params)
    rng = np.random.default_rng(recipe.seed)
    lin = recipe.family in USES_LIN or (sparse.issparse(feats.lin_train) and recipe.family in ("lgbm", "xgb"))
    X_tr, X_ev = (feats.lin_train, feats.lin_test) if lin else (feats.tree_train, feats.tree_test)
    if recipe.family == "xgb" and feats.svd_train is not None:  # text: dense SVD components, not 20,000 sparse columns
        X_tr, X_ev = feats.svd_train, feats.svd_test
    n_cols, n_rows = X_tr.shape[1], len(y)
    k = max(1, int(round(recipe.feat_frac * n_cols)))
    cols = np.sort(rng.choice(n_cols, size=k, replace=False)) if k < n_cols else np.arange(n_cols)
    m = training_rows(recipe, n_rows)
    rows = np.sort(rng.choice(n_rows, size=m, replace=False)) if m < n_rows else np.arange(n_rows)
    X_fit, X_pred = X_tr[rows][:, cols], X_ev[:, cols]
    if recipe.family == "nb" and not feats.nonneg and sparse.issparse(X_fit):
        X_fit, X_pred = X_fit.toarray(), X_pred.toarray()
    y_fit = y.to_numpy()[rows]
    model = make_model(recipe.family, params, classes is not None, feats.nonneg)
    if recipe.family == "svm" and "g" in params:  # the RBF width: a multiple of scikit-learn's "scale"
        var = X_fit.multiply(X_fit).mean() - X_fit.mean() ** 2 if sparse.issparse(X_fit) else X_fit.var()
        model.set_params(gamma=params["g"] / (X_fit.shape[1] * var))
    if params.get("es") and (dev_y is None or not n_dev):
        raise ValueError(f"{recipe.name} is early-stopped on the dev rows: pass n_dev and dev_y")
    if classes is None:
        log = spec.metric_name == "rmsle" or params.get("log") == 1
        target = (lambda v: np.log1p(v)) if log else (lambda v: v)
        dev = (X_pred[:n_dev], target(np.asarray(dev_y, dtype=float))) if params.get("es") else None
        _fit(model, recipe.family, params, X_fit, target(y_fit), dev)
        pred = model.predict(X_pred)
        return np.expm1(pred) if log else pred
    if len(np.unique(y_fit)) < 2:
        return np.tile(pd.Series(y_fit).value_counts(normalize=True).reindex(classes, fill_value=0).to_numpy(), (X_pred.shape[0], 1))
    index = pd.Index(classes)
    codes = index.get_indexer(y_fit)  # every library sees classes as 0..K-1
    dev = None
    if params.get("es"):
        dev_codes = index.get_indexer(dev_y)
        seen = dev_codes >= 0  # a dev label the training rows never show cannot be scored
        dev = (X_pred[:n_dev][seen], dev_codes[seen])
    _fit(model, recipe.family, params, X_fit, codes, dev)
    proba = model.predict_proba(X_pred)
    out = np.zeros((X_pred.shape[0], len(classes)))
    out[:, np.asarray(model.classes_, dtype=int)] = proba
    if params.get("thr"):
        out = tune_threshold(out, n_dev, dev_y, classes)
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
