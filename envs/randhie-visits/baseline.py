"""Baseline: linear regression of log(1 + visits) on the insurance-plan variables only."""

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression

train = pd.read_csv("data/train.csv")
dev = pd.read_csv("data/dev.csv")
test = pd.read_csv("data/test.csv")
features = ["lncoins", "idp", "lpi", "fmde"]

model = LinearRegression().fit(train[features], np.log1p(train["mdvis"]))

Path("submission").mkdir(exist_ok=True)
for name, frame in (("dev", dev), ("test", test)):
    pred = np.clip(np.expm1(model.predict(frame[features])), 0, None)
    pd.DataFrame({"id": frame["id"], "mdvis": pred}).to_csv(f"submission/{name}.csv", index=False)
