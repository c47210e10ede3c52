"""Baseline: Gaussian naive Bayes on the 64 raw pixel intensities."""

from pathlib import Path

import pandas as pd
from sklearn.naive_bayes import GaussianNB

train = pd.read_csv("data/train.csv")
dev = pd.read_csv("data/dev.csv")
test = pd.read_csv("data/test.csv")
features = [c for c in train.columns if c.startswith("p")]

model = GaussianNB().fit(train[features], train["label"])

Path("submission").mkdir(exist_ok=True)
for name, frame in (("dev", dev), ("test", test)):
    out = pd.DataFrame(model.predict_proba(frame[features]), columns=[str(c) for c in model.classes_])
    out.insert(0, "id", frame["id"].to_numpy())
    out.to_csv(f"submission/{name}.csv", index=False)
