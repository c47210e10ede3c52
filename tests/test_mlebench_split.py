"""The dev split's rules, on small frames: groups, caps, repeated ids, chunked CSVs."""

from __future__ import annotations

import pandas as pd
import pytest

import mlebench_fixtures as fixtures
from gome_env.mlebench import LITE, competition_spec, split
from gome_env.mlebench.recipes import LAYOUTS, Recipe
from gome_env.tasks.task import prepare


def test_choose_dev_fraction_cap_and_groups():
    assert split.choose_dev(100, seed=0).sum() == 20
    assert split.choose_dev(100, seed=0, cap=7).sum() == 7
    groups = pd.Series([i // 5 for i in range(100)])
    mask = split.choose_dev(100, seed=1, groups=groups)
    assert mask.sum() % 5 == 0 and 20 <= mask.sum() <= 25
    assert all(len(set(mask[groups == g])) == 1 for g in range(20))  # no group on both sides
    assert (split.choose_dev(100, seed=1, groups=groups) == mask).all()  # deterministic
    with pytest.raises(ValueError, match="at least 2"):
        split.choose_dev(1, seed=0)


def test_repeated_ids_keep_one_dev_row_and_leave_train(tmp_path):
    public_in, public = tmp_path / "in", tmp_path / "out"
    public_in.mkdir()
    public.mkdir()
    frame = pd.DataFrame({"Comment": [f"c{i % 30}" for i in range(60)], "Insult": [i % 2 for i in range(60)]})
    frame.to_csv(public_in / "train.csv", index=False)
    recipe = Recipe("auc", "Comment", "text", test_features=None, features=("Comment",))
    sample = pd.DataFrame({"Comment": ["t"], "Insult": [0]})
    out = split.split_table(recipe, public_in, public, ["Insult"], sample, seed=0)
    dev_ids = list(out.answers["Comment"])
    train = pd.read_csv(public / "train.csv")
    assert len(dev_ids) == len(set(dev_ids)) and not set(dev_ids) & set(train["Comment"])
    assert out.train_rows == len(train)


def test_a_large_csv_is_split_in_chunks(tmp_path, monkeypatch):
    competition = "new-york-city-taxi-fare-prediction"
    data, registry = fixtures.build(tmp_path / "fx", ids={competition})
    whole = prepare(competition_spec(data / competition, registry=registry))
    monkeypatch.setattr(split, "LARGE_CSV_BYTES", 0)
    monkeypatch.setattr(split, "CHUNK_ROWS", 7)
    monkeypatch.setenv("GOME_DATA_DIR", str(tmp_path / "cache"))
    calls = []
    stream = split.stream_split
    monkeypatch.setattr(split, "stream_split", lambda *a, **k: calls.append(a) or stream(*a, **k))
    chunked = prepare(competition_spec(data / competition, registry=registry))
    assert len(calls) == 1
    assert chunked.root != whole.root
    assert chunked.sizes() == whole.sizes()
    assert len(pd.read_csv(chunked.public / "labels.csv")) == chunked.sizes()["train"]
    assert not set(chunked.answers("dev")["key"]) & set(pd.read_csv(chunked.public / "labels.csv")["key"])
    assert list(pd.read_csv(chunked.public / "dev.csv").columns) == list(pd.read_csv(chunked.public / "test.csv").columns)


def test_every_recipe_names_a_known_metric_and_layout():
    from gome_env.grading.metrics import METRICS

    for competition, recipe in LITE.items():
        assert recipe.metric in METRICS and recipe.layout in LAYOUTS and recipe.id, competition
    assert sorted(r.layout for r in LITE.values() if r.layout != "table") == sorted(LAYOUTS[1:])


def test_a_competition_outside_the_lite_split_with_metric(tmp_path):
    data, registry = fixtures.build(tmp_path / "fx", ids={"tabular-playground-series-may-2022"})
    mine = tmp_path / "my-competition"
    (data / "tabular-playground-series-may-2022").rename(mine)
    (registry / "tabular-playground-series-may-2022" / "leaderboard.csv").rename(mine / "leaderboard.csv")
    with pytest.raises(ValueError, match="pass metric=NAME"):
        competition_spec(mine)
    spec = competition_spec(mine, metric="auc")
    prepared = prepare(spec)
    assert spec.id_column == "id" and spec.prediction_columns == ("target",)
    assert list(prepared.answers("test").columns) == ["id", "target"] and prepared.sizes()["dev"] == 10
