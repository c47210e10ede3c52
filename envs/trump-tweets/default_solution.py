"""Default solution for trump-tweets (a competent ten-minute entry, not tuned): TF-IDF of the tweet's
words and logistic regression with default settings.

It follows the solution contract (reads data/, writes submission/dev.csv and submission/test.csv).
tests/test_leaderboards.py runs it through the task's grader: on a leaderboard shaped like a real
competition's it should land near the median, and it must not earn silver or gold.
"""

from pathlib import Path

import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

train, dev, test = (pd.read_csv(f"data/{name}.csv") for name in ("train", "dev", "test"))
vectorizer = TfidfVectorizer().fit(train["text"])
model = LogisticRegression().fit(vectorizer.transform(train["text"]), train["android"])

Path("submission").mkdir(exist_ok=True)
for name, frame in (("dev", dev), ("test", test)):
    proba = model.predict_proba(vectorizer.transform(frame["text"]))[:, 1]
    pd.DataFrame({"id": frame["id"], "android": proba}).to_csv(f"submission/{name}.csv", index=False)
