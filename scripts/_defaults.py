"""Every task's ``default_solution.py``, rendered from one template with per-task settings.

The default solution is a competent ten-minute entry: one model family with default settings on
the raw columns (text columns as ordinal codes, a timestamp as calendar fields, a free-text column
as TF-IDF). A solution runs sandboxed and cannot import this project, so the template is rendered
into each task folder (``scripts/build_leaderboards.py --render-defaults``, and by every build);
``tests/test_default_solutions.py`` checks each committed file matches its rendering.

The same template with another model (``render(task, model="lightgbm")``) is the "new user"
check of ``scripts/build_leaderboards.py``: a default-settings model of another family.
"""

from __future__ import annotations

from dataclasses import dataclass
from string import Template

from gome_env.tasks.task import TaskSpec

__all__ = ["DefaultSettings", "SETTINGS", "MODELS", "render", "kind_of", "FILE"]

FILE = "default_solution.py"

MODELS = {
    "hgb": "HistGradientBoosting{Estimator}(random_state=0)",
    "logreg": "LogisticRegression(max_iter=1000)",
    "lightgbm": "lightgbm.LGBM{Estimator}(random_state=0, n_jobs=1, verbose=-1)",
    "random-forest": "RandomForest{Estimator}(random_state=0, n_jobs=1)",
    "catboost": "catboost.CatBoost{Estimator}(random_seed=0, thread_count=1, verbose=False, allow_writing_files=False)",
    "xgboost": "xgboost.XGB{Estimator}(random_state=0, n_jobs=1)",
}
"""Default-settings model families (``{Estimator}``: ``Regressor`` or ``Classifier``); ``logreg``
classifies only (a linear model on TF-IDF is the ten-minute text entry). CatBoost's settings
other than the seed and one thread only silence it (no log, no files). XGBoost classifies classes
coded 0..K-1, so its classifier is wrapped in ``LabelCodes`` (``HELPERS``), as a user would."""

MODEL_NAMES = {"hgb": "HistGradientBoosting{Estimator}", "logreg": "logistic regression",
               "lightgbm": "LightGBM's LGBM{Estimator}", "random-forest": "RandomForest{Estimator}",
               "catboost": "CatBoost's CatBoost{Estimator}", "xgboost": "XGBoost's XGB{Estimator}"}


@dataclass(frozen=True)
class DefaultSettings:
    """What differs between tasks: the model, columns to drop, a timestamp to expand, a free-text column."""

    model: str = "hgb"
    drop: tuple[str, ...] = ()
    timestamp: str | None = None
    text: str | None = None
    note: str = ""


SETTINGS: dict[str, DefaultSettings] = {
    "elec-demand": DefaultSettings(timestamp="timestamp", note=" on calendar fields of the timestamp, temperature and workday"),
    "flights-delay": DefaultSettings(drop=("time_hour",), note=" (time_hour dropped: the same date and hour as year/month/day/hour)"),
    "trump-tweets": DefaultSettings(model="logreg", timestamp="created_at", text="text",
                                    note=" on TF-IDF of the tweet's words and calendar fields of its time"),
}


def kind_of(spec: TaskSpec) -> str:
    """How the submission is written: ``proba``, ``label``, ``value`` or ``log-value`` (a log1p target for RMSLE)."""
    if spec.metric.kind == "value":
        return "log-value" if spec.metric_name == "rmsle" else "value"
    return "label" if spec.metric.kind == "label" else "proba"


TEMPLATE = Template('''"""Default solution for $task (a competent ten-minute entry, not tuned): $model_name with default settings on the raw columns (text columns as ordinal codes)$note.

Rendered from scripts/_defaults.py (one template, per-task settings); edit the template, not this file.
It follows the solution contract (reads data/, writes submission/dev.csv and submission/test.csv).
On the task's leaderboard it should land in the middle, without a medal.
"""

from pathlib import Path

import numpy as np
import pandas as pd
$imports
from scipy import sparse
from sklearn.preprocessing import OrdinalEncoder

TARGET = $target
ID = $id_column
KIND = $kind  # proba | label | value | log-value
DROP = $drop
TIMESTAMP = $timestamp
TEXT = $text

train, dev, test = (pd.read_csv(f"data/{name}.csv") for name in ("train", "dev", "test"))$helpers


def columns(frame: pd.DataFrame) -> pd.DataFrame:
    X = frame.drop(columns=[ID, TARGET, *DROP, *([TEXT] if TEXT else [])], errors="ignore")
    if TIMESTAMP:
        stamp = pd.to_datetime(X.pop(TIMESTAMP), utc=True, format="ISO8601")
        X["hour"] = stamp.dt.hour + stamp.dt.minute / 60
        X["dayofweek"] = stamp.dt.dayofweek
        X["month"] = stamp.dt.month
    return X


X_train = columns(train)
codes = [c for c in X_train.columns if not pd.api.types.is_numeric_dtype(X_train[c])]
encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1).fit(X_train[codes].astype(str)) if codes else None
vectorizer = TfidfVectorizer().fit(train[TEXT]) if TEXT else None
numbers = X_train.drop(columns=codes).astype(float)
center, scale = numbers.mean(), numbers.std().replace(0, 1)  # beside TF-IDF, the other columns are standardised


def matrix(frame: pd.DataFrame):
    X = columns(frame)
    if encoder is not None:
        X[codes] = encoder.transform(X[codes].astype(str))
    if vectorizer is not None:
        X = (X.astype(float) - center.reindex(X.columns, fill_value=0)) / scale.reindex(X.columns, fill_value=1)
        return sparse.hstack([vectorizer.transform(frame[TEXT]), sparse.csr_matrix(X.to_numpy(float))]).tocsr()
    return X


y = train[TARGET]
if KIND in ("value", "log-value"):
    model = $regressor.fit(matrix(train), np.log1p(y) if KIND == "log-value" else y)
else:
    model = $classifier.fit(matrix(train), y)

Path("submission").mkdir(exist_ok=True)
for name, frame in (("dev", dev), ("test", test)):
    X = matrix(frame)
    out = pd.DataFrame({ID: frame[ID]})
    if KIND == "log-value":
        out[TARGET] = np.clip(np.expm1(model.predict(X)), 0, None)
    elif KIND in ("value", "label"):
        out[TARGET] = model.predict(X)
    else:
        proba = model.predict_proba(X)
        if proba.shape[1] == 2:
            out[TARGET] = proba[:, 1]
        else:
            for j, cls in enumerate(model.classes_):
                out[str(cls)] = proba[:, j]
    out.to_csv(f"submission/{name}.csv", index=False)
''')

_IMPORTS = {
    "hgb": "from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor",
    "logreg": "from sklearn.linear_model import LogisticRegression, Ridge",
    "lightgbm": "import lightgbm",
    "random-forest": "from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor",
    "catboost": "import catboost",
    "xgboost": "import xgboost",
}

_LABEL_CODES = '''


class LabelCodes:
    """XGBoost classifies classes coded 0..K-1: fit on the codes, answer in the labels."""

    def __init__(self, model):
        self.model = model

    def fit(self, X, y):
        self.classes_, codes = np.unique(y, return_inverse=True)
        self.model.fit(X, codes)
        return self

    def predict(self, X):
        return self.classes_[self.model.predict(X)]

    def predict_proba(self, X):
        return self.model.predict_proba(X)'''
HELPERS = {"xgboost": (_LABEL_CODES, "LabelCodes({})")}
"""A family's extra code after the data is read, and how its classifier is wrapped in it (no other
family has any, so their renders, the committed default solutions among them, are unchanged)."""


def render(spec: TaskSpec, model: str | None = None) -> str:
    """The task's default solution (``model``: another default-settings family, for the new-user check)."""
    settings = SETTINGS.get(spec.id, DefaultSettings())
    model = model or settings.model
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; valid: {sorted(MODELS)}")
    imports = _IMPORTS[model]
    if settings.text:
        imports += "\nfrom sklearn.feature_extraction.text import TfidfVectorizer"
    is_classifier = spec.metric.kind != "value"
    helpers, wrap = HELPERS.get(model, ("", "{}"))
    regressor = MODELS[model].format(Estimator="Regressor") if model != "logreg" else "Ridge()"
    return TEMPLATE.substitute(
        task=spec.id, model_name=MODEL_NAMES[model].format(Estimator="Classifier" if is_classifier else "Regressor"),
        note=settings.note + (", log1p target for RMSLE" if kind_of(spec) == "log-value" else ""),
        imports=imports, target=repr(spec.target), id_column=repr(spec.id_column), kind=repr(kind_of(spec)),
        drop=repr(tuple(settings.drop)), timestamp=repr(settings.timestamp), text=repr(settings.text),
        regressor=regressor, classifier=wrap.format(MODELS[model].format(Estimator="Classifier")), helpers=helpers,
    )
