"""Typed records (Diagnostics, FinalReport, ExecutorStats, RefitResult, RunFigures): read like
dicts, serialise with to_dict() (as_dict() a deprecated alias), one JSON normaliser, the medal
fields in one type (Rank) that the reports embed, and records stay whole per env in a Gymnasium
vector env."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import pickle
from functools import partial
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from gome_env.diagnostics import Diagnostics
from gome_env.isolation.executor import ExecutorStats
from gome_env.final import FinalReport
from gome_env.grading.medals import Rank
from gome_env.records import jsonable, plain


def _diag(**kwargs) -> Diagnostics:
    return Diagnostics(**{"metric": "accuracy", "sandbox": "subprocess", **kwargs})


def test_diagnostics_read_like_a_dict():
    d = _diag(status="runtime_error", reason="boom", execution={"returncode": 1})
    assert d["status"] == d.status == "runtime_error" and d.get("reason") == "boom" and d.get("nope", 3) == 3
    assert "execution" in d and "sandbox_note" not in d and d.get("sandbox_note") is None  # absent while None
    assert {**d}["reason"] == "boom" and dict(d)["execution"] == {"returncode": 1}
    assert d == {**d.to_dict()} and d == copy.deepcopy(d) and d != _diag()
    with pytest.raises(KeyError):
        d["nope"]
    with pytest.raises(KeyError, match="no field"):
        d["nope"] = 1
    d["reason"] = "changed"
    d.update(status="ok")
    assert (d.status, d.reason) == ("ok", "changed")
    assert pickle.loads(pickle.dumps(d)) == d


def test_json_needs_to_dict_and_says_which_type():
    d = _diag(warnings=[{"category": "UserWarning", "message": "m", "count": 1}])
    assert json.loads(json.dumps(d.to_dict()))["warnings"][0]["count"] == 1
    assert json.loads(json.dumps({"diagnostics": d}, default=jsonable))["diagnostics"]["metric"] == "accuracy"
    with pytest.raises(TypeError, match="Diagnostics"):
        json.dumps(d)


def test_final_report_and_executor_stats_read_like_dicts():
    final = FinalReport(task="t", node_id=3, dev_score=0.5, test_score=None, valid_submission=False,
                        submission_exists=True, rank=Rank())
    assert final["medal"] == "none" and "refit" not in final and len(dict(final)) == len(final)
    final["refit"] = {"status": "ok"}  # an adapter's addition (gome_env.mlebench)
    assert final.to_dict()["refit"] == {"status": "ok"}
    stats = ExecutorStats(mode="cold", cold=2)
    assert stats["cold"] == 2 and stats.to_dict()["limits"]["timeout_s"] > 0
    json.dumps(stats.to_dict())


class _Env(gym.Env):
    """Infos like MLEEnv's: a record whose keys hold None in one env and a dict in another."""

    observation_space = gym.spaces.Discrete(2)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, failed: bool) -> None:
        self.failed = failed

    def reset(self, *, seed=None, options=None):
        return 0, {}

    def step(self, action):
        d = _diag(status="runtime_error", execution=None) if self.failed else _diag(execution={"returncode": 0})
        return 0, 0.0, False, False, {"diagnostics": d, "node_id": 1}


def test_a_vector_env_keeps_each_record_whole():
    vec = gym.vector.SyncVectorEnv([lambda: _Env(False), lambda: _Env(True)])
    vec.reset()
    *_, infos = vec.step(np.array([0, 0]))
    assert [d["status"] for d in infos["diagnostics"]] == ["ok", "runtime_error"]
    assert infos["diagnostics"][0]["execution"] == {"returncode": 0} and infos["diagnostics"][1]["execution"] is None


def test_the_medal_fields_live_in_one_type_that_the_reports_embed():
    from gome_env.mlebench.refit import RefitResult
    from scripts._figures import RUN_COLUMNS, RunFigures

    medal_fields = [f.name for f in dataclasses.fields(Rank)]
    silver = Rank(above_median=True, medal="silver", silver=True, percentile=0.8)
    for record in (FinalReport(task="t", node_id=1, dev_score=0.9, test_score=0.9, valid_submission=True,
                               submission_exists=True, rank=silver),
                   RefitResult(node_id=1, status="ok", test_score=0.9, valid_submission=True, rank=silver),
                   RunFigures(policy="p", model="m", task="t", seed=0, status="ok", rank=silver)):
        declared = {f.name for f in dataclasses.fields(record)}
        assert not declared & set(medal_fields), f"{type(record).__name__} copies medal fields"
        assert record.rank is silver and record.medal == "silver" and record.percentile == 0.8  # read flat
        flat = record.to_dict()
        assert "rank" not in flat and {k: flat[k] for k in medal_fields} == silver.to_dict()
    final = FinalReport(task="t", node_id=1, dev_score=0.9, test_score=0.9, valid_submission=True,
                        submission_exists=True, rank=silver)
    assert final["gold"] is False and final.get("percentile") == 0.8 and "medal" in final
    final["medal"] = "gold"  # an embedded field is set through the outer record; the frozen Rank is replaced
    assert final.rank.medal == "gold" and silver.medal == "silver" and json.loads(json.dumps(final.to_dict()))["medal"] == "gold"
    assert pickle.loads(pickle.dumps(final)) == final and copy.deepcopy(final).medal == "gold"
    # The run table's columns keep their names and order: the rank's fields sit where they were.
    at = RUN_COLUMNS.index("submission_exists")
    assert RUN_COLUMNS[at + 1: at + 7] == ["above_median", "medal", "gold", "silver", "bronze", "percentile"]
    assert RunFigures(policy=None, model=None, task="t", seed=0, status="missing").to_dict()["medal"] is None


def test_one_json_normaliser():
    np = pytest.importorskip("numpy")
    value = {"a": np.float32(0.5), "b": np.arange(2), "p": Path("/x"), "s": {2, 1}, 3: (Rank(),), "n": math.nan}
    out = plain(value)
    assert out["a"] == 0.5 and out["b"] == [0, 1] and out["p"] == "/x" and out["s"] == [1, 2] and out[3][0]["medal"] == "none"
    assert math.isnan(out["n"]) and plain(value, nonfinite=str)["n"] == "nan"
    assert plain(value, nonfinite=lambda _: None)["n"] is None
    assert json.loads(json.dumps({"x": object()}, default=partial(jsonable, unknown=repr)))["x"].startswith("<object")
    with pytest.raises(TypeError, match="object"):
        json.dumps({"x": object()}, default=jsonable)


def test_to_dict_is_the_serialiser_and_as_dict_a_deprecated_alias():
    from gome_env.grading.grader import GradeResult
    from gome_env.patching.diffs import PatchResult

    for record in (_diag(), PatchResult(applied=True), GradeResult(score=1.0, valid=True), Rank()):
        assert isinstance(record.to_dict(), dict)
        with pytest.warns(DeprecationWarning, match="to_dict"):
            assert record.as_dict() == record.to_dict()
