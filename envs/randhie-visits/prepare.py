"""RAND Health Insurance Experiment (statsmodels ``randhie``): 20,190 person-years, count of outpatient visits. 60/20/20.

The data are a panel (one row per person and year) with no person id, and the nine features are
person-level: a person's years share one feature vector. The split is therefore grouped by the
whole feature vector (every identical vector on one side), so that no test row's features appear
in train and a lookup table of visits per vector cannot stand in for a model.
"""

import numpy as np
import pandas as pd
from statsmodels.datasets import randhie


def split(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    frame = randhie.load_pandas().data.copy()
    frame["mdvis"] = frame["mdvis"].astype(int)
    for col in ("idp", "hlthg", "hlthf", "hlthp"):
        frame[col] = frame[col].astype(int)
    for col in ("lncoins", "lpi", "fmde", "physlm", "disea"):
        frame[col] = frame[col].astype(float).round(6)
    features = [c for c in frame.columns if c != "mdvis"]
    group = frame.groupby(features, sort=True).ngroup().to_numpy()
    rng = np.random.default_rng(seed)
    order = rng.permutation(group.max() + 1)  # groups in a random order; rows within a group in a random order
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    frame = frame.iloc[np.lexsort((rng.random(len(frame)), rank[group]))].reset_index(drop=True)
    frame.insert(0, "id", np.arange(len(frame)))
    group_sizes = frame.groupby(features, sort=False).size().to_numpy()  # in order of first appearance
    ends = np.cumsum(group_sizes)
    n_test = int(ends[np.searchsorted(ends, 0.2 * len(frame))])  # whole groups: at least 20% of the rows
    n_dev = int(ends[np.searchsorted(ends, n_test + 0.2 * len(frame))]) - n_test
    return frame.iloc[n_test + n_dev :], frame.iloc[n_test : n_test + n_dev], frame.iloc[:n_test]
