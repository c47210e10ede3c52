"""RAND Health Insurance Experiment (statsmodels ``randhie``): 20,190 person-years, count of outpatient visits. 60/20/20."""

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
    order = np.random.default_rng(seed).permutation(len(frame))
    frame = frame.iloc[order].reset_index(drop=True)
    frame.insert(0, "id", np.arange(len(frame)))
    n_test = n_dev = round(0.2 * len(frame))
    return frame.iloc[n_test + n_dev :], frame.iloc[n_test : n_test + n_dev], frame.iloc[:n_test]
