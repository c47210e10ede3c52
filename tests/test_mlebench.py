"""The MLE-bench adapter, end to end on a fixture competition built in MLE-bench's layout."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest

import gome_env  # noqa: F401 - registers gome/mlebench-v0
from gome_env.mlebench import LITE, competition_spec
from helpers import edit

AUTHORS = ["EAP", "HPL", "MWS"]
WORDS = {"EAP": "raven", "HPL": "cthulhu", "MWS": "monster"}

KEYWORD_RULE = '''
import pandas as pd
from pathlib import Path

WORDS = {"EAP": "raven", "HPL": "cthulhu", "MWS": "monster"}
Path("submission").mkdir(exist_ok=True)
for split, source in (("dev", "data/dev.csv"), ("test", "data/test.csv")):
    frame = pd.read_csv(source)
    out = pd.DataFrame({"id": frame["id"]})
    for author, word in WORDS.items():
        out[author] = frame["text"].str.contains(word).map({True: 0.9, False: 0.05})
    out.to_csv(f"submission/{split}.csv", index=False)
'''


@pytest.fixture(scope="module")
def competition(tmp_path_factory):
    """A spooky-author-identification look-alike: text, one-hot answers, multiclass log loss."""
    root = tmp_path_factory.mktemp("mle") / "spooky-author-identification"
    public, private = root / "prepared" / "public", root / "prepared" / "private"
    public.mkdir(parents=True)
    private.mkdir(parents=True)
    rng = np.random.default_rng(0)

    def rows(n, prefix):
        authors = rng.choice(AUTHORS, n)
        text = [f"the {WORDS[a]} said {rng.integers(1000)}" for a in authors]
        return pd.DataFrame({"id": [f"{prefix}{i:05d}" for i in range(n)], "text": text, "author": authors})

    train, test = rows(300, "id"), rows(100, "te")
    train.to_csv(public / "train.csv", index=False)
    test[["id", "text"]].to_csv(public / "test.csv", index=False)
    sample = pd.DataFrame({"id": test["id"], **{a: 1 / 3 for a in AUTHORS}})
    sample.to_csv(public / "sample_submission.csv", index=False)
    (public / "description.md").write_text("# Spooky (fixture)\nPredict the author of each sentence.\n")
    onehot = pd.get_dummies(test["author"]).astype(int)[AUTHORS]
    pd.concat([test[["id"]], onehot], axis=1).to_csv(private / "test.csv", index=False)
    pd.DataFrame({"teamName": [f"t{i}" for i in range(120)], "score": np.linspace(0.05, 1.2, 120)}).to_csv(root / "leaderboard.csv", index=False)
    return root


def test_the_mapping_covers_the_22_lite_competitions():
    assert len(LITE) == 22
    assert {"spooky-author-identification", "aerial-cactus-identification", "new-york-city-taxi-fare-prediction"} <= set(LITE)


def test_spec_reads_the_competition(competition):
    spec = competition_spec(competition)
    assert spec.id == "mlebench-spooky-author-identification"
    assert spec.metric_name == "logloss" and not spec.higher_is_better
    assert spec.id_column == "id" and spec.prediction_columns == tuple(AUTHORS)
    assert spec.target_columns == tuple(AUTHORS)


def test_unknown_competition_needs_a_metric(tmp_path, competition):
    other = tmp_path / "my-own-competition"
    (other / "prepared").mkdir(parents=True)
    for sub in ("public", "private"):
        (other / "prepared" / sub).symlink_to(competition / "prepared" / sub)
    with pytest.raises(ValueError, match="pass metric=NAME"):
        competition_spec(other)


def test_adapter_runs_end_to_end(competition, tmp_path):
    env = gym.make("gome/mlebench-v0", competition_dir=str(competition), max_steps=3, workdir=tmp_path / "w")
    try:
        obs, info = env.reset(seed=0)
        d = info["diagnostics"]
        assert d["status"] == "ok", d
        assert d["dev_score"] == pytest.approx(np.log(3), abs=1e-4)  # the sample submission: uniform
        prepared = env.unwrapped.prepared
        assert len(pd.read_csv(prepared.public / "train.csv")) == 240  # 60 dev rows were split off
        assert len(pd.read_csv(prepared.private / "dev.csv")) == 60
        assert "author" not in (prepared.public / "dev.csv").read_text().splitlines()[0]
        assert not any(p.name == "test.csv" and "EAP" in p.read_text().splitlines()[0] for p in prepared.public.iterdir())
        _, _, _, _, info = env.step(edit(env, lambda s: KEYWORD_RULE))
        d = info["diagnostics"]
        assert d["status"] == "ok", d
        assert d["dev_score"] < 0.2 and d["is_best"]
        _, _, terminated, _, info = env.step("submit")
        final = info["final"]
        assert terminated and final["valid_submission"] and final["test_score"] < 0.2
        assert final["medal"] == "gold"  # lower is better: beats the whole fixture leaderboard
    finally:
        env.close()
