"""Split scikit-learn's bundled 8x8 digits (1,797 images) into train/dev/test (60/20/20)."""

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits


def split(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    data = load_digits()
    frame = pd.DataFrame(data.data.astype(int), columns=[f"p{i}" for i in range(64)])
    frame.insert(0, "label", data.target.astype(int))
    order = np.random.default_rng(seed).permutation(len(frame))
    frame = frame.iloc[order].reset_index(drop=True)
    frame.insert(0, "id", np.arange(len(frame)))
    n_test = n_dev = round(0.2 * len(frame))
    return frame.iloc[n_test + n_dev :], frame.iloc[n_test : n_test + n_dev], frame.iloc[:n_test]
