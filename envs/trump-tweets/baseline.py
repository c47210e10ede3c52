"""Baseline: logistic regression on three surface features of the tweet (length, link, hashtags)."""

from pathlib import Path

import pandas as pd
from sklearn.linear_model import LogisticRegression

train = pd.read_csv("data/train.csv")
dev = pd.read_csv("data/dev.csv")
test = pd.read_csv("data/test.csv")


def features(frame: pd.DataFrame) -> pd.DataFrame:
    text = frame["text"].astype(str)
    return pd.DataFrame({"length": text.str.len() / 140, "link": text.str.contains("http").astype(int), "hashtags": text.str.count("#")})


model = LogisticRegression().fit(features(train), train["android"])

Path("submission").mkdir(exist_ok=True)
for name, frame in (("dev", dev), ("test", test)):
    proba = model.predict_proba(features(frame))[:, 1]
    pd.DataFrame({"id": frame["id"], "android": proba}).to_csv(f"submission/{name}.csv", index=False)
