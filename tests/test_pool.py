"""EnvPool: batched branching steps over warm workers (real sandbox, the tiny fixture task)."""

from __future__ import annotations

import math
import os

import pytest

from helpers import improve, wait_until
from gome_env.patching.diffs import make_diff
from gome_env.pool import EnvPool, resolve_task


def _diff(files: dict, transform) -> str:
    return make_diff(files, {**files, "solution.py": transform(files["solution.py"])})


@pytest.fixture
def pool(tiny_spec, tmp_path):
    p = EnvPool(tiny_spec, size=2, workdir=tmp_path / "pool", step_timeout_s=60)
    p.reset(seed=0)
    yield p
    p.close()


def test_step_many_statuses_in_input_order_all_children_of_the_given_node(pool):
    files = pool.files(0)
    actions = [
        (0, _diff(files, improve)),
        (0, "--- a/solution.py\n+++ b/solution.py\n@@ -1,1 +1,1 @@\n-no such line\n+x = 1\n"),
        (0, _diff(files, lambda s: s + "\ndef broken(:\n")),
        (0, _diff(files, lambda s: s + "\nraise ValueError('boom')\n")),
        (0, _diff(files, lambda s: s.replace("{majority}\\n", "{majority},extra\\n"))),
        (99, _diff(files, improve)),
    ]
    results = pool.step_many(actions)
    statuses = [info["diagnostics"]["status"] for _, _, info in results]
    assert statuses == ["ok", "patch_failed", "syntax_error", "runtime_error", "invalid_submission", "patch_failed"]
    assert "no node 99" in results[-1][2]["diagnostics"]["reason"] and results[-1][2]["node_id"] is None
    made = [info["node_id"] for _, _, info in results[:-1]]
    assert made == [1, 2, 3, 4, 5] and len(pool.tree) == 6
    assert all(pool.tree[n].parent_id == 0 for n in made)
    assert [n.id for n in pool.tree.children(0)] == made
    for obs, reward, info in results[:-1]:
        assert obs["node_id"] == info["node_id"] and math.isfinite(reward)
    assert results[0][1] > 0 > results[1][1]  # improvement reward: a gain, and the failed-step penalty
    assert pool.tree[1].dev_score > pool.tree.root.dev_score
    # Branch again from the new node: its children are made there.
    again = pool.step_many([(1, _diff(pool.files(1), lambda s: s + "\nx = 1\n"))])
    assert again[0][2]["parent_id"] == 1 and again[0][2]["diagnostics"]["status"] == "ok"


def test_a_group_is_scored_from_the_same_state_whatever_its_order(pool):
    files = pool.files(0)
    good = _diff(files, improve)
    results = pool.step_many([(0, good), (0, good), (0, _diff(files, lambda s: s + "\n# comment\n"))])
    rewards = [r for _, r, _ in results]
    assert rewards[0] == rewards[1] > rewards[2] == 0.0
    assert [i["diagnostics"]["is_best"] for _, _, i in results] == [True, True, False]
    assert pool.tree.best().id == results[0][2]["node_id"]  # the earliest of equals is the tree's best


def test_ladder_reward_through_the_pool(tiny_spec, tmp_path):
    with EnvPool(tiny_spec, size=2, workdir=tmp_path / "p", reward="ladder") as p:
        p.reset()
        files = p.files(0)
        results = p.step_many([(0, _diff(files, improve)), (0, "not a diff"), (0, _diff(files, lambda s: s + "\nraise SystemExit(3)\n"))])
        rewards = [r for _, r, _ in results]
        assert rewards[1] < rewards[2] < rewards[0]


def test_close_stops_every_worker_and_removes_its_workdirs(tiny_spec):
    p = EnvPool(tiny_spec, size=2)
    p.reset()
    assert p.wait_ready(120)
    p.step_many([(0, _diff(p.files(0), lambda s: s + "\n# a\n")), (0, _diff(p.files(0), lambda s: s + "\n# b\n"))])
    stats = p.executor_status()
    pids = [s.worker_pid for s in stats]
    assert len(set(pids)) == 2 and None not in pids
    assert sum(s.warm + s.cold for s in stats) == 2
    dirs = p.workdirs()
    p.close()
    p.close()  # idempotent

    def gone(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # a zombie not yet reaped counts as gone
            return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            return True

    wait_until(lambda: all(gone(pid) for pid in pids), 30, "the end of the pool's workers")
    assert not any(d.exists() for d in dirs)
    with pytest.raises(RuntimeError, match="closed"):
        p.step_many([(0, "x")])


def test_tasks_are_named_as_the_benchmark_or_gymnasium_names_them():
    assert resolve_task("gome/digits-v0").id == resolve_task("digits").id == "digits"
    with pytest.raises(ValueError, match="unknown task"):
        resolve_task("gome/no-such-task-v0")


def test_the_pool_never_scores_the_test_split(pool, monkeypatch):
    import gome_env.grading.grader as grader

    test_ids = set(pool.env.prepared.answers("test")["id"].astype(str))
    scored = []
    real = grader.grade

    def spy(spec, submission, answers):
        scored.append(set(answers["id"].astype(str)))
        return real(spec, submission, answers)

    monkeypatch.setattr(grader, "grade", spy)
    files = pool.files(0)
    results = pool.step_many([(0, _diff(files, improve)), (0, _diff(files, lambda s: s.replace("{majority}\\n", "{majority},x\\n")))])
    assert [i["diagnostics"]["status"] for _, _, i in results] == ["ok", "invalid_submission"]
    assert "test.csv" in results[1][2]["diagnostics"]["reason"]  # validity of test.csv is still checked
    assert scored and all(ids != test_ids for ids in scored)  # the dev split was scored, the test split never


def test_under_the_subprocess_sandbox_runs_go_one_at_a_time(tiny_spec, tmp_path):
    # The private-answers tripwire cannot tell concurrent runs apart there, so the pool does not overlap them.
    with EnvPool(tiny_spec, size=2, sandbox="subprocess", workdir=tmp_path / "s") as p:
        assert p.parallel is False
        p.reset()
        files = p.files(0)
        results = p.step_many([(0, _diff(files, improve)), (0, _diff(files, lambda s: s + "\n# c\n"))])
        assert [i["diagnostics"]["status"] for _, _, i in results] == ["ok", "ok"]
        assert [i["diagnostics"]["sandbox"] for _, _, i in results] == ["subprocess", "subprocess"]
