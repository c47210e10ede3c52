"""Turn a submission file into a score, validating it first (MLE-bench's grader, in one place)."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gome_env.records import deprecated_as_dict
from gome_env.tasks.task import TaskSpec

__all__ = ["GradeResult", "SCORE_DECIMALS", "answer_ids", "grade", "grade_file", "row_ids", "validate"]

SCORE_DECIMALS = 5


@dataclass
class GradeResult:
    """``score`` is None whenever ``valid`` is False; ``problems`` says why. ``exists`` is False
    only when the submission file was not there at all."""

    score: float | None
    valid: bool
    problems: list[str] = field(default_factory=list)
    submission: pd.DataFrame | None = field(default=None, repr=False, compare=False)  # as read, when readable
    exists: bool = True

    def to_dict(self) -> dict:
        return {"valid": self.valid, "score": self.score, "problems": list(self.problems), "exists": self.exists}

    as_dict = deprecated_as_dict


_ANSWER_IDS: dict[int, tuple[weakref.ref, str, pd.Index]] = {}


def row_ids(frame: pd.DataFrame, column: str) -> pd.Index:
    """A frame's ids as strings (numpy's conversion: far cheaper than pandas' string arrays)."""
    return pd.Index(frame[column].to_numpy().astype(str))


def answer_ids(answers: pd.DataFrame, column: str) -> pd.Index:
    """``row_ids`` of an answers frame, computed once per frame (answers are graded every step)."""
    cached = _ANSWER_IDS.get(id(answers))
    if cached is not None and cached[0]() is answers and cached[1] == column:
        return cached[2]
    ids = row_ids(answers, column)
    _ANSWER_IDS[id(answers)] = (weakref.ref(answers), column, ids)
    for key in [k for k, (ref, _, _) in _ANSWER_IDS.items() if ref() is None]:
        del _ANSWER_IDS[key]
    return ids


def _id_problems(sub_ids: pd.Index, ans_ids: pd.Index) -> list[str]:
    if len(sub_ids) == len(ans_ids) and sub_ids.equals(ans_ids):
        return []  # the common case: the same ids in the same order
    problems = []
    duplicated = int(sub_ids.duplicated().sum())
    if duplicated:
        problems.append(f"{duplicated} duplicated ids")
    sub_set, ans_set = set(sub_ids), set(ans_ids)
    unknown, absent = sorted(sub_set - ans_set), sorted(ans_set - sub_set)
    if unknown:
        problems.append(f"{len(unknown)} ids not in the split, e.g. {unknown[:3]}")
    if absent:
        problems.append(f"{len(absent)} ids missing, e.g. {absent[:3]}")
    return problems


def validate(spec: TaskSpec, submission: pd.DataFrame, answers: pd.DataFrame) -> list[str]:
    """Everything wrong with a submission's shape, ids and values; an empty list means valid."""
    problems: list[str] = []
    idc = spec.id_column
    expected = [idc, *spec.prediction_columns]
    missing = [c for c in expected if c not in submission.columns]
    extra = [c for c in submission.columns if c not in expected]
    if missing:
        problems.append(f"missing columns: {missing}")
    if extra:
        problems.append(f"unexpected columns: {extra}")
    if len(submission) != len(answers):
        problems.append(f"wrong row count: {len(submission)} rows, expected {len(answers)}")
    if idc in submission.columns:
        problems += _id_problems(row_ids(submission, idc), answer_ids(answers, idc))
    for col in spec.prediction_columns:
        if col not in submission.columns:
            continue
        values = submission[col]
        n_nan = int(values.isna().sum())
        if n_nan:
            problems.append(f"column {col!r} has {n_nan} missing values (NaN)")
        if spec.metric.kind in ("probability", "value"):
            numeric = pd.to_numeric(values, errors="coerce")
            bad = int(numeric.isna().sum()) - n_nan
            if bad:
                problems.append(f"column {col!r} has {bad} non-numeric values (dtype {values.dtype})")
            elif not np.all(np.isfinite(numeric.dropna())):
                problems.append(f"column {col!r} has infinite values")
            elif spec.metric.kind == "probability" and ((numeric < 0) | (numeric > 1)).any():
                problems.append(f"column {col!r} has probabilities outside [0, 1]")
    return problems


def grade(spec: TaskSpec, submission: pd.DataFrame, answers: pd.DataFrame) -> GradeResult:
    """Validate, align on ids, score with the task's metric and round to 5 decimals."""
    problems = validate(spec, submission, answers)
    if problems:
        return GradeResult(None, False, problems)
    idc = spec.id_column
    positions = row_ids(submission, idc).get_indexer(answer_ids(answers, idc))  # submission rows in answer order
    sub = submission.iloc[positions].reset_index(drop=True)
    ans = answers.reset_index(drop=True)
    cols = list(spec.prediction_columns)
    y_pred = sub[cols] if len(cols) > 1 else sub[cols[0]]
    targets = list(spec.target_columns)
    y_true = ans[targets] if len(targets) > 1 else ans[targets[0]]
    try:
        if spec.grade_fn is not None:  # a competition's own grader
            score = spec.grade_fn(sub, ans)
            if score is None:
                return GradeResult(None, False, ["the competition's grader rejected the submission"])
            score = float(score)
        else:
            score = spec.metric(y_true, y_pred)
    except Exception as exc:  # noqa: BLE001 - whatever a submission makes a metric raise is its fault
        return GradeResult(None, False, [f"cannot score: {exc}"])
    if not np.isfinite(score):
        return GradeResult(None, False, [f"score is not finite: {score}"])
    return GradeResult(round(score, SCORE_DECIMALS), True, [])


def grade_file(spec: TaskSpec, path: Path, answers: pd.DataFrame, score: bool = True) -> GradeResult:
    """Grade a CSV file; a missing or unreadable file is an invalid submission, not an error.
    ``score=False`` checks validity only (shape, ids, values) and never computes the metric."""
    if not path.exists():
        return GradeResult(None, False, [f"{path.name} was not written"], exists=False)
    try:
        # As the answers are read: only an empty field is missing ("None" or "NA" may be a text label).
        submission = pd.read_csv(path, keep_default_na=False, na_values=[""])
    except Exception as exc:  # noqa: BLE001 - any parse failure is the submission's fault
        return GradeResult(None, False, [f"{path.name} is not a readable CSV: {type(exc).__name__}: {exc}"])
    if not score:
        problems = validate(spec, submission, answers)
        return GradeResult(None, not problems, problems, submission)
    result = grade(spec, submission, answers)
    result.submission = submission
    return result
