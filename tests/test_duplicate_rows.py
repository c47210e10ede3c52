"""Splits with no way around them: a test row whose feature vector also appears in train can be
answered by a lookup table. At most 1% of a task's test rows may repeat a training row's features,
unless the task's ``description.md`` says why its data must repeat (a ``## Repeated rows`` section)."""

from __future__ import annotations

import pandas as pd
import pytest

from gome_env.tasks.task import load_spec, prepare, task_ids

TASKS = task_ids()
MAX_REPEATED = 0.01
SECTION = "## Repeated rows"


def repeated_share(train: pd.DataFrame, test: pd.DataFrame, columns: list[str]) -> float:
    """Share of ``test`` rows whose values in ``columns`` equal some ``train`` row's."""
    def keys(frame: pd.DataFrame) -> pd.Series:
        return pd.util.hash_pandas_object(frame[columns].astype(str), index=False)

    return float(keys(test).isin(set(keys(train))).mean()) if len(test) else 0.0


def test_the_check_finds_a_repeated_row():
    train = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    test = pd.DataFrame({"a": [2, 5], "b": ["y", "y"]})
    assert repeated_share(train, test, ["a", "b"]) == 0.5
    assert repeated_share(train, test, ["b"]) == 1.0


@pytest.mark.parametrize("task_id", TASKS)
def test_test_rows_do_not_repeat_training_rows(task_id):
    task = prepare(task_id)
    spec = task.spec
    train, test = pd.read_csv(task.public / "train.csv"), pd.read_csv(task.public / "test.csv")
    columns = [c for c in test.columns if c != spec.id_column]
    share = repeated_share(train, test, columns)
    if share > MAX_REPEATED:
        description = (spec.folder / "description.md").read_text()
        assert SECTION in description, (
            f"{task_id}: {share:.1%} of test rows have a feature vector that is also in train (limit {MAX_REPEATED:.0%}); "
            f"split with identical vectors on one side, or say why the data must repeat under '{SECTION}' in description.md"
        )
