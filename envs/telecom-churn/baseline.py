"""Baseline: logistic regression on the numeric columns, default 0.5 threshold."""

from pathlib import Path

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

train = pd.read_csv("data/train.csv")
dev = pd.read_csv("data/dev.csv")
test = pd.read_csv("data/test.csv")
features = [c for c in train.columns if c != "id" and train[c].dtype.kind in "if"]

model = make_pipeline(StandardScaler(), LogisticRegression()).fit(train[features], train["churn"])

Path("submission").mkdir(exist_ok=True)
for name, frame in (("dev", dev), ("test", test)):
    pd.DataFrame({"id": frame["id"], "churn": model.predict(frame[features])}).to_csv(f"submission/{name}.csv", index=False)
