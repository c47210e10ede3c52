"""A run whose worker process is lost is retried within the same command (``--retries``), each
attempt recorded, only the finishing attempt's steps counted; a run that fails for its own reasons
is not retried there. (The Ray side, a lost node: tests/test_ray_cluster.py.)"""

from __future__ import annotations

import os
import signal
from collections import Counter
from pathlib import Path

import pytest

from scripts._runs import RunStore

FIXTURE_ENVS = Path(__file__).parent / "fixtures" / "envs"
DIE_ONCE = "GOME_TEST_DIE_ONCE"  # a folder: the first run to find no marker there kills its worker


def _diff() -> str:
    from gome_env.patching.diffs import make_diff

    old = (FIXTURE_ENVS / "tiny" / "baseline.py").read_text()
    return make_diff({"solution.py": old}, {"solution.py": "# edited\n" + old})


def dying_policy(model=None, **config):
    """Takes a step, SIGKILLs its own worker process the first time (an out-of-memory kill, say),
    then takes another. It dies holding the step queue's write lock, as a worker killed while it
    streams a step does (the lock is taken here so that the timing is certain)."""
    from policies.base import Policy

    class Dying(Policy):
        name = "dying"
        needs_model = False

        def run(self, episode):
            node = episode.step(_diff(), episode.tree.root.id, kind="replay")
            marker = Path(os.environ[DIE_ONCE]) / "died"
            if not marker.exists():
                marker.touch()
                from scripts import _worker

                _worker._SINK._wlock.acquire()  # fault injection: the queue's lock dies with this process
                os.kill(os.getpid(), signal.SIGKILL)
            episode.step(_diff(), node.id, kind="replay")

    return Dying(model=None, **config)


def raising_policy(model=None, **config):
    """Fails for its own reasons: not a lost worker."""
    from policies.base import Policy

    class Raising(Policy):
        name = "raising"
        needs_model = False

        def run(self, episode):
            raise ValueError("the policy's own bug")

    return Raising(model=None, **config)


@pytest.mark.timeout(300)
def test_a_lost_worker_process_costs_a_retry_and_no_step_twice(tmp_path, monkeypatch, capsys):
    """The retry runs in a rebuilt pool with a step queue of its own: were the dead worker's queue
    (its lock held for good) reused, the new worker could never exit and the command would hang."""
    from scripts import _executors
    from scripts.benchmark import main

    monkeypatch.setattr(_executors, "CLOSE_TIMEOUT_S", 3600.0)  # no rescue by termination: a hang fails the test
    monkeypatch.setenv(DIE_ONCE, str(tmp_path))
    out = tmp_path / "out"
    code = main(["--envs-dir", str(FIXTURE_ENVS), "--tasks", "tiny", "--models", "scripted", "--steps", "2",
                 "--policies", "test_retries:dying_policy,test_retries:raising_policy", "--workers", "2",
                 "--retries", "2", "--out", str(out), "--no-progress"])
    assert code == 0
    assert (tmp_path / "died").exists()  # the worker was killed once
    store = RunStore(out)
    lines = store.run_lines()
    latest = store.latest_runs()
    dying = next(k for k in latest if "dying" in k)
    raising = next(k for k in latest if "raising" in k)
    assert latest[dying]["status"] == "ok" and latest[dying]["n_steps"] == 2
    lost = [line for line in lines if line["lost"]]
    assert lost and all(line["status"] == "failed" and "BrokenProcessPool" in line["error"] for line in lost)
    assert any(line["run_key"] == dying for line in lost)
    # the policy's own failure: recorded once (it may also have been lost with the pool, then retried)
    own = [line for line in lines if line["run_key"] == raising and not line["lost"]]
    assert len(own) == 1 and latest[raising] == own[0] and "the policy's own bug" in own[0]["error"]
    steps = store.steps()
    assert Counter((s["run_key"], s["step"]) for s in steps) == {(dying, 1): 1, (dying, 2): 1}
    assert {s["attempt"] for s in steps} == {latest[dying]["attempt"]}
    assert "1 run(s) failed" in capsys.readouterr().out


def test_retries_are_bounded(tmp_path, monkeypatch):
    from scripts.benchmark import main

    monkeypatch.setenv(DIE_ONCE, str(tmp_path))
    out = tmp_path / "out"
    assert main(["--envs-dir", str(FIXTURE_ENVS), "--tasks", "tiny", "--models", "scripted", "--steps", "2",
                 "--policies", "test_retries:dying_policy", "--workers", "2", "--retries", "0",
                 "--out", str(out), "--no-progress"]) == 0
    [line] = RunStore(out).run_lines()
    assert line["lost"] and line["status"] == "failed" and line["error"].endswith("(not retried: retries spent)")
