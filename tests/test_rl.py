"""gome_env.rl without a trainer: the ladder reward, GomeReward, the datasets, GomeEnvironment
driven as TRL drives it (real sandbox; TRL itself in tests/test_rl_trl.py)."""

from __future__ import annotations

import gc
import inspect
import math
import os
import pickle
from pathlib import Path

import pytest

from helpers import improve, wait_until
from gome_env.patching.diffs import make_diff
from gome_env.rewards import LADDER, REWARDS, ladder_reward

pytest.importorskip("datasets")

from gome_env.rl import GomeEnvironment, GomeReward, make_grpo_dataset, make_options_dataset, pick_option  # noqa: E402

CONTEXT = {"previous_best": None, "baseline": 0.5, "gold": 0.9, "higher_is_better": True}


def test_ladder_orders_the_statuses_and_maps_ok_to_the_normalised_dev_score():
    rung = {s: ladder_reward({"status": s, "dev_score": None}, CONTEXT) for s in LADDER}
    assert rung["patch_failed"] < rung["syntax_error"] < rung["runtime_error"] == rung["timeout"] == rung["memory_exceeded"]
    assert rung["memory_exceeded"] < rung["invalid_submission"] < ladder_reward({"status": "ok", "dev_score": 0.0}, CONTEXT)
    assert ladder_reward({"status": "ok", "dev_score": 0.9}, CONTEXT) == pytest.approx(1.0)  # gold
    assert ladder_reward({"status": "ok", "dev_score": 0.5}, CONTEXT) == pytest.approx(0.0)  # baseline
    lower = {**CONTEXT, "higher_is_better": False, "baseline": 2.0, "gold": 1.0}
    assert ladder_reward({"status": "ok", "dev_score": 1.5}, lower) == pytest.approx(0.5)
    assert REWARDS["ladder"] is ladder_reward


def _answer(code: str) -> str:
    return f"Plan: a linear rule.\n```python\n{code}```\n"


def test_gome_reward_parses_steps_and_logs_one_float_per_completion(tiny_spec):
    reward = GomeReward(tiny_spec, pool_size=2, step_timeout_s=60)
    try:
        base = tiny_spec.baseline_source
        completions = [
            [{"role": "assistant", "content": _answer(improve(base))}],  # chat-format completion, whole file
            "I would try a random forest.",  # no edit at all
            _answer(base + "\ndef broken(:\n"),
        ]
        logged = {}
        rewards = reward(prompts=["p"] * 3, completions=completions, task=[tiny_spec.id] * 3, node_id=[0, 0, 0],
                         log_metric=lambda k, v: logged.setdefault(k, v))
        assert len(rewards) == 3 and all(math.isfinite(r) for r in rewards)
        assert [r["status"] for r in reward.last] == ["ok", "patch_failed", "syntax_error"]
        assert rewards[0] > 0 > rewards[2] > rewards[1] == LADDER["patch_failed"]
        assert [r["parsed"] for r in reward.last] == [True, False, True]
        pool = reward.pools[tiny_spec.id]
        assert [n.id for n in pool.tree.children(0)] == [r["node_id"] for r in reward.last]
        assert logged["gome/status_ok"] == pytest.approx(1 / 3) and logged["gome/parse_failures"] == pytest.approx(1 / 3)
        assert logged["gome/dev_score"] == reward.last[0]["dev_score"]
        # Branch from the new node: the row's node_id is the parent.
        child = reward.last[0]["node_id"]
        reward(completions=[_answer(improve(base) + "\nx = 1\n")], task=[tiny_spec.id], node_id=[child])
        assert reward.last[0]["parent_id"] == child and reward.last[0]["status"] == "ok"
        copy = pickle.loads(pickle.dumps(reward))
        assert copy.pools == {} and copy.env_kwargs == reward.env_kwargs and copy.__name__ == "gome_reward"
    finally:
        reward.close()


def test_options_rows_pick_their_fixed_diffs(tiny_spec):
    files = {"solution.py": tiny_spec.baseline_source}
    good = make_diff(files, {"solution.py": improve(tiny_spec.baseline_source)})
    options = [("Use a linear rule", good), ("Break the syntax", make_diff(files, {"solution.py": "def (:\n"}))]
    data = make_options_dataset(tiny_spec, options, rows=2)
    assert data.column_names == ["prompt", "task", "seed", "node_id", "options"]
    assert "A) Use a linear rule" in data[0]["prompt"][-1]["content"]
    assert pick_option("The answer is B.", data[0]["options"]) == options[1][1] and pick_option("none", data[0]["options"]) is None
    reward = GomeReward(tiny_spec, pool_size=1)
    try:
        rewards = reward(completions=["A", "B", "C"], **{k: data[:1][k] * 3 for k in ("task", "node_id", "options")})
        assert [r["status"] for r in reward.last] == ["ok", "syntax_error", "patch_failed"]
        assert rewards[0] > rewards[1] > rewards[2]
    finally:
        reward.close()


def test_grpo_dataset_holds_the_improve_prompt_for_node_0_built_from_the_views():
    from gome_env.env import MLEEnv
    from gome_env.rl.dataset import improve_messages
    from gome_env.views import SYSTEM, feedback, task_brief

    data = make_grpo_dataset(["digits", "gome/digits-v0"], seeds=(0, 1), repeats=2, edit_form="diff")
    assert data.column_names == ["prompt", "task", "seed", "node_id"] and len(data) == 8
    assert data["task"][:4] == ["digits"] * 4 and data["seed"][:4] == [0, 0, 1, 1] and set(data["node_id"]) == {0}
    messages = data[0]["prompt"]
    assert messages[0] == {"role": "system", "content": SYSTEM}
    user = messages[1]["content"]
    assert "# Current solution" in user and "GaussianNB" in user and "unified diff" in user and "## Data preview" in user
    assert data[0]["prompt"] == data[4]["prompt"]  # both names of the task give the same prompt
    env = MLEEnv("digits", executor="cold")
    try:
        env.reset(seed=0)
        # The same views as the policies' prompts: the brief and the node's feedback, byte for byte.
        short = improve_messages(env, 0, "whole", diagnostics="minimal", max_task_chars=100_000)[1]["content"]
        assert task_brief(env) in short and feedback(env.tree[0].diagnostics, "minimal", 1200) in short
        with pytest.raises(ValueError, match="unknown prompt setting"):
            improve_messages(env, 0, temperature=0.5)
    finally:
        env.close()


def _tools(instance) -> dict:
    """The tools TRL makes of an environment: its public functions except reset and get_reward."""
    return {name: getattr(instance, name) for name, _ in inspect.getmembers(type(instance), predicate=inspect.isfunction)
            if name not in ("reset", "get_reward") and not name.startswith("_")}


def test_gome_environment_driven_as_trl_drives_it():
    from transformers.utils import get_json_schema

    env = GomeEnvironment()
    try:
        tools = _tools(env)
        assert set(tools) == {"apply_patch", "read_file", "checkout", "submit"}
        for tool in tools.values():  # TRL renders each tool's schema into the chat template
            assert get_json_schema(tool)["function"]["parameters"]
        prompt = env.reset(**{"prompt": [{"role": "user", "content": "x"}], "task": "gome/digits-v0", "seed": 0, "node_id": 0})
        assert "GaussianNB" in prompt and len(prompt) <= GomeEnvironment.prompt_chars
        code = tools["read_file"](path="solution.py")
        assert "GaussianNB" in code and "no file" in tools["read_file"](path="nope.py")
        new = code.replace("GaussianNB()", "GaussianNB(var_smoothing=1e-2)")
        reply = tools["apply_patch"](diff=make_diff({"solution.py": code}, {"solution.py": new}))
        assert reply.startswith("node 1: ok")
        assert tools["apply_patch"](diff="not a diff").startswith("node 2: patch_failed")
        assert "no node 7" in tools["checkout"](node_id=7)
        assert tools["checkout"](node_id=2).startswith("node 2: patch_failed")
        assert env.get_reward() == LADDER["patch_failed"]  # without a submit: the current node
        assert tools["submit"](node_id=1).startswith("submitted node 1")
        assert env.get_reward() > LADDER["invalid_submission"]
        for name, kwargs in (("apply_patch", {"diff": "x"}), ("read_file", {"path": "solution.py"}),
                             ("checkout", {"node_id": 0}), ("submit", {})):
            with pytest.raises(ValueError, match="ended"):
                tools[name](**kwargs)
        env.reset(task="digits", seed=1)  # a new episode on the same, still warm, env
        assert tools["checkout"](node_id=1).startswith("no node 1")
        for _ in range(GomeEnvironment.max_patches):
            tools["apply_patch"](diff="x")
        with pytest.raises(ValueError, match="spent"):
            tools["apply_patch"](diff="x")
        with pytest.raises(ValueError, match="ended"):
            tools["read_file"](path="solution.py")
    finally:
        env._close()


def _live_workers() -> set[int]:
    """Pids of this test process's live warm workers: the processes that run the worker program
    (not its sandbox wrappers, not the children it forks per run) and descend from this process."""
    from gome_env.isolation.executor import WORKER_PROGRAM

    def stat(pid: int) -> tuple[str, int]:
        state, ppid = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[:2]
        return state, int(ppid)

    def runs_worker(pid: int) -> bool:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[1:3] == [b"-s", WORKER_PROGRAM.encode()]

    me, found = os.getpid(), set()
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            pid = int(entry)
            state, parent = stat(pid)
            if state == "Z" or not runs_worker(pid) or runs_worker(parent):
                continue
            while parent > 1 and parent != me:
                parent = stat(parent)[1]
            if parent == me:
                found.add(pid)
        except (OSError, ValueError, IndexError):
            continue
    return found


def test_gome_environment_workers_are_closed_when_training_ends_and_when_an_instance_goes(tiny_spec):
    class Tiny(GomeEnvironment):
        env_kwargs = {"step_timeout_s": 60, "diagnostics": "standard"}

    before = _live_workers()
    pool = [Tiny(), Tiny()]  # as TRL's environment pool holds them
    for env in pool:
        env.reset(task=tiny_spec)
        code = env.read_file("solution.py")
        assert env.apply_patch(make_diff({"solution.py": code}, {"solution.py": improve(code)})).startswith("node 1: ok")
    mine = _live_workers() - before
    assert len(mine) == 2  # one warm worker per instance
    pool[0].closing_callback().on_train_end(None, None, None)  # what GRPOTrainer calls when training ends
    wait_until(lambda: not (_live_workers() & mine), 10, "the workers' end")
    pool[1].reset(task=tiny_spec)  # an instance can start again after it was closed
    code = pool[1].read_file("solution.py")
    pool[1].apply_patch(make_diff({"solution.py": code}, {"solution.py": improve(code)}))
    again = _live_workers() - before
    assert len(again) == 1
    del pool[1], env  # an instance nothing holds any more stops its own worker
    gc.collect()
    wait_until(lambda: not (_live_workers() & again), 10, "the dropped instance's worker's end")


def test_gome_environment_reset_adds_only_what_the_row_lacks_after_a_blank_line():
    env = GomeEnvironment()
    try:
        row = make_grpo_dataset("digits", edit_form="diff").to_list()[0]
        text = env.reset(**row)
        user = row["prompt"][-1]["content"]
        assert text.startswith("\n\nImprove solution.py") and "apply_patch(diff)" in text
        first = next(line for line in user.split("# Task\n", 1)[1].splitlines() if line.strip())
        assert first not in text and "GaussianNB" not in text  # the row already shows the task and the code
        assert (user + text).count(first) == 1
        bare = env.reset(task="digits", prompt=[{"role": "user", "content": "Solve it."}])
        assert bare.startswith("\n\nImprove") and first in bare and "GaussianNB" in bare
        assert not env.reset(task="digits").startswith("\n")  # nothing to separate from
    finally:
        env._close()


def test_gome_environment_apply_patch_never_submits_and_reset_continues_from_a_node(tiny_spec):
    """#24 defects 2 and 3: the text "submit" given to apply_patch is a (bad) diff, not the env's
    submit action; reset(node_id=n) continues from node n of the tree built so far, and an unknown
    node is a clear ValueError."""
    tools = GomeEnvironment()  # 4 patches per episode (the class default)
    try:
        tools.reset(task=tiny_spec)
        assert tools.apply_patch("submit").startswith("node 1: patch_failed")
        assert tools.apply_patch("submit 0").startswith("node 2: patch_failed")
        assert tools.read_file("solution.py")  # the episode is still live: nothing was submitted
        tools.reset(task=tiny_spec, node_id=2)
        assert tools._env.current_id == 2
        with pytest.raises(ValueError, match="node"):
            tools.reset(task=tiny_spec, node_id=99)
    finally:
        tools._close()
