"""Feature matrices for the leaderboard population (``scripts/build_leaderboards.py``).

Built from the public frames only (train with labels; dev and test features): numeric columns as
they are, categorical columns as ordinal codes (tree models) or one-hot columns (linear models,
kNN, naive Bayes), a few task-specific derived columns (calendar fields, sizes, ratios; temperature lags for the
demand series, differences of consecutive readings for the power series), text
statistics and TF-IDF n-grams for tweets, pixels (small images) or PCA components (large ones) for images. Answers are never used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from scipy import sparse

from gome_env.tasks.task import TaskSpec

__all__ = ["Features", "FEATURIZERS", "featurize", "RAW_PIXELS", "SVD_COMPONENTS"]

RAW_PIXELS = 256  # images with at most this many pixels give tree models the raw pixels; larger ones 40 PCA components
SVD_COMPONENTS = 100  # text: XGBoost reads this many components of the TF-IDF n-grams (beside the statistics)


@dataclass
class Features:
    """Train and test matrices in two encodings: ``tree`` (ordinal codes) and ``lin`` (scaled, one-hot/TF-IDF)."""

    tree_train: np.ndarray
    tree_test: np.ndarray
    lin_train: np.ndarray | sparse.csr_matrix
    lin_test: np.ndarray | sparse.csr_matrix
    nonneg: bool = False  # lin matrices are non-negative counts (multinomial naive Bayes applies)
    # Text only: the statistics and SVD_COMPONENTS components of the TF-IDF n-grams, dense, for XGBoost
    # (on 20,000 sparse columns one of its entries took over ten minutes; LightGBM reads them in seconds).
    svd_train: np.ndarray | None = None
    svd_test: np.ndarray | None = None


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
    # Lag features: the temperature of the previous hours and its daily mean, within the frame's own
    # stretch of time (train, and dev + test, are each contiguous; the target is never lagged).
    order = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601").argsort().to_numpy()
    temp = frame["temperature"].iloc[order].reset_index(drop=True)
    lags = pd.DataFrame({f"temp_lag{k}": temp.shift(k).bfill() for k in (1, 2, 4, 8, 48)})
    lags["temp_mean24"] = temp.rolling(48, min_periods=1).mean()
    lags["temp_max24"] = temp.rolling(48, min_periods=1).max()
    lags.index = frame.index[order]
    return pd.concat([out, lags.loc[frame.index]], axis=1)


def _extra_italy(frame: pd.DataFrame) -> pd.DataFrame:
    """Differences of consecutive hourly readings and the shape of the day (a series' lags)."""
    hours = frame[[c for c in frame.columns if c.startswith("h")]].to_numpy(float)
    out = frame.copy()
    diffs = np.diff(hours, axis=1)
    for j in range(diffs.shape[1]):
        out[f"d{j:02d}"] = diffs[:, j]
    out["day_mean"], out["day_std"] = hours.mean(1), hours.std(1)
    out["peak_hour"], out["low_hour"] = hours.argmax(1), hours.argmin(1)
    out["evening_minus_noon"] = hours[:, 17:21].mean(1) - hours[:, 11:15].mean(1)
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
    "italy-power": _extra_italy,
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
    if X_tr.shape[1] <= RAW_PIXELS:  # small images: trees read the pixels, as the default solution does
        return Features(X_tr, X_te, X_tr, X_te)
    pca = PCA(n_components=40, random_state=0).fit(X_tr)  # large ones: 40 components keep the trees affordable
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
    from sklearn.decomposition import TruncatedSVD

    svd = TruncatedSVD(n_components=SVD_COMPONENTS, random_state=0).fit(t_tr)
    return Features(s_tr, s_te, lin_tr, lin_te, nonneg=True, svd_train=np.hstack([s_tr, svd.transform(t_tr)]),
                    svd_test=np.hstack([s_te, svd.transform(t_te)]))


FEATURIZERS = {"tabular": tabular_features, "time-series": tabular_features, "image": pixel_features, "text": text_features}


def featurize(spec: TaskSpec, train: pd.DataFrame, evaluate: pd.DataFrame) -> Features:
    """Features for ``train`` and for ``evaluate`` (the dev rows, then the test rows)."""
    return FEATURIZERS[spec.modality](spec, train, evaluate)
