"""Witnesses (``envs/<id>/witnesses.json``): the default solution's and the gold reference's test
scores, used only while they were measured on the task's current pins."""

from __future__ import annotations

import json
import shutil

import pytest

from gome_env.grading.direction import Direction
from gome_env.grading.medals import Leaderboard
from gome_env.tasks.pins import pins_digest, read_pins
from gome_env.tasks.task import load_spec, task_ids
from gome_env.tasks.witnesses import WITNESSES_FILE, current_witnesses, read_witnesses, solutions_digest, write_witnesses


def test_written_witnesses_hold_until_the_pins_or_the_solutions_change(tmp_path):
    shutil.copytree(load_spec("digits").folder, tmp_path / "digits")
    spec = load_spec("digits", tmp_path)
    (tmp_path / "digits" / WITNESSES_FILE).unlink(missing_ok=True)
    assert read_witnesses(spec) is None and current_witnesses(spec) is None
    path = write_witnesses(spec, 0.97, float("nan"))
    saved = json.loads(path.read_text())
    assert saved == {"task": "digits", "default_score": 0.97, "gold_score": None, "pins_sha256": pins_digest(spec),
                     "sources_sha256": solutions_digest(spec)}
    assert current_witnesses(spec).default_score == 0.97
    default = spec.folder / "default_solution.py"
    default.write_text(default.read_text() + "\n# edited\n")  # the default was changed since it was measured
    assert read_witnesses(spec).default_score == 0.97 and current_witnesses(spec) is None
    path = write_witnesses(spec, 0.97, float("nan"))
    assert current_witnesses(spec).default_score == 0.97
    first = next(iter(read_pins(spec).values()))
    spec.pins_path.write_text(spec.pins_path.read_text().replace(first, "0" * 64))  # the board was rebuilt
    assert read_witnesses(spec).default_score == 0.97 and current_witnesses(spec) is None  # stale: not used
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="default_score"):
        read_witnesses(spec)
    path.write_text("{oops")
    with pytest.raises(ValueError, match="not JSON"):
        read_witnesses(spec)


@pytest.mark.parametrize("task_id", task_ids())
def test_committed_witnesses_match_the_pins_and_the_board(task_id):
    """Each committed witnesses.json was measured on the committed pins and solution files, and its default solution sits
    below the board's gold line (else the "vs default" score has no scale)."""
    spec = load_spec(task_id)
    found = read_witnesses(spec)
    if found is None:
        pytest.skip(f"{task_id}: no {WITNESSES_FILE} yet (python -m scripts.write_witnesses --tasks {task_id})")
    assert found.pins_sha256 == pins_digest(spec), (
        f"{task_id}: {WITNESSES_FILE} was measured on other data than {spec.pins_path.name}; rerun "
        f"`python -m scripts.write_witnesses --tasks {task_id}` after rebuilding the board")
    assert found.sources_sha256 == solutions_digest(spec), (
        f"{task_id}: default_solution.py or reference_gold.py changed since {WITNESSES_FILE} was written; rerun "
        f"`python -m scripts.write_witnesses --tasks {task_id}`")
    assert found.default_score is not None and found.gold_score is not None
    gold_line = Leaderboard.from_csv(spec.leaderboard_path, spec.higher_is_better).thresholds.gold
    assert Direction(spec.higher_is_better).gain(gold_line, found.default_score) > 0, (task_id, found)
