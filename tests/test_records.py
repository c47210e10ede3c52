"""Typed records (Diagnostics, FinalReport, ExecutorStats): read like dicts, serialise with
to_dict(), and stay whole per env in a Gymnasium vector env."""

from __future__ import annotations

import copy
import json
import pickle

import gymnasium as gym
import numpy as np
import pytest

from gome_env.diagnostics import Diagnostics
from gome_env.isolation.executor import ExecutorStats
from gome_env.final import FinalReport
from gome_env.records import jsonable


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
                        submission_exists=True, medal="none", above_median=False, gold=False, silver=False,
                        bronze=False, percentile=0.0)
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
