"""One run's figures, read from its run line: MLE-bench's flags, the rates that mean something,
the bounded scores and the run's cost.

Per run (``RunFigures``):

- MLE-bench's ``submission_exists``, ``valid_submission``, ``above_median``, ``gold``/``silver``/
  ``bronze`` and ``any_medal`` (the medal fields are one embedded ``gome_env.grading.medals.Rank``,
  ``RunFigures.rank``, written as flat columns; ``medal`` is None without a medal). The root baseline is always valid, so ``valid_submission`` says
  little on its own; hence:
- ``made_valid``: the submitted node is not the root and is valid (the policy produced a working
  solution of its own);
- ``improved``: the submitted node is not the root and its test score beats the baseline's test
  score (``gome_env.grading.direction.Direction``; a baseline without a valid test score is beaten by any
  valid submission); False in old records that lack ``baseline_test_score``;
- ``percentile`` (0..1): the share of the leaderboard the submission beats, ties counting half
  (``gome_env.grading.medals.Rank``); 0 without a valid submission; NaN in records from before it existed;
- ``normalised_score``: ``gain(test, baseline_test) / gain(gold, baseline_test)`` (0 = baseline,
  1 = gold, direction cancels out), clipped below at -1; -1 without a valid submission. Where the
  baseline's test score already reaches gold the span is not positive: the score is NaN and
  ``norm_flag`` says ``baseline_at_gold`` (it is not silently 0). Records without
  ``baseline_test_score`` give NaN with ``norm_flag = no_baseline_test`` (dev and test figures
  are never mixed);
- ``dev_minus_test``: the submitted node's dev score minus its test score (metric units), and
  ``dev_test_gap``: the same as a gain in the metric's direction over the baseline-to-gold span
  (> 0: the dev split flattered the submission, the cost of selecting on dev);
- ``norm_vs_default``: the same scale with 0 = the task's default solution's test score (a competent
  ten-minute entry, ``envs/<id>/witnesses.json``, recorded in the run line as ``default_test_score``)
  and 1 = gold, clipped below at -1; -1 without a valid submission; NaN with ``default_flag``
  ``no_default`` (no witnesses for the run's pins) or ``default_at_gold``. Above 0: the run beat the
  default; the figure says by how much of the way to gold;
- ``sandbox``: which sandbox ran the episode's programs, and ``unconfined``: whether they ran where they
  could read the private answers (the run line's ``confinement`` says not confined; records without
  one: a sandbox other than bwrap). bwrap confines; so does the subprocess sandbox of a root env that
  runs them as another user (``run_as``; ``gome_env.isolation.confine``); ``unconfined_why`` says why not;
- ``pins_sha256``: the task's pinned data the run was graded on (``gome_env.tasks.pins.pins_digest``)
  and ``data_drift``: how many prepared files differed from the pins (only with ``--allow-drift``);
- cost: ``model_calls, prompt_tokens, completion_tokens, model_s`` (the record's ``usage``) and
  ``env_s`` (its ``env_seconds``), NaN where the record has none.

A failed run (status "failed") has no submission: every flag False, percentile 0, normalised -1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from gome_env.grading.direction import Direction, is_missing
from gome_env.grading.medals import Rank
from gome_env.records import Embedding, flat_dict, flat_fields

__all__ = ["RunFigures", "RUN_COLUMNS", "run_figures", "normalised_score", "versus_default", "on_scale", "direction_of",
           "is_medal", "root_id", "MEDALS"]

MEDALS = ("gold", "silver", "bronze")
NAN = float("nan")
FLOOR = -1.0


@dataclass(frozen=True)
class RunFigures(Embedding):
    policy: str | None
    model: str | None
    task: str | None
    seed: int | None
    status: str | None
    improved: bool = False
    any_medal: bool = False
    made_valid: bool = False
    valid_submission: bool = False
    submission_exists: bool = False
    rank: Rank = field(default_factory=lambda: Rank(medal=None))  # above_median, medal, gold..bronze, percentile
    normalised_score: float = FLOOR
    norm_flag: str = ""
    test_score: float = NAN
    dev_score: float = NAN
    baseline_test_score: float = NAN
    dev_minus_test: float = NAN
    dev_test_gap: float = NAN
    submitted_node: float = NAN
    norm_vs_default: float = FLOOR
    default_flag: str = ""
    default_test_score: float = NAN
    sandbox: str = ""
    unconfined: bool = False
    unconfined_why: str | None = None
    run_as: str | None = None
    pins_sha256: str | None = None
    data_drift: float = NAN
    steps: int = 0
    model_calls: float = NAN
    prompt_tokens: float = NAN
    completion_tokens: float = NAN
    model_s: float = NAN
    env_s: float = NAN
    wall_s: float = NAN
    stopped_by: str | None = None
    error: str | None = None
    padded: bool = False
    run_key: str | None = None
    run_id: str | None = None
    config_hash: str | None = None
    attempt: str | None = None

    _embedded = ("rank",)

    def to_dict(self) -> dict:
        """One flat row (the rank's fields as columns: :data:`RUN_COLUMNS`)."""
        return flat_dict(self)


RUN_COLUMNS = flat_fields(RunFigures)


def _num(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return NAN
    return float(value)


def is_medal(final: dict | None) -> bool:
    """Gold, silver or bronze (``final["medal"]`` is "none" without one)."""
    return bool(final and (final.get("medal") in MEDALS or final.get("gold") or final.get("silver") or final.get("bronze")))


def direction_of(final: dict, tree: dict | None = None) -> Direction:
    """A run's metric direction, from its ``final`` record (else its tree; higher by default)."""
    hib = final.get("higher_is_better")
    if hib is None:
        hib = (tree or {}).get("higher_is_better", True)
    return Direction(bool(hib))


def on_scale(value: float | None, base: float | None, gold: float | None, d: Direction) -> float:
    """``value`` on the baseline (0) to gold (1) scale, clipped at :data:`FLOOR`; NaN where a
    figure is missing or the baseline already reaches gold (no scale)."""
    if is_missing(value) or is_missing(base) or is_missing(gold):
        return NAN
    span = d.gain(gold, base)
    return max(FLOOR, d.gain(value, base) / span) if span > 0 else NAN


def _span(final: dict, d: Direction) -> tuple[float, str]:
    """The baseline-to-gold gain and a flag ("" when it is usable)."""
    base = final.get("baseline_test_score")
    gold = (final.get("thresholds") or {}).get("gold")
    if is_missing(base):
        return NAN, "no_baseline_test"
    if is_missing(gold):
        return NAN, "no_gold"
    span = d.gain(gold, base)
    return (span, "") if span > 0 else (NAN, "baseline_at_gold")


def normalised_score(final: dict | None, tree: dict | None = None) -> tuple[float, str]:
    """``(score, flag)``: see the module docstring."""
    if not final:
        return FLOOR, ""
    d = direction_of(final, tree)
    span, flag = _span(final, d)
    if not final.get("valid_submission") or is_missing(final.get("test_score")):
        return FLOOR, flag
    if flag:
        return NAN, flag
    return on_scale(final["test_score"], final["baseline_test_score"], final["thresholds"]["gold"], d), ""


def versus_default(final: dict | None, default: float | None, tree: dict | None = None) -> tuple[float, str]:
    """``(score, flag)``: the run's test score with 0 = the default solution's test score ``default``
    and 1 = gold (see the module docstring)."""
    if not final:
        return FLOOR, ""
    d = direction_of(final, tree)
    gold = (final.get("thresholds") or {}).get("gold")
    flag = "no_default" if is_missing(default) else "no_gold" if is_missing(gold) else ""
    if not flag and not d.gain(gold, default) > 0:
        flag = "default_at_gold"
    if not final.get("valid_submission") or is_missing(final.get("test_score")):
        return FLOOR, flag
    if flag:
        return NAN, flag
    return on_scale(final["test_score"], default, gold, d), ""


def _unconfined(line: dict, sandbox: str) -> dict:
    """Whether the run's code ran where it could reach the private answers, why, and the user it ran as."""
    conf = line.get("confinement")
    if isinstance(conf, dict) and "confined" in conf:
        return {"unconfined": not conf["confined"], "run_as": conf.get("user"),
                "unconfined_why": None if conf["confined"] else conf.get("reason")}
    old = sandbox not in ("", "bwrap")  # a record from before confinement was recorded
    return {"unconfined": old, "run_as": None, "unconfined_why": f"{sandbox} sandbox (an older record)" if old else None}


def root_id(tree: dict | None) -> int:
    """The root node's id in a record's tree (0 when the tree is missing)."""
    for node in (tree or {}).get("nodes", []):
        if node.get("parent_id") is None:
            return node.get("id", 0)
    return 0


def _sandbox(final: dict | None, tree: dict | None) -> str:
    if final and final.get("sandbox"):
        return str(final["sandbox"])
    names = {(n.get("diagnostics") or {}).get("sandbox") for n in (tree or {}).get("nodes", [])}
    return "+".join(sorted(n for n in names if n))


def run_figures(line: dict, fallback: tuple[float, float, int] | None = None) -> RunFigures:
    """The figures of one run line; ``fallback`` = (prompt tokens, completion tokens, steps) summed
    from its step lines, for records without ``usage``."""
    record = line.get("record") or {}
    ok = line.get("status") == "ok"
    final = record.get("final") if ok else None
    tree = record.get("tree")
    usage = record.get("usage") or {}
    fb = fallback or (NAN, NAN, line.get("n_steps", 0))
    base = dict(
        policy=line.get("policy"), model=line.get("model"), task=line.get("task"), seed=line.get("seed"),
        status=line.get("status"), sandbox=_sandbox(final or record.get("final"), tree),
        steps=int(line.get("n_steps") or fb[2] or 0),
        model_calls=_num(usage.get("calls")),
        prompt_tokens=_num(usage.get("prompt_tokens", fb[0])),
        completion_tokens=_num(usage.get("completion_tokens", fb[1])),
        model_s=_num(usage.get("seconds")), env_s=_num(record.get("env_seconds")),
        wall_s=_num(record.get("wall_s", line.get("worker_wall_s"))),
        stopped_by=record.get("stopped_by"), error=line.get("error"), pins_sha256=line.get("pins_sha256"),
        data_drift=_num(line.get("data_drift")), default_test_score=_num(line.get("default_test_score")),
        run_key=line.get("run_key"), run_id=line.get("run_id"), config_hash=line.get("config_hash"),
        attempt=line.get("attempt"),
    )
    base.update(_unconfined(line, base["sandbox"]))
    if not final:
        return RunFigures(**base)
    d = direction_of(final, tree)
    valid = bool(final.get("valid_submission")) and not is_missing(final.get("test_score"))
    test, dev = _num(final.get("test_score")), _num(final.get("dev_score"))
    base_test = _num(final.get("baseline_test_score"))
    node = final.get("node_id")
    not_root = node is not None and node != root_id(tree)
    medal = final.get("medal") if final.get("medal") in MEDALS else None
    norm, flag = normalised_score(final, tree)
    vs_default, default_flag = versus_default(final, line.get("default_test_score"), tree)
    span, _ = _span(final, d)
    pct = final.get("percentile")
    gap = d.gain(dev, test) / span if valid and not math.isnan(dev) and not math.isnan(span) else NAN
    return RunFigures(
        **base,
        improved=bool(valid and not_root and "baseline_test_score" in final and d.better(test, base_test)),
        any_medal=valid and is_medal(final),
        made_valid=bool(valid and not_root),
        valid_submission=valid,
        submission_exists=bool(final.get("submission_exists")),
        rank=Rank(
            above_median=bool(valid and final.get("above_median")),
            medal=medal if valid else None,
            gold=bool(valid and (final.get("gold") or medal == "gold")),
            silver=bool(valid and (final.get("silver") or medal == "silver")),
            bronze=bool(valid and (final.get("bronze") or medal == "bronze")),
            percentile=(_num(pct) if pct is not None else NAN) if valid else 0.0,
        ),
        normalised_score=norm, norm_flag=flag, norm_vs_default=vs_default, default_flag=default_flag,
        test_score=test, dev_score=dev, baseline_test_score=base_test,
        dev_minus_test=dev - test if valid else NAN, dev_test_gap=gap,
        submitted_node=_num(node),
    )
