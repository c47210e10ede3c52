"""Defects a code review found (issues 18 and 24), each pinned by a test that failed before its fix."""

from __future__ import annotations

import dataclasses
import gc
import os
import signal
import tempfile
import threading
import time
import warnings

import pytest

from gome_env.isolation.executor import Executor
from gome_env.isolation.sandbox import Limits, RunResult, cgroup_support, make_sandbox
from gome_env.patching.diffs import make_diff
from helpers import append, edit, improve, processes_with, wait_until


def _result(**kwargs) -> RunResult:
    base = dict(returncode=0, runtime_s=0.1, peak_memory_mb=50.0, stdout="", stderr="", output_bytes=0,
                limits={"memory_mb": 512})
    return RunResult(**{**base, **kwargs})


# --------------------------------------------------------------------------- memory classification


def test_memory_words_in_the_output_of_a_successful_run_are_not_a_memory_failure():
    caught = _result(stderr="caught MemoryError, using a smaller batch\n")
    assert caught.ok and not caught.memory_exceeded
    failed = _result(returncode=1, stderr="Traceback (most recent call last):\nMemoryError\n")
    assert failed.memory_exceeded


def test_a_solution_that_catches_memory_error_and_succeeds_is_ok(make_tiny_env):
    env = make_tiny_env(sandbox="subprocess", executor="cold", memory_limit_mb=512)
    env.reset()
    code = ("import sys\ntry:\n    hog = bytearray(4 * 1024 ** 3)\nexcept MemoryError:\n"
            "    print('MemoryError caught: falling back', file=sys.stderr)\n")
    *_, info = env.step(edit(env, append(code)))
    d = info["diagnostics"]
    assert d["status"] == "ok", d["reason"]
    assert not d["execution"]["memory_exceeded"]


# --------------------------------------------------------------------------- the env's temporary folder


def test_a_forgotten_env_removes_its_temporary_workdir(tiny_spec):
    from gome_env.env import MLEEnv

    env = MLEEnv(tiny_spec, sandbox="subprocess")
    workdir = env.workdir
    assert workdir.is_dir()
    del env
    gc.collect()
    assert not workdir.exists()


def test_an_env_whose_init_fails_midway_removes_its_temporary_workdir(tiny_spec, monkeypatch):
    from gome_env import env as env_module
    from gome_env import runner as runner_module

    made: list[str] = []
    real_mkdtemp = tempfile.mkdtemp

    def mkdtemp(*args, **kwargs):
        made.append(real_mkdtemp(*args, **kwargs))
        return made[-1]

    def broken(*args, **kwargs):
        raise RuntimeError("leaderboard unreadable")

    monkeypatch.setattr(runner_module.tempfile, "mkdtemp", mkdtemp)
    monkeypatch.setattr(env_module.Leaderboard, "from_csv", broken)
    with pytest.raises(RuntimeError, match="leaderboard unreadable"):
        env_module.MLEEnv(tiny_spec, sandbox="subprocess")
    gc.collect()
    assert made and not os.path.exists(made[0])


# --------------------------------------------------------------------------- the warm worker's start


@pytest.mark.parametrize("where", ["wrap", "popen"])
def test_a_failed_worker_start_closes_its_log_and_sockets(tmp_path, monkeypatch, where):
    sandbox, _ = make_sandbox("subprocess")
    data = tmp_path / "public"
    data.mkdir()
    ex = Executor(sandbox, tmp_path / "ws", data, Limits(timeout_s=5), preload=("json",))

    def boom(*args, **kwargs):
        raise OSError(f"cannot start ({where})")

    if where == "wrap":
        monkeypatch.setattr(sandbox, "wrap", boom)
    else:
        import subprocess

        monkeypatch.setattr(subprocess, "Popen", boom)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        ex.start()
        monkeypatch.undo()
        gc.collect()  # what was left open is closed here, with a ResourceWarning
    try:
        status = ex.status()
        assert status.failed_starts == 1 and f"({where})" in status.last_error
        assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    finally:
        ex.close()


# --------------------------------------------------------------------------- output held by an escaped process


def test_an_escaped_process_holding_the_output_does_not_stall_the_step(make_tiny_env, monkeypatch):
    monkeypatch.setenv("GOME_WARM_PRELOAD", "json")
    env = make_tiny_env(sandbox="subprocess", executor="warm")
    env.reset()
    assert env.unwrapped.executor.wait_ready(30), env.unwrapped.executor_status().last_error
    marker = f"gome-escaped-{os.getpid()}"
    # No token in its environment and its own session: neither the group kill nor the token sweep
    # finds it, and it keeps the step's stdout and stderr open.
    code = ("import subprocess, sys\n"
            f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', {marker!r}], env={{}}, start_new_session=True)\n")
    threads = threading.active_count()
    try:
        start = time.monotonic()
        *_, info = env.step(edit(env, append(code)))
        elapsed = time.monotonic() - start
        assert info["diagnostics"]["status"] == "ok", info["diagnostics"]["reason"]
        assert elapsed < 4.0, f"the step waited {elapsed:.1f} s for output an escaped process held"
        assert threading.active_count() <= threads  # no reader thread left behind
        if cgroup_support()[0]:  # the worker's own cgroup shows the escaped process: it is killed
            wait_until(lambda: processes_with(marker) == [], 5, "the end of the escaped process")
            assert info["diagnostics"]["execution"]["leftover_processes_killed"] >= 1
    finally:
        for pid in processes_with(marker):
            os.kill(pid, signal.SIGKILL)


# --------------------------------------------------------------------------- one owner of Limits


def test_the_env_and_its_executor_share_one_limits(make_tiny_env):
    env = make_tiny_env(sandbox="subprocess", executor="cold")
    env.limits = dataclasses.replace(env.limits, max_processes=32, cpu_time_s=7.0)
    assert env.unwrapped.executor_status().limits == env.limits
    assert env.unwrapped.executor_status().limits.cpu_time_s == 7.0


def test_the_worker_cgroup_keeps_every_limit_it_does_not_widen():
    from gome_env.isolation.executor import worker_group_limits

    limits = Limits(timeout_s=9, memory_mb=1024, cpu_time_s=3.0, file_size_mb=7, max_processes=40, output_bytes=1234, threads=1)
    group = worker_group_limits(limits)
    assert group.memory_mb > limits.memory_mb and group.max_processes > limits.max_processes
    assert dataclasses.replace(group, memory_mb=limits.memory_mb, max_processes=limits.max_processes) == limits


# --------------------------------------------------------------------------- public executor status


def test_executor_status_is_public_and_typed(make_tiny_env, monkeypatch):
    monkeypatch.setenv("GOME_WARM_PRELOAD", "json")
    env = make_tiny_env(sandbox="subprocess", executor="warm")
    env.reset()
    assert env.unwrapped.executor.wait_ready(30)
    status = env.unwrapped.executor_status()
    assert status.mode == "warm" and status.ready and status.worker_pid
    assert status["starts"] == 1 and status.to_dict()["starts"] == 1  # reads like the old stats dict
    *_, info = env.step(edit(env, append("print(1)")))
    assert info["diagnostics"]["execution"]["leftover_processes_killed"] == 0  # the step's own group is not a leftover
    after = env.unwrapped.executor_status()
    assert after.warm == status.warm + 1 and after.worker_pid == status.worker_pid


# --------------------------------------------------------------------------- submission_exists


def test_submission_exists_is_recorded_not_read_from_the_problem_text(make_tiny_env):
    env = make_tiny_env(sandbox="subprocess", executor="cold")
    env.reset()
    # test.csv is written, with an extra column whose name is the phrase the old check looked for.
    rewrite = ("import csv\nrows = list(csv.reader(open('submission/test.csv')))\n"
               "with open('submission/test.csv', 'w') as h:\n"
               "    for i, r in enumerate(rows):\n"
               "        h.write(','.join(r + ['was not written' if i == 0 else '0']) + '\\n')\n")
    *_, info = env.step(edit(env, append(rewrite)))
    assert info["diagnostics"]["status"] == "invalid_submission"
    *_, info = env.step(f"submit {info['node_id']}")
    final = info["final"]
    assert final["submission_exists"] and not final["valid_submission"]
    env.reset()
    *_, info = env.step(edit(env, append("import os\nos.remove('submission/test.csv')")))
    *_, info = env.step(f"submit {info['node_id']}")
    assert not info["final"]["submission_exists"]


# --------------------------------------------------------------------------- training paths (issue 24)


@pytest.fixture
def test_split_grades(tiny_spec, monkeypatch):
    """Counts the grader's calls on the test split and on the dev split (a spy on ``grade``)."""
    import gome_env.grading.grader as grader
    from gome_env.tasks.task import prepare

    answers = prepare(tiny_spec)
    ids = {split: set(answers.answers(split)[tiny_spec.id_column].astype(str)) for split in ("dev", "test")}
    counts = {"dev": 0, "test": 0}
    real = grader.grade

    def spy(spec, submission, answers):
        graded = set(answers[spec.id_column].astype(str))
        for split, split_ids in ids.items():
            counts[split] += graded == split_ids
        return real(spec, submission, answers)

    monkeypatch.setattr(grader, "grade", spy)
    return counts


def test_training_paths_never_grade_the_test_split(tiny_spec, tmp_path, test_split_grades):
    from gome_env.env import MLEEnv
    from gome_env.pool import EnvPool
    from gome_env.rl import GomeEnvironment, GomeReward

    improved = improve(tiny_spec.baseline_source)
    diff = make_diff({"solution.py": tiny_spec.baseline_source}, {"solution.py": improved})
    env = MLEEnv(tiny_spec, workdir=tmp_path / "env", executor="cold")  # the control: an evaluation env grades it
    try:
        env.reset()
        assert env.step(diff)[4]["diagnostics"]["status"] == "ok"
    finally:
        env.close()
    assert test_split_grades["test"] >= 1
    test_split_grades.update(dev=0, test=0)

    tools = GomeEnvironment()
    try:
        tools.reset(task=tiny_spec)
        assert tools.apply_patch(diff).startswith("node 1: ok")
    finally:
        tools._close()
    with EnvPool(tiny_spec, size=1, workdir=tmp_path / "pool", executor="cold") as pool:
        pool.reset()
        assert [i["diagnostics"]["status"] for _, _, i in pool.step_many([(0, diff)])] == ["ok"]
    reward = GomeReward(tiny_spec, pool_size=1, executor="cold")
    try:
        reward(completions=[f"```python\n{improved}```"], task=[tiny_spec.id], node_id=[0])
        assert reward.last[0]["status"] == "ok"
    finally:
        reward.close()
    assert test_split_grades["dev"] >= 3 and test_split_grades["test"] == 0


def test_submit_text_relayed_as_a_diff_is_a_failed_patch_not_a_submit(make_tiny_env):
    env = make_tiny_env()
    env.reset()
    for text in ("submit", "submit 0", "SUBMIT"):
        _, _, terminated, truncated, info = env.step_diff(text)
        assert info["diagnostics"]["status"] == "patch_failed" and not (terminated or truncated) and "final" not in info
    _, _, terminated, _, info = env.step("submit 0")  # the documented action form still submits
    assert terminated and info["final"]["node_id"] == 0


def test_reset_restores_a_node_of_the_tree_the_env_holds_or_is_given(make_tiny_env):
    env = make_tiny_env()
    env.reset()
    env.step(edit(env, improve))
    env.step("not a diff")
    tree = env.tree
    obs, info = env.reset(options={"node_id": 1})
    assert env.tree is tree and env.current_id == 1 and obs["node_id"][0] == 1 and info["node_id"] == 1
    assert env.steps_left == env.max_steps and obs["code"] == env.files(1)["solution.py"]
    _, _, _, _, info = env.step("not a diff")
    assert info["parent_id"] == 1 and len(env.tree) == 4
    with pytest.raises(ValueError, match=r"node 9: .*\(ids 0\.\.3\)"):
        env.reset(options={"node_id": 9})
    assert env.tree is tree and env.current_id == 3  # a refused reset changes nothing
    *_, info = env.step("submit 1")
    assert info["final"]["node_id"] == 1 and info["final"]["test_score"] is not None  # its test grade was kept
    other = make_tiny_env()
    with pytest.raises(ValueError, match="empty"):
        other.reset(options={"node_id": 1})
    obs, _ = other.reset(options={"tree": tree, "node_id": 2})  # a row's tree
    assert other.tree is tree and other.current_id == 2 and obs["status"] == 1  # node 2 is patch_failed
