"""Tables from run lines: one row per run, and MLE-bench's figures per policy x model.

MLE-bench convention: each figure (valid submission %, above median %, gold/silver/bronze %,
any medal %) is first a rate over the tasks within one seed, then mean +- SEM over the seeds
(SEM = sample standard deviation / sqrt(number of seeds); undefined, shown blank, with one seed).

A failed run (status "failed": the episode raised or stopped with an error) counts as no valid
submission, no medal, and a normalised score of 0.

Normalised score of a run: ``(test_score - baseline_test_score) / (gold_threshold - baseline_test_score)``
from the run's ``final`` (0 = the task's baseline, 1 = the leaderboard's gold threshold; it is
negative below the baseline and above 1 beyond gold; the direction of the metric cancels out).
Records from before ``final`` carried ``baseline_test_score`` fall back to the baseline's dev score.
A run without a valid submission scores 0.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import pandas as pd

__all__ = [
    "FIGURES", "run_table", "summary_table", "format_summary", "sem", "normalised_score",
    "is_medal", "steps_table",
]

# (column in the run table, label in the printed table)
FIGURES: list[tuple[str, str]] = [
    ("valid_submission", "valid %"),
    ("above_median", "above median %"),
    ("gold", "gold %"),
    ("silver", "silver %"),
    ("bronze", "bronze %"),
    ("any_medal", "any medal %"),
]

MEDALS = ("gold", "silver", "bronze")

RUN_COLUMNS = [
    "policy", "model", "task", "seed", "status", "valid_submission", "submission_exists", "above_median",
    "medal", "gold", "silver", "bronze", "any_medal", "test_score", "dev_score", "normalised_score",
    "steps", "prompt_tokens", "completion_tokens", "wall_s", "stopped_by", "error", "run_key", "run_id",
    "config_hash", "attempt",
]


def sem(values: Iterable[float]) -> float:
    """Standard error of the mean (ddof=1); NaN for fewer than two values."""
    arr = np.asarray([v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))], dtype=float)
    if arr.size < 2:
        return float("nan")
    return float(arr.std(ddof=1) / math.sqrt(arr.size))


def is_medal(final: dict | None) -> bool:
    """Gold, silver or bronze (``final["medal"]`` is "none" without one)."""
    return bool(final and (final.get("medal") in MEDALS or final.get("gold") or final.get("silver") or final.get("bronze")))


def normalised_score(final: dict | None) -> float:
    """See the module docstring; 0 where there is no valid submission or no span to normalise by."""
    if not final or not final.get("valid_submission") or final.get("test_score") is None:
        return 0.0
    gold = (final.get("thresholds") or {}).get("gold")
    base = final.get("baseline_test_score", final.get("baseline_dev_score"))
    if gold is None or base is None or gold == base:
        return 0.0
    return float((final["test_score"] - base) / (gold - base))


def _num(value) -> float:
    return float(value) if isinstance(value, (int, float)) and value is not None else float("nan")


def run_table(run_lines: Iterable[dict], step_lines: Iterable[dict] | None = None) -> pd.DataFrame:
    """One row per run line (pass the latest line per run key)."""
    tokens: dict[tuple[str, str], list[int]] = {}
    for s in step_lines or ():
        t = tokens.setdefault((s.get("run_key"), s.get("attempt")), [0, 0, 0])
        t[0] += int(s.get("prompt_tokens") or 0)
        t[1] += int(s.get("completion_tokens") or 0)
        t[2] += 1
    rows = []
    for line in run_lines:
        record = line.get("record") or {}
        final = record.get("final") if line.get("status") == "ok" else None
        usage = record.get("usage") or {}
        fallback = tokens.get((line.get("run_key"), line.get("attempt")), [math.nan, math.nan, line.get("n_steps", 0)])
        medal = final.get("medal") if final and final.get("medal") in MEDALS else None
        rows.append({
            "policy": line.get("policy"), "model": line.get("model"), "task": line.get("task"),
            "seed": line.get("seed"), "status": line.get("status"),
            "valid_submission": bool(final and final.get("valid_submission")),
            "submission_exists": bool(final and final.get("submission_exists")),
            "above_median": bool(final and final.get("above_median")),
            "medal": medal,
            "gold": bool(final and (final.get("gold") or medal == "gold")),
            "silver": bool(final and (final.get("silver") or medal == "silver")),
            "bronze": bool(final and (final.get("bronze") or medal == "bronze")),
            "any_medal": is_medal(final),
            "test_score": _num(final.get("test_score")) if final else math.nan,
            "dev_score": _num(final.get("dev_score")) if final else math.nan,
            "normalised_score": normalised_score(final),
            "steps": int(line.get("n_steps") or fallback[2] or 0),
            "prompt_tokens": usage.get("prompt_tokens", fallback[0]),
            "completion_tokens": usage.get("completion_tokens", fallback[1]),
            "wall_s": _num(record.get("wall_s", line.get("worker_wall_s"))),
            "stopped_by": record.get("stopped_by"),
            "error": line.get("error"),
            "run_key": line.get("run_key"), "run_id": line.get("run_id"),
            "config_hash": line.get("config_hash"), "attempt": line.get("attempt"),
        })
    frame = pd.DataFrame(rows, columns=RUN_COLUMNS)
    for col in ("prompt_tokens", "completion_tokens", "test_score", "dev_score", "wall_s", "normalised_score"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    return frame.sort_values(["policy", "model", "task", "seed"], kind="stable").reset_index(drop=True)


def summary_table(runs: pd.DataFrame, by: tuple[str, ...] = ("policy", "model")) -> pd.DataFrame:
    """MLE-bench figures per group: ``<figure>_mean`` and ``<figure>_sem`` in percent, over seeds."""
    by = list(by)
    rows = []
    if runs.empty:
        return pd.DataFrame(columns=[*by, "runs", "seeds", "tasks", "failed"])
    for keys, group in runs.groupby(by, sort=True, dropna=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        per_seed = group.groupby("seed")
        row = dict(zip(by, keys))
        row.update(runs=len(group), seeds=per_seed.ngroups, tasks=group["task"].nunique(),
                   failed=int((group["status"] != "ok").sum()))
        for col, _ in FIGURES:
            rates = per_seed[col].mean() * 100.0
            row[f"{col}_mean"] = float(rates.mean())
            row[f"{col}_sem"] = sem(rates)
        norm = per_seed["normalised_score"].mean()
        row["normalised_score_mean"] = float(norm.mean())
        row["normalised_score_sem"] = sem(norm)
        row["steps_mean"] = float(group["steps"].mean())
        row["tokens_mean"] = float((group["prompt_tokens"].fillna(0) + group["completion_tokens"].fillna(0)).mean())
        row["wall_s_mean"] = float(group["wall_s"].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def _pm(mean: float, err: float, digits: int = 1) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "-"
    if err is None or math.isnan(err):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {err:.{digits}f}"


def format_summary(summary: pd.DataFrame, by: tuple[str, ...] = ("policy", "model")) -> str:
    """The printed table: mean ± SEM over seeds."""
    if summary.empty:
        return "(no finished runs)"
    out = summary[list(by)].copy()
    out["runs"] = summary["runs"]
    out["seeds"] = summary["seeds"]
    out["failed"] = summary["failed"]
    for col, label in FIGURES:
        out[label] = [_pm(m, s) for m, s in zip(summary[f"{col}_mean"], summary[f"{col}_sem"])]
    out["norm. score"] = [_pm(m, s, 3) for m, s in zip(summary["normalised_score_mean"], summary["normalised_score_sem"])]
    out["tokens/run"] = summary["tokens_mean"].round(0).astype("Int64")
    out["wall s/run"] = summary["wall_s_mean"].round(1)
    return out.to_string(index=False)


def steps_table(step_lines: Iterable[dict], run_lines: Iterable[dict]) -> pd.DataFrame:
    """One row per step with cumulative tokens and the run's normalised best dev score so far
    (dev scores normalised with the run's baseline and gold threshold, as the reward is)."""
    finals = {}
    for line in run_lines:
        record = line.get("record") or {}
        finals[(line["run_key"], line["attempt"])] = record.get("final") or {}
    rows = []
    cumulative: dict[tuple, int] = {}
    for s in sorted(step_lines, key=lambda s: (s.get("run_key"), s.get("attempt"), s.get("step", 0))):
        ident = (s.get("run_key"), s.get("attempt"))
        final = finals.get(ident, {})
        used = int(s.get("prompt_tokens") or 0) + int(s.get("completion_tokens") or 0)
        cumulative[ident] = cumulative.get(ident, 0) + used
        best = s.get("best_dev_score")
        gold = (final.get("thresholds") or {}).get("gold")
        base = final.get("baseline_dev_score")
        norm = (best - base) / (gold - base) if None not in (best, gold, base) and gold != base else math.nan
        rows.append({
            "run_key": s.get("run_key"), "policy": s.get("policy"), "model": s.get("model"), "task": s.get("task"),
            "seed": s.get("seed"), "step": s.get("step"), "status": s.get("status"), "kind": s.get("kind"),
            "dev_score": s.get("dev_score"), "best_dev_score": best, "best_normalised": norm,
            "tokens": used, "cumulative_tokens": cumulative[ident],
        })
    return pd.DataFrame(rows)
