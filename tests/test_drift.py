"""Pin drift is an error: a prepared task whose data no longer match ``envs/<id>/data.sha256`` stops
the environment and the benchmark, unless drift is allowed (``allow_drift=True``, ``--allow-drift``);
every run line carries the pins' hash. The drifted task is a real one (spam) whose prepare.py now
shuffles with another seed, as a changed dependency would."""

from __future__ import annotations

import shutil
import warnings

import pytest

from gome_env.tasks.pins import DataDriftError, DataDriftWarning, pins_digest, read_pins
from gome_env.tasks.task import load_spec, prepare
from scripts._runs import RunStore


@pytest.fixture()
def drifted(tmp_path, monkeypatch):
    """A copy of the spam task whose split no longer matches its committed pins."""
    envs = tmp_path / "envs"
    shutil.copytree(load_spec("spam").folder, envs / "spam")
    source = (envs / "spam" / "prepare.py").read_text()
    assert "default_rng(seed)" in source
    (envs / "spam" / "prepare.py").write_text(source.replace("default_rng(seed)", "default_rng(seed + 1)"))
    monkeypatch.setenv("GOME_DATA_DIR", str(tmp_path / "data"))
    return envs


def test_drift_raises_unless_allowed_fresh_and_cached(drifted):
    spec = load_spec("spam", drifted)
    with pytest.raises(DataDriftError, match=r"task spam: the prepared data differ .*private/dev.csv.*allow_drift=True"):
        prepare(spec, allow_drift=False)
    # the preparation was published all the same: the cached copy is refused too, without re-preparing
    with pytest.raises(DataDriftError, match="--allow-drift"):
        prepare(spec, allow_drift=False)
    with pytest.warns(DataDriftWarning, match="spam"):
        task = prepare(spec)  # prepare() itself allows drift (the board build re-pins with it)
    assert task.pin_mismatches() and (task.root / "private").stat().st_mode & 0o777 == 0o700


def test_matching_data_pass_silently(tmp_path, monkeypatch):
    monkeypatch.setenv("GOME_DATA_DIR", str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        task = prepare("spam", allow_drift=False)
    assert task.pin_mismatches() == []


def test_pins_digest_names_the_data_not_the_comments(tmp_path):
    folder = tmp_path / "spam"
    shutil.copytree(load_spec("spam").folder, folder)
    spec = load_spec("spam", tmp_path)
    digest = pins_digest(spec)
    assert digest == pins_digest(load_spec("spam")) and len(digest) == 16
    text = spec.pins_path.read_text()
    spec.pins_path.write_text(text.replace("# sha256", "# re-pinned with other package releases; sha256"))
    assert pins_digest(spec) == digest  # a comment is not data
    first = next(iter(read_pins(spec).values()))
    spec.pins_path.write_text(text.replace(first, "0" * 64))
    assert pins_digest(spec) != digest
    spec.pins_path.unlink()
    assert pins_digest(spec) is None


def test_the_environment_refuses_drift_unless_allowed(drifted):
    from gome_env.env import MLEEnv

    spec = load_spec("spam", drifted)
    with pytest.raises(DataDriftError, match="task spam"):
        MLEEnv(spec, max_steps=1)
    with pytest.warns(DataDriftWarning):
        env = MLEEnv(spec, max_steps=1, allow_drift=True)
    try:
        assert env.allow_drift and env.prepared.pin_mismatches()
    finally:
        env.close()


def test_the_benchmark_stops_before_any_run_and_records_the_pins(drifted, tmp_path, capsys):
    from scripts.benchmark import main

    args = ["--envs-dir", str(drifted), "--tasks", "spam", "--models", "scripted", "--policies", "replay",
            "--steps", "1", "--set", "diffs=[]", "--no-progress", "--out", str(tmp_path / "out")]
    with pytest.raises(SystemExit, match="gome-benchmark: task spam: the prepared data differ"):
        main(args)
    assert not (tmp_path / "out" / "runs.jsonl").exists()  # nothing ran

    with pytest.warns(DataDriftWarning):
        assert main([*args, "--allow-drift", "--count-unconfined"]) == 0
    line = RunStore(tmp_path / "out").run_lines()[-1]
    assert line["status"] == "ok", line["error"]
    assert line["config"]["env_config"]["allow_drift"] is True  # a drifted run is a run of its own
    assert line["pins_sha256"] == pins_digest(load_spec("spam", drifted)) and line["data_drift"] > 0
    import pandas as pd

    results = pd.read_csv(tmp_path / "out" / "results.csv")
    assert results.loc[0, "pins_sha256"] == line["pins_sha256"] and results.loc[0, "data_drift"] == line["data_drift"]
