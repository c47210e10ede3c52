"""Build each task's private leaderboard from a population of reference solutions.

How the leaderboards were made (this is the record kept with the committed ``envs/<id>/leaderboard.csv``):

1. The task is prepared (``gome_env.task.prepare``): the same public/private files agents get.
2. Features are built from the public train and test frames only: numeric columns as they are,
   categorical columns as ordinal codes (tree models) or one-hot columns (linear models, kNN,
   naive Bayes), plus a few task-specific derived columns (calendar fields for dated rows, text
   statistics and TF-IDF n-grams for tweets, PCA components for images). Answers are never used
   to build features.
3. A population of reference solutions is drawn with a fixed seed (``--seed``, default 0): model
   families (constant prior/mean, naive Bayes, logistic/ridge regression, kNN, decision tree,
   random forest, extra trees, histogram gradient boosting and, for images, an RBF SVM), their
   hyperparameters, a random subset of the feature columns, a fraction of the training rows
   (5-100%) and a random seed. Slow families are trained on a capped subsample so the whole
   build stays within about 15 minutes on 2 cores. The strongest configurations of each family
   are always included, so the population spans weak to strong.
4. Each solution is fitted on the public train split and its test predictions are graded with
   ``gome_env.grader.grade`` against the private test answers: the leaderboard is ``team,score``
   sorted best-first (``team`` names the recipe, e.g. ``hgb-lr0.1-it200-leaf31-feat1.0-rows0.5-s3``).
5. Checks: the task's ``baseline.py`` is run as an agent's ``solution.py`` would be (a subprocess
   in a temporary workspace) and its test score must earn no medal under MLE-bench's rule, while
   the best reference solution must earn gold. A task that fails a check is reported (exit 1).

Usage::

    python scripts/build_leaderboards.py                 # all tasks, 120 solutions each
    python scripts/build_leaderboards.py --tasks spam digits --n 150
    python scripts/build_leaderboards.py --check-only    # re-run the checks against the committed CSVs
"""

from __future__ import annotations

import os

# One thread per model: on a shared 2-core machine OpenMP's spinning threads slow gradient boosting tenfold.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from scipy import sparse

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gome_env.grader import grade, grade_file  # noqa: E402
from gome_env.medals import Leaderboard  # noqa: E402
from gome_env.task import PreparedTask, TaskSpec, load_spec, prepare, task_ids  # noqa: E402

warnings.filterwarnings("ignore")


# ----------------------------------------------------------------------------- features


@dataclass
class Features:
    """Train and test matrices in two encodings: ``tree`` (ordinal codes) and ``lin`` (scaled, one-hot/TF-IDF)."""

    tree_train: np.ndarray
    tree_test: np.ndarray
    lin_train: np.ndarray | sparse.csr_matrix
    lin_test: np.ndarray | sparse.csr_matrix
    nonneg: bool = False  # lin matrices are non-negative counts (multinomial naive Bayes applies)


def _calendar(frame: pd.DataFrame, column: str, prefix: str) -> pd.DataFrame:
    ts = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    out = pd.DataFrame(index=frame.index)
    out[f"{prefix}_hour"] = ts.dt.hour + ts.dt.minute / 60
    out[f"{prefix}_dow"] = ts.dt.dayofweek
    out[f"{prefix}_doy"] = ts.dt.dayofyear
    out[f"{prefix}_year"] = ts.dt.year
    return out


def _extra_flights(frame: pd.DataFrame) -> pd.DataFrame:
    date = pd.to_datetime(dict(year=frame["year"], month=frame["month"], day=frame["day"]))
    out = frame.drop(columns=["time_hour", "year"]).copy()
    out["doy"] = date.dt.dayofyear
    out["dow"] = date.dt.dayofweek
    out["dep_min"] = (frame["sched_dep_time"] // 100) * 60 + frame["sched_dep_time"] % 100
    out["day_hour"] = out["doy"] * 24 + frame["hour"]
    return out


def _extra_elec(frame: pd.DataFrame) -> pd.DataFrame:
    cal = _calendar(frame, "timestamp", "t")
    out = frame.drop(columns=["timestamp"]).copy()
    out = pd.concat([out, cal.drop(columns=["t_year"])], axis=1)
    out["temp2"] = frame["temperature"] ** 2
    out["hour_work"] = out["t_hour"] + 24 * frame["workday"]
    return out


def _extra_ames(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out["total_sf"] = frame["Total_Bsmt_SF"] + frame["Gr_Liv_Area"]
    out["age"] = frame["Year_Sold"] - frame["Year_Built"]
    return out


def _extra_diamonds(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out["volume"] = frame["x"] * frame["y"] * frame["z"]
    out["log_carat"] = np.log(frame["carat"])
    return out


EXTRA: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
    "flights-delay": _extra_flights,
    "elec-demand": _extra_elec,
    "ames-housing": _extra_ames,
    "diamonds": _extra_diamonds,
}


def tabular_features(spec: TaskSpec, train: pd.DataFrame, test: pd.DataFrame) -> Features:
    drop = [spec.id_column, spec.target]
    X_tr, X_te = train.drop(columns=drop), test.drop(columns=[spec.id_column])
    extra = EXTRA.get(spec.id)
    if extra:
        X_tr, X_te = extra(X_tr), extra(X_te)
    num = [c for c in X_tr.columns if X_tr[c].dtype.kind in "ifb"]
    cat = [c for c in X_tr.columns if c not in num]
    med = X_tr[num].median()
    n_tr, n_te = X_tr[num].fillna(med).to_numpy(float), X_te[num].fillna(med).to_numpy(float)
    tree_tr, tree_te, lin_tr, lin_te = [n_tr], [n_te], [], []
    mu, sd = n_tr.mean(0), n_tr.std(0) + 1e-9
    lin_tr.append((n_tr - mu) / sd)
    lin_te.append((n_te - mu) / sd)
    for c in cat:
        v_tr, v_te = X_tr[c].fillna("NA").astype(str).to_numpy(), X_te[c].fillna("NA").astype(str).to_numpy()
        levels = pd.Index(sorted(set(v_tr)))
        tree_tr.append(levels.get_indexer(v_tr).astype(float)[:, None])
        tree_te.append(levels.get_indexer(v_te).astype(float)[:, None])
        top = pd.Series(v_tr).value_counts().index[:40].to_numpy()
        lin_tr.append((v_tr[:, None] == top[None, :]).astype(float))
        lin_te.append((v_te[:, None] == top[None, :]).astype(float))
    return Features(np.hstack(tree_tr), np.hstack(tree_te), np.hstack(lin_tr), np.hstack(lin_te))


def pixel_features(spec: TaskSpec, train: pd.DataFrame, test: pd.DataFrame) -> Features:
    from sklearn.decomposition import PCA

    cols = [c for c in train.columns if c not in (spec.id_column, spec.target)]
    X_tr, X_te = train[cols].to_numpy(float), test[cols].to_numpy(float)
    scale = X_tr.max() or 1.0
    X_tr, X_te = X_tr / scale, X_te / scale
    pca = PCA(n_components=min(40, X_tr.shape[1]), random_state=0).fit(X_tr)
    return Features(pca.transform(X_tr), pca.transform(X_te), X_tr, X_te)


def _text_stats(frame: pd.DataFrame) -> pd.DataFrame:
    text = frame["text"].astype(str)
    out = pd.DataFrame(index=frame.index)
    out["length"] = text.str.len()
    out["words"] = text.str.count(" ") + 1
    out["link"] = text.str.contains("http").astype(int)
    out["hashtags"] = text.str.count("#")
    out["mentions"] = text.str.count("@")
    out["bang"] = text.str.count("!")
    out["quote"] = text.str.startswith('"').astype(int)
    out["caps"] = text.str.count(r"[A-Z]") / out["length"].clip(lower=1)
    return pd.concat([out, _calendar(frame, "created_at", "t")], axis=1)


def text_features(spec: TaskSpec, train: pd.DataFrame, test: pd.DataFrame) -> Features:
    from sklearn.feature_extraction.text import TfidfVectorizer

    s_tr, s_te = _text_stats(train).to_numpy(float), _text_stats(test).to_numpy(float)
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=20000, sublinear_tf=True, token_pattern=r"[^\s]+")
    t_tr, t_te = vec.fit_transform(train["text"]), vec.transform(test["text"])
    mx = s_tr.max(0) + 1e-9
    lin_tr = sparse.hstack([t_tr, sparse.csr_matrix(s_tr / mx)]).tocsr()
    lin_te = sparse.hstack([t_te, sparse.csr_matrix(np.clip(s_te / mx, 0, None))]).tocsr()
    return Features(s_tr, s_te, lin_tr, lin_te, nonneg=True)


FEATURIZERS = {"tabular": tabular_features, "time-series": tabular_features, "image": pixel_features, "text": text_features}


# ----------------------------------------------------------------------------- population


@dataclass(frozen=True)
class Recipe:
    family: str
    params: tuple[tuple[str, object], ...]
    feat_frac: float
    row_frac: float
    seed: int

    @property
    def name(self) -> str:
        ps = "-".join(f"{k}{v}" for k, v in self.params)
        return f"{self.family}{'-' + ps if ps else ''}-feat{self.feat_frac}-rows{self.row_frac}-s{self.seed}"


GRIDS: dict[str, list[dict]] = {
    "prior": [{}],
    "nb": [{}],
    "linear": [{"C": c} for c in (0.001, 0.01, 0.1, 1.0, 10.0)],
    "knn": [{"k": k} for k in (1, 3, 7, 15, 40, 100)],
    "tree": [{"depth": d} for d in (2, 3, 5, 8, 12, 0)],
    "rf": [{"trees": t, "depth": d} for t in (30, 100) for d in (4, 8, 0)],
    "et": [{"trees": t, "depth": d} for t in (30, 100) for d in (6, 0)],
    "hgb": [{"lr": lr, "it": it, "leaf": leaf} for lr in (0.03, 0.1, 0.3) for it in (50, 200) for leaf in (7, 31)],
    "svm": [{"C": c} for c in (0.3, 3.0, 10.0)],
}
STRONG = {  # always included, full features and rows
    "hgb": {"lr": 0.1, "it": 200, "leaf": 31},
    "rf": {"trees": 100, "depth": 0},
    "et": {"trees": 100, "depth": 0},
    "linear": {"C": 1.0},
    "knn": {"k": 7},
    "svm": {"C": 10.0},
}
ROW_CAPS = {"knn": 6_000, "svm": 3_000, "rf": 8_000, "et": 8_000, "tree": 40_000, "hgb": 40_000, "linear": 40_000}


def draw_population(n: int, modality: str, seed: int) -> list[Recipe]:
    families = [f for f in GRIDS if f != "svm" or modality == "image"]
    rng = np.random.default_rng(seed)
    recipes: list[Recipe] = []
    seen: set[str] = set()

    def add(r: Recipe) -> None:
        if r.name not in seen:
            seen.add(r.name)
            recipes.append(r)

    for fam, params in STRONG.items():
        if fam in families:
            for s in (0, 1):
                add(Recipe(fam, tuple(params.items()), 1.0, 1.0, s))
    for fam in ("prior", "nb"):
        add(Recipe(fam, (), 1.0, 1.0, 0))
    weights = np.array([{"prior": 0.2, "nb": 0.5, "hgb": 2.0, "rf": 1.2, "et": 1.0}.get(f, 1.0) for f in families])
    while len(recipes) < n:
        fam = families[rng.choice(len(families), p=weights / weights.sum())]
        grid = GRIDS[fam]
        params = grid[rng.integers(len(grid))]
        feat = float(rng.choice([0.3, 0.6, 1.0, 1.0, 1.0, 1.0]))
        rows = float(rng.choice([0.05, 0.1, 0.25, 0.5, 1.0, 1.0, 1.0, 1.0]))
        add(Recipe(fam, tuple(params.items()), feat, rows, int(rng.integers(100))))
    return recipes[:n]


def _model(recipe: Recipe, task_kind: str, nonneg: bool):
    """The scikit-learn estimator a recipe names (a classifier unless the metric scores values)."""
    from sklearn import dummy, ensemble, linear_model, naive_bayes, neighbors, svm, tree

    p, s, clf = dict(recipe.params), recipe.seed, task_kind != "value"
    fam = recipe.family
    depth = (p.get("depth") or None) if "depth" in p else None
    if fam == "prior":
        return dummy.DummyClassifier(strategy="prior") if clf else dummy.DummyRegressor(strategy="mean")
    if fam == "nb":
        if clf:
            return naive_bayes.MultinomialNB(alpha=0.3) if nonneg else naive_bayes.GaussianNB()
        return linear_model.BayesianRidge()
    if fam == "linear":
        if clf:
            return linear_model.LogisticRegression(C=p["C"], max_iter=300)
        return linear_model.Ridge(alpha=1.0 / p["C"])
    if fam == "knn":
        kind = neighbors.KNeighborsClassifier if clf else neighbors.KNeighborsRegressor
        return kind(n_neighbors=p["k"], weights="distance" if s % 2 else "uniform")
    if fam == "tree":
        kind = tree.DecisionTreeClassifier if clf else tree.DecisionTreeRegressor
        return kind(max_depth=depth, min_samples_leaf=1 + s % 5, random_state=s)
    if fam in ("rf", "et"):
        if fam == "rf":
            kind = ensemble.RandomForestClassifier if clf else ensemble.RandomForestRegressor
        else:
            kind = ensemble.ExtraTreesClassifier if clf else ensemble.ExtraTreesRegressor
        return kind(n_estimators=p["trees"], max_depth=depth, min_samples_leaf=1 + s % 3, max_features="sqrt" if clf else 0.5, n_jobs=1, random_state=s)
    if fam == "hgb":
        kind = ensemble.HistGradientBoostingClassifier if clf else ensemble.HistGradientBoostingRegressor
        return kind(learning_rate=p["lr"], max_iter=p["it"], max_leaf_nodes=p["leaf"], early_stopping=False, random_state=s)
    if fam == "svm":
        return svm.SVC(C=p["C"], gamma="scale", probability=task_kind == "probability", random_state=s) if clf else svm.SVR(C=p["C"])
    raise ValueError(fam)


USES_LIN = {"nb", "linear", "knn", "svm", "prior"}


def run_recipe(recipe: Recipe, spec: TaskSpec, feats: Features, y: pd.Series, test_ids: pd.Series, answers: pd.DataFrame) -> float | None:
    """Fit one reference solution on train, grade its test predictions; None when it fails or is invalid."""
    rng = np.random.default_rng(recipe.seed)
    lin = recipe.family in USES_LIN
    X_tr, X_te = (feats.lin_train, feats.lin_test) if lin else (feats.tree_train, feats.tree_test)
    n_cols = X_tr.shape[1]
    k = max(1, int(round(recipe.feat_frac * n_cols)))
    cols = np.sort(rng.choice(n_cols, size=k, replace=False)) if k < n_cols else np.arange(n_cols)
    n_rows = len(y)
    m = min(int(recipe.row_frac * n_rows), ROW_CAPS.get(recipe.family, n_rows))
    m = max(m, min(n_rows, 50))
    rows = np.sort(rng.choice(n_rows, size=m, replace=False)) if m < n_rows else np.arange(n_rows)
    X_fit, X_pred = X_tr[rows][:, cols], X_te[:, cols]
    y_fit = y.to_numpy()[rows]
    kind = spec.metric.kind
    classes = list(spec.prediction_columns) if len(spec.prediction_columns) > 1 else None
    log_target = kind == "value" and spec.metric_name == "rmsle" or (kind == "value" and recipe.seed % 2 == 0 and y.min() > 0)
    if recipe.family == "nb" and not feats.nonneg and sparse.issparse(X_fit):
        X_fit, X_pred = X_fit.toarray(), X_pred.toarray()  # Gaussian naive Bayes needs dense input
    model = _model(recipe, kind, feats.nonneg)
    if kind == "value":
        target = np.log1p(y_fit) if log_target else y_fit
        model.fit(X_fit, target)
        pred = model.predict(X_pred)
        pred = np.expm1(pred) if log_target else pred
        if spec.metric_name == "rmsle":
            pred = np.clip(pred, 0, None)
        sub = pd.DataFrame({spec.id_column: test_ids, spec.target: pred})
    else:
        if kind == "probability" and classes:
            y_fit = y_fit.astype(str)
        if len(np.unique(y_fit)) < 2:
            return None
        model.fit(X_fit, y_fit)
        sub = pd.DataFrame({spec.id_column: test_ids})
        if kind == "probability":
            proba = model.predict_proba(X_pred)
            fitted = [str(c) for c in model.classes_]
            if classes:
                for c in classes:
                    sub[c] = proba[:, fitted.index(c)] if c in fitted else 0.0
            else:
                sub[spec.target] = proba[:, fitted.index("1")] if "1" in fitted else proba[:, -1]
        else:
            labels = model.predict(X_pred)
            if hasattr(model, "predict_proba") and len(model.classes_) == 2 and recipe.seed % 3 == 0:
                # threshold variants for imbalanced binary labels: predict the minority class more often
                proba = model.predict_proba(X_pred)
                minority = pd.Series(y_fit).value_counts().index[-1]
                j = list(model.classes_).index(minority)
                thr = (0.2, 0.3, 0.4)[recipe.seed % 9 // 3]
                labels = np.where(proba[:, j] >= thr, minority, model.classes_[1 - j])
            sub[spec.target] = labels
    result = grade(spec, sub, answers)
    return result.score if result.valid else None


# ----------------------------------------------------------------------------- baseline


def run_baseline(task: PreparedTask, timeout: float | None = None) -> tuple[float | None, float | None, float]:
    """Run ``baseline.py`` as an agent's ``solution.py`` in a temporary workspace: (dev score, test score, seconds)."""
    spec = task.spec
    with tempfile.TemporaryDirectory(prefix=f"gome-{spec.id}-") as tmp:
        ws = Path(tmp)
        (ws / "data").symlink_to(task.public, target_is_directory=True)
        (ws / "solution.py").write_text(spec.baseline_source)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "solution.py"], cwd=ws, check=True, timeout=timeout or spec.baseline_timeout_s,
            capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "2"},
        )
        seconds = time.perf_counter() - start
        dev = grade_file(spec, ws / "submission" / "dev.csv", task.answers("dev"))
        test = grade_file(spec, ws / "submission" / "test.csv", task.answers("test"))
    return dev.score, test.score, seconds


# ----------------------------------------------------------------------------- driver


def build(task_id: str, n: int, seed: int, check_only: bool = False) -> dict:
    spec = load_spec(task_id)
    task = prepare(spec)
    start = time.perf_counter()
    if not check_only:
        train = pd.read_csv(task.public / "train.csv")
        test = pd.read_csv(task.public / "test.csv")
        answers = task.answers("test")
        feats = FEATURIZERS[spec.modality](spec, train, test)
        y = train[spec.target]
        rows = []
        for recipe in draw_population(n, spec.modality, seed):
            t0 = time.perf_counter()
            try:
                score = run_recipe(recipe, spec, feats, y, test[spec.id_column], answers)
            except Exception as exc:  # noqa: BLE001 - a failed recipe is skipped, and said so
                print(f"  {task_id}: {recipe.name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
                score = None
            if score is not None:
                rows.append({"team": recipe.name, "score": score, "_s": time.perf_counter() - t0})
        board = pd.DataFrame(rows).sort_values("score", ascending=not spec.higher_is_better, kind="stable")
        board[["team", "score"]].to_csv(spec.leaderboard_path, index=False)
        slowest = board.nlargest(3, "_s")[["team", "_s"]].round(1).to_dict("records")
        print(f"  {task_id}: slowest {slowest}", file=sys.stderr)
    leaderboard = Leaderboard.from_csv(spec.leaderboard_path, spec.higher_is_better)
    th = leaderboard.thresholds
    _, base_test, base_s = run_baseline(task)
    best = max(leaderboard.scores) if spec.higher_is_better else min(leaderboard.scores)
    base_rank = leaderboard.rank(base_test)
    ok = base_rank["medal"] == "none" and leaderboard.rank(best)["gold"]
    return {
        "task": task_id, "metric": spec.metric_name, "n": len(leaderboard.scores), "best": best,
        "gold": th.gold, "silver": th.silver, "bronze": th.bronze, "median": th.median,
        "baseline": base_test, "baseline_medal": base_rank["medal"], "baseline_s": round(base_s, 1),
        "build_s": round(time.perf_counter() - start, 1), "ok": ok,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="*", default=None, help="task ids (default: every task under envs/)")
    parser.add_argument("--n", type=int, default=120, help="reference solutions per task (at least 100; default 120)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the population draw (default 0)")
    parser.add_argument("--check-only", action="store_true", help="do not rebuild; check the committed leaderboards")
    args = parser.parse_args(argv)
    if args.n < 100 and not args.check_only:
        parser.error("--n must be at least 100")
    rows = []
    for task_id in args.tasks or task_ids():
        print(f"building {task_id} ...", file=sys.stderr, flush=True)
        rows.append(build(task_id, args.n, args.seed, args.check_only))
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(table.to_string(index=False))
    bad = table.loc[~table["ok"], "task"].tolist()
    if bad:
        print(f"FAILED checks (baseline medalled or best reference not gold): {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
