"""final_refit: the submitted solution runs again with the dev rows back in train."""

from __future__ import annotations

import shutil

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest

import gome_env  # noqa: F401 - registers gome/mlebench-v0
import mlebench_fixtures as fixtures
from helpers import edit

TAXI = "new-york-city-taxi-fare-prediction"

# Predicts the number of labelled rows it was given: the refit sees the dev rows too.
COUNT_ROWS = '''
from pathlib import Path

import pandas as pd

n = len(pd.read_csv("data/labels.csv"))
Path("submission").mkdir(exist_ok=True)
for split, name in (("dev", "sample_submission_dev.csv"), ("test", "sample_submission.csv")):
    frame = pd.read_csv(f"data/{name}")
    frame["fare_amount"] = float(n)
    frame.to_csv(f"submission/{split}.csv", index=False)
'''


@pytest.fixture(scope="module")
def taxi(tmp_path_factory):
    return fixtures.build(tmp_path_factory.mktemp("mle-refit"), ids={TAXI})


def _episode(taxi, tmp_path, **kwargs):
    data, registry = taxi
    env = gym.make("gome/mlebench-v0", competition_dir=str(data / TAXI), registry=str(registry), max_steps=3,
                   workdir=tmp_path / "w", **kwargs)
    try:
        env.reset(seed=0)
        _, _, _, _, info = env.step(edit(env, lambda _: COUNT_ROWS))
        assert info["diagnostics"]["status"] == "ok", info["diagnostics"]
        _, _, _, _, info = env.step("submit 1")
        return env.unwrapped, info["final"]
    finally:
        env.close()


def test_refit_uses_every_labelled_row(taxi, tmp_path):
    env, final = _episode(taxi, tmp_path, final_refit=True)
    answers = env.prepared.answers("test")["fare_amount"].to_numpy()
    n_train, n_dev = env.prepared.sizes()["train"], env.prepared.sizes()["dev"]

    def rmse(value):
        return round(float(np.sqrt(np.mean((answers - value) ** 2))), 5)

    assert final["test_score"] == rmse(n_train)  # the episode's own run: train rows only
    refit = final["refit"]
    assert refit["status"] == "ok" and refit["node_id"] == 1
    assert refit["test_score"] == rmse(n_train + n_dev) != final["test_score"]
    assert refit["medal"] in {"gold", "silver", "bronze", "none"}
    labels = pd.read_csv(env.prepared.root / "refit" / "labels.csv")
    assert len(labels) == n_train + n_dev  # as MLE-bench published it
    private = {p.stat().st_ino for p in env.prepared.private.iterdir()}
    refit_files = list((env.prepared.root / "refit").rglob("*"))
    assert not private & {p.stat().st_ino for p in refit_files}  # no private answer reaches the refit data
    assert refit["data"].endswith("refit")


def test_no_refit_by_default(taxi, tmp_path, monkeypatch):
    monkeypatch.setenv("GOME_DATA_DIR", str(tmp_path / "cache"))  # a fresh preparation
    env, final = _episode(taxi, tmp_path)
    assert "refit" not in final
    assert not (env.prepared.root / "refit").exists()  # laid out only when a refit needs it


def test_a_missing_competition_folder_is_a_status(taxi, tmp_path):
    data, registry = taxi
    moved = tmp_path / "copy" / TAXI
    shutil.copytree(data / TAXI, moved)
    env = gym.make("gome/mlebench-v0", competition_dir=str(moved), registry=str(registry), max_steps=2,
                   workdir=tmp_path / "w", final_refit=True)
    try:
        env.reset(seed=0)
        shutil.rmtree(moved)  # gone before the refit needs it
        _, _, terminated, _, info = env.step("submit")
        assert terminated and info["final"]["refit"]["status"] == "runtime_error"
        assert "refit data" in info["final"]["refit"]["reason"] and info["final"]["valid_submission"]
    finally:
        env.close()
