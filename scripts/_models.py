"""The model families of the leaderboard population (``scripts/_population.py``): one constructor
per family name, from a recipe's parameters. scikit-learn's own families, the three boosting
libraries (LightGBM, XGBoost, CatBoost) and a small neural net (scikit-learn's MLP). One thread each."""

from __future__ import annotations

__all__ = ["make_model", "FAMILIES", "SPARSE_OK"]

FAMILIES = ("prior", "nb", "linear", "knn", "tree", "rf", "et", "hgb", "svm", "lgbm", "xgb", "cat", "mlp")
SPARSE_OK = {"linear", "nb", "knn", "lgbm", "xgb", "mlp", "prior"}  # families that take a sparse matrix (text)


def _rounds(p: dict) -> int:
    """Boosting rounds: the fixed count ``it``, or the cap ``cap`` of an entry early-stopped on the dev rows."""
    return p["cap"] if "cap" in p else p["it"]


def _sklearn(fam: str, p: dict, classify: bool, nonneg: bool):
    from sklearn import dummy, ensemble, linear_model, naive_bayes, neighbors, svm, tree

    depth = p.get("depth") or None
    if fam == "prior":
        return dummy.DummyClassifier(strategy="prior") if classify else dummy.DummyRegressor(strategy="mean")
    if fam == "nb":
        if classify:
            return naive_bayes.MultinomialNB(alpha=0.3) if nonneg else naive_bayes.GaussianNB()
        return linear_model.BayesianRidge()
    if fam == "linear":
        if classify:
            return linear_model.LogisticRegression(C=p["C"], max_iter=1000, **({"solver": p["solver"]} if "solver" in p else {}))
        return linear_model.Ridge(alpha=1.0 / p["C"])
    if fam == "knn":
        kind = neighbors.KNeighborsClassifier if classify else neighbors.KNeighborsRegressor
        return kind(n_neighbors=p["k"], weights="distance" if p["w"] == "d" else "uniform", p=p.get("p", 2))
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
        return kind(learning_rate=p["lr"], max_iter=_rounds(p), max_leaf_nodes=p["leaf"], min_samples_leaf=p["msl"],
                    l2_regularization=p["l2"], max_features=p["mf"], early_stopping=False, random_state=0, **extra)
    if fam == "svm":
        return svm.SVC(C=p["C"], gamma="scale", probability=True, random_state=0) if classify else svm.SVR(C=p["C"])
    if fam == "mlp":
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        kind = MLPClassifier if classify else MLPRegressor
        return kind(hidden_layer_sizes=p["h"], alpha=p["a"], learning_rate_init=p.get("lr", 1e-3), max_iter=p.get("ep", 200),
                    early_stopping=True, n_iter_no_change=10, random_state=0)
    raise ValueError(f"unknown family {fam!r}")


def make_model(fam: str, params: dict, classify: bool, nonneg: bool = False):
    """An unfitted estimator of family ``fam`` (see :data:`FAMILIES`)."""
    p = params
    if fam == "lgbm":
        import lightgbm

        kind = lightgbm.LGBMClassifier if classify else lightgbm.LGBMRegressor
        extra = {"objective": "l1"} if p.get("loss") == "mae" else {}
        return kind(learning_rate=p["lr"], n_estimators=_rounds(p), num_leaves=p["leaf"], min_child_samples=p["mcs"],
                    colsample_bytree=p["cs"], subsample=p["ss"], subsample_freq=1 if p["ss"] < 1 else 0, reg_lambda=p["l2"],
                    random_state=0, n_jobs=1, verbose=-1, **extra)
    if fam == "xgb":
        import xgboost

        kind = xgboost.XGBClassifier if classify else xgboost.XGBRegressor
        extra = {"objective": "reg:absoluteerror"} if p.get("loss") == "mae" else {}
        return kind(learning_rate=p["lr"], n_estimators=_rounds(p), max_depth=p["depth"], min_child_weight=p["mcw"],
                    colsample_bytree=p["cs"], subsample=p["ss"], reg_lambda=p["l2"], tree_method="hist",
                    random_state=0, n_jobs=1, verbosity=0, **extra)
    if fam == "cat":
        import catboost

        kind = catboost.CatBoostClassifier if classify else catboost.CatBoostRegressor
        extra = {"loss_function": "MAE"} if p.get("loss") == "mae" else {}
        return kind(learning_rate=p["lr"], iterations=_rounds(p), depth=p["depth"], l2_leaf_reg=p["l2"], random_strength=p.get("rs", 1.0),
                    random_seed=0, thread_count=1, verbose=False, allow_writing_files=False, **extra)
    return _sklearn(fam, p, classify, nonneg)
