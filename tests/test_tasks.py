"""The offline task suite in ``envs/``: coverage, deterministic preparation, no leaks, baselines, leaderboards.

Every task is prepared once per session into a private data folder (shared by the tests below);
each baseline runs once, as an agent's ``solution.py`` would, in a temporary workspace whose
``data/`` links to the task's public files.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from gome_env.grading.grader import grade_file
from gome_env.grading.medals import Leaderboard
from gome_env.tasks.task import PreparedTask, list_tasks, load_spec, prepare, task_ids

os.environ.setdefault("HF_HUB_OFFLINE", "1")

TASKS = task_ids()
SLOW_BASELINES = {"flights-delay", "mnist-5k", "diamonds"}  # the largest data files


@pytest.fixture(scope="session")
def suite_data(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("suite-data")


@pytest.fixture(scope="session")
def prepared(suite_data) -> dict[str, PreparedTask]:
    """Every task prepared once into a session folder, with network connections refused (offline)."""
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network access during task preparation")

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GOME_DATA_DIR", str(suite_data))
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket, "create_connection", refuse)
        return {task_id: prepare(task_id) for task_id in TASKS}


_BASELINE_RUNS: dict[str, dict] = {}


def run_baseline(task: PreparedTask, workspace: Path) -> dict:
    """Run baseline.py as solution.py (cached per task for the session): grades and seconds."""
    if task.spec.id not in _BASELINE_RUNS:
        workspace.mkdir(parents=True)
        (workspace / "data").symlink_to(task.public, target_is_directory=True)
        (workspace / "solution.py").write_text(task.spec.baseline_source)
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "solution.py"], cwd=workspace, capture_output=True, text=True,
            timeout=task.spec.baseline_timeout_s * 3, env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        _BASELINE_RUNS[task.spec.id] = {
            "returncode": proc.returncode,
            "stderr": proc.stderr[-2000:],
            "seconds": time.perf_counter() - start,
            "dev": grade_file(task.spec, workspace / "submission" / "dev.csv", task.answers("dev")),
            "test": grade_file(task.spec, workspace / "submission" / "test.csv", task.answers("test")),
        }
    return _BASELINE_RUNS[task.spec.id]


def _params(slow: set[str]) -> list:
    return [pytest.param(t, marks=pytest.mark.slow) if t in slow else t for t in TASKS]


# ----------------------------------------------------------------------------- the suite as a whole


def test_suite_coverage():
    specs = [load_spec(t) for t in TASKS]
    assert len(specs) >= 12
    assert {s.modality for s in specs} == {"tabular", "image", "text", "time-series"}
    metrics = {s.metric_name for s in specs}
    assert {"auc", "logloss"} <= metrics and metrics & {"accuracy", "macro_f1"}, "binary AUC, log loss and a label metric"
    assert metrics & {"rmse", "rmsle", "mae"}, "a regression task"
    multiclass_logloss = [s for s in specs if s.metric_name == "logloss" and len(s.submission_columns) > 2]
    assert multiclass_logloss, "a multiclass log-loss task"


def test_specs_are_complete():
    for task_id in TASKS:
        spec = load_spec(task_id)
        folder = spec.folder
        for name in ("task.toml", "description.md", "prepare.py", "baseline.py", "leaderboard.csv",
                     "default_solution.py", "reference_gold.py", "data.sha256"):
            assert (folder / name).is_file(), f"{task_id}: {name} is missing"
        text = spec.description
        for heading in ("## Overview", "## Data", "## Evaluation", "## Submission format"):
            assert heading in text, f"{task_id}: description.md lacks {heading!r}"
        assert spec.id_column == "id" and spec.version == 0
        assert 0 < spec.baseline_timeout_s <= 60 and spec.step_timeout_s >= spec.baseline_timeout_s


def test_every_task_is_registered_with_gymnasium():
    import gymnasium as gym

    import gome_env  # noqa: F401 - registers on import

    for task_id in TASKS:
        assert f"gome/{task_id}-v0" in gym.registry


def test_sizes_and_the_large_task(prepared):
    for task_id, task in prepared.items():
        sizes = task.sizes()
        assert sizes["dev"] >= 200 and sizes["test"] >= 200, f"{task_id}: dev/test too small for stable scores"
    assert max(t.sizes()["train"] for t in prepared.values()) > 50_000


def test_imbalanced_task_exists(prepared):
    shares = {}
    for task_id, task in prepared.items():
        if task.spec.metric.kind == "value":
            continue
        y = pd.read_csv(task.public / "train.csv", usecols=[task.spec.target])[task.spec.target]
        shares[task_id] = y.value_counts(normalize=True).min()
    assert min(shares.values()) < 0.2, shares


# ----------------------------------------------------------------------------- preparation


@pytest.mark.parametrize("task_id", TASKS)
def test_preparation_is_deterministic(task_id, prepared, tmp_path, monkeypatch):
    """Preparing again from scratch, elsewhere, writes the same bytes."""
    first = prepared[task_id]
    monkeypatch.setenv("GOME_DATA_DIR", str(tmp_path))
    second = prepare(task_id, force=True)
    files = sorted(p.relative_to(first.root) for p in first.root.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second.root) for p in second.root.rglob("*") if p.is_file())
    for rel in files:
        assert (first.root / rel).read_bytes() == (second.root / rel).read_bytes(), f"{task_id}: {rel} differs"


@pytest.mark.parametrize("task_id", TASKS)
def test_no_private_labels_in_public(task_id, prepared):
    task = prepared[task_id]
    spec = task.spec
    public = {p.name for p in task.public.iterdir()}
    assert public == {"train.csv", "dev.csv", "test.csv", "sample_submission.csv", "sample_submission_dev.csv", "description.md"}
    train = pd.read_csv(task.public / "train.csv")
    assert spec.target in train.columns
    private_bytes = {(task.private / n).read_bytes() for n in ("dev.csv", "test.csv")}
    for split in ("dev", "test"):
        features = pd.read_csv(task.public / f"{split}.csv")
        answers = task.answers(split)
        assert spec.target not in features.columns, f"{task_id}: {split}.csv holds the answers"
        assert list(answers.columns) == [spec.id_column, spec.target]
        assert features[spec.id_column].tolist() == answers[spec.id_column].tolist()
        assert not set(features[spec.id_column]) & set(train[spec.id_column])
        suffix = "" if split == "test" else "_dev"
        sample = pd.read_csv(task.public / f"sample_submission{suffix}.csv")
        assert list(sample.columns) == [spec.id_column, *spec.prediction_columns]
        assert sample[spec.id_column].tolist() == answers[spec.id_column].tolist()
        for col in spec.prediction_columns:
            assert sample[col].nunique() == 1, f"{task_id}: the sample submission must not carry answers"
    for path in task.public.iterdir():
        assert path.read_bytes() not in private_bytes


def test_a_changed_source_is_noticed(prepared, tmp_path, monkeypatch):
    """Editing prepare.py changes the checksum, so the cache is not trusted any more."""
    import shutil

    from gome_env.tasks.task import is_prepared

    src = load_spec("spam").folder
    folder = tmp_path / "envs" / "spam"
    shutil.copytree(src, folder)
    monkeypatch.setenv("GOME_DATA_DIR", str(tmp_path / "data"))
    spec = load_spec("spam", tmp_path / "envs")
    prepare(spec)
    assert is_prepared(spec)
    with open(folder / "prepare.py", "a") as handle:
        handle.write("\n# changed\n")
    assert not is_prepared(load_spec("spam", tmp_path / "envs"))


def test_list_tasks_and_cli(prepared, suite_data, monkeypatch, capsys):
    from gome_env.tasks.cli import main

    monkeypatch.setenv("GOME_DATA_DIR", str(suite_data))
    rows = {r["id"]: r for r in list_tasks()}
    assert set(rows) == set(TASKS)
    for task_id, row in rows.items():
        assert row["prepared"] and row["train"] == prepared[task_id].sizes()["train"]
        assert row["modality"] and row["metric"] and row["direction"] in ("max", "min")
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert all(t in out for t in TASKS) and "modality" in out
    assert main(["prepare", "spam", "--quiet"]) == 0
    assert main(["prepare", "no-such-task", "--quiet"]) == 2


# ----------------------------------------------------------------------------- baselines and leaderboards


@pytest.mark.parametrize("task_id", _params(SLOW_BASELINES))
def test_baseline_is_valid_and_scores_on_dev(task_id, prepared, tmp_path):
    task = prepared[task_id]
    run = run_baseline(task, tmp_path / "ws")
    assert run["returncode"] == 0, run["stderr"]
    for split in ("dev", "test"):
        assert run[split].valid, f"{task_id} {split}: {run[split].problems}"
    assert run["dev"].score is not None
    assert run["seconds"] < task.spec.baseline_timeout_s


@pytest.mark.parametrize("task_id", TASKS)
def test_leaderboard_shape(task_id):
    spec = load_spec(task_id)
    board = pd.read_csv(spec.leaderboard_path)
    assert list(board.columns) == ["team", "score"]
    assert len(board) >= 100 and board["score"].notna().all() and board["team"].is_unique
    scores = board["score"].tolist()
    assert scores == sorted(scores, reverse=spec.higher_is_better), "leaderboards are sorted best-first"
    assert board["score"].nunique() >= 20, "the population should span weak to strong"


@pytest.mark.parametrize("task_id", _params(SLOW_BASELINES))
def test_baseline_earns_no_medal_and_the_best_reference_earns_gold(task_id, prepared, tmp_path):
    task = prepared[task_id]
    board = Leaderboard.from_csv(task.spec.leaderboard_path, task.spec.higher_is_better)
    run = run_baseline(task, tmp_path / "ws")
    assert run["test"].valid
    assert board.rank(run["test"].score)["medal"] == "none", (run["test"].score, board.thresholds)
    best = max(board.scores) if task.spec.higher_is_better else min(board.scores)
    assert board.rank(best)["gold"]
