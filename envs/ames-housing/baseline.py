"""Baseline: linear regression of log price on above-ground living area and lot area."""

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression

train = pd.read_csv("data/train.csv")
dev = pd.read_csv("data/dev.csv")
test = pd.read_csv("data/test.csv")
features = ["Gr_Liv_Area", "Lot_Area"]

model = LinearRegression().fit(np.log(train[features]), np.log(train["Sale_Price"]))

Path("submission").mkdir(exist_ok=True)
for name, frame in (("dev", dev), ("test", test)):
    pred = np.exp(model.predict(np.log(frame[features])))
    pd.DataFrame({"id": frame["id"], "Sale_Price": pred}).to_csv(f"submission/{name}.csv", index=False)
