"""Baseline: logistic regression on the scheduled departure hour and the month."""

from pathlib import Path

import pandas as pd
from sklearn.linear_model import LogisticRegression

train = pd.read_csv("data/train.csv")
dev = pd.read_csv("data/dev.csv")
test = pd.read_csv("data/test.csv")
features = ["hour", "month"]

model = LogisticRegression().fit(train[features], train["delayed"])

Path("submission").mkdir(exist_ok=True)
for name, frame in (("dev", dev), ("test", test)):
    proba = model.predict_proba(frame[features])[:, 1]
    pd.DataFrame({"id": frame["id"], "delayed": proba}).to_csv(f"submission/{name}.csv", index=False)
