"""The core environment: diffs in, diagnostics out, branching, episode end, Gymnasium API."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

from gome_env import MLEEnv, RecordTrajectory
from gome_env.diagnostics import STATUSES
from gome_env.patching.diffs import make_diff
from helpers import append, edit, improve


def test_reset_runs_the_baseline(make_tiny_env, sandbox):
    env = make_tiny_env(sandbox=sandbox)
    obs, info = env.reset(seed=0)
    d = info["diagnostics"]
    assert d["status"] == "ok" and d["node_id"] == 0 and d["parent_id"] is None
    assert 0.3 < d["dev_score"] < 0.7  # majority class on balanced blobs
    assert obs["status"] == STATUSES.index("ok")
    assert obs["dev_score"][0] == d["dev_score"]
    assert "solution.py" in obs["task"] and "submission/dev.csv" in obs["task"]
    assert d["sandbox"] == sandbox


def test_correct_diff_improves_the_dev_score(make_tiny_env, sandbox):
    env = make_tiny_env(sandbox=sandbox)
    _, info = env.reset()
    baseline = info["diagnostics"]["dev_score"]
    obs, reward, terminated, truncated, info = env.step(edit(env, improve))
    d = info["diagnostics"]
    assert d["status"] == "ok", d
    assert d["patch"]["applied"] and d["patch"]["strategy"] == "exact"
    assert d["dev_score"] > baseline + 0.2
    assert d["is_best"] and d["best_dev_score"] == d["dev_score"]
    assert reward > 0 and not terminated and not truncated
    assert obs["best_dev_score"][0] == d["dev_score"]
    assert d["error_analysis"]["kind"] == "classification"
    assert {c["class"] for c in d["error_analysis"]["per_class"]} == {"0", "1"}
    assert "test_score" not in json.dumps(d.to_dict())


def test_malformed_diff_is_patch_failed_and_changes_nothing(make_tiny_env):
    env = make_tiny_env()
    env.reset()
    before = env.files()
    bad = "--- a/solution.py\n+++ b/solution.py\n@@ -1,2 +1,2 @@\n-this line is not in the file\n+x = 1\n"
    obs, reward, _, _, info = env.step(bad)
    d = info["diagnostics"]
    assert d["status"] == "patch_failed" and not d["patch"]["applied"]
    assert d["patch"]["rejected_hunks"][0]["file"] == "solution.py"
    assert env.files() == before
    assert reward < 0
    for action in ["", "   \n", "please make it better", "--- a/missing.py\n+++ b/missing.py\n@@ -1 +1 @@\n-a\n+b\n"]:
        _, _, _, _, info = env.step(action)
        assert info["diagnostics"]["status"] == "patch_failed", action
        assert info["diagnostics"]["reason"]
    assert env.files() == before


def test_tolerant_application_is_reported(make_tiny_env):
    env = make_tiny_env()
    env.reset()
    diff = edit(env, improve)
    messy = "Sure! Here is my change:\n```diff\n" + diff.replace("\n", "\r\n").replace("@@ -1,", "@@ -4,") + "```\nThanks."
    _, _, _, _, info = env.step(messy)
    patch = info["diagnostics"]["patch"]
    assert patch["applied"], patch
    assert any("CRLF" in n for n in patch["notes"]) and any("fences" in n for n in patch["notes"])
    assert info["diagnostics"]["status"] == "ok"


def test_syntax_error_is_caught_before_running(make_tiny_env):
    env = make_tiny_env()
    env.reset()
    _, _, _, _, info = env.step(edit(env, append("def broken(:\n    pass")))
    d = info["diagnostics"]
    assert d["status"] == "syntax_error"
    assert d["execution"]["exception"]["file"] == "solution.py"
    assert d["execution"]["exception"]["line"] > 20
    assert "broken" in d["execution"]["exception"]["source_line"]


def test_runtime_error_fills_the_traceback_fields(make_tiny_env, sandbox):
    env = make_tiny_env(sandbox=sandbox)
    env.reset()
    _, _, _, _, info = env.step(edit(env, append("values = {}\nprint(values['missing'])")))
    d = info["diagnostics"]
    assert d["status"] == "runtime_error"
    exc = d["execution"]["exception"]
    assert exc["type"] == "KeyError" and "missing" in exc["message"]
    assert exc["file"] == "solution.py" and exc["source_line"] == "print(values['missing'])"
    assert d["execution"]["returncode"] == 1
    assert "KeyError" in d["execution"]["stderr_head"]
    assert "KeyError" in env.unwrapped.checkout(d["node_id"])[0]["feedback"]


def test_timeout(make_tiny_env, sandbox):
    env = make_tiny_env(sandbox=sandbox, step_timeout_s=1.5)
    env.reset()
    _, _, _, _, info = env.step(edit(env, append("while True:\n    pass")))
    d = info["diagnostics"]
    assert d["status"] == "timeout"
    assert 1.4 < d["execution"]["runtime_s"] < 10


def test_invalid_submission_says_what_is_wrong(make_tiny_env):
    env = make_tiny_env()
    env.reset()
    drop_rows = lambda s: s.replace("rows = read(f\"data/{split}.csv\")", "rows = read(f\"data/{split}.csv\")[:10]")
    _, _, _, _, info = env.step(edit(env, drop_rows))
    d = info["diagnostics"]
    assert d["status"] == "invalid_submission"
    assert not d["submission"]["valid"]
    assert any("row count" in p for p in d["submission"]["problems"])
    assert any("ids missing" in p for p in d["submission"]["problems"])
    assert d["dev_score"] is None


def test_checkout_and_branching(make_tiny_env):
    env = make_tiny_env()
    env.reset()
    root_files = env.files()
    env.step(edit(env, improve))  # node 1
    env.step(edit(env, append("raise SystemExit(3)")))  # node 2, child of 1
    tree = env.tree
    assert [n.id for n in tree.path(2)] == [0, 1, 2]
    assert tree[2].is_buggy and tree[2].debug_depth == 0
    obs, info = env.checkout(0)  # branch from the root without re-running
    assert info["node_id"] == 0 and obs["code"] == root_files["solution.py"]
    _, _, _, _, info = env.step(edit(env, append("print('branch')")))  # node 3
    assert info["diagnostics"]["parent_id"] == 0
    assert [c.id for c in tree.children(0)] == [1, 3]
    assert tree.is_leaf(2) and tree.is_leaf(3) and not tree.is_leaf(1)
    assert tree.best().id == 1
    env.checkout(2)
    _, _, _, _, info = env.step(edit(env, lambda s: s.replace("raise SystemExit(3)", "")))
    assert tree[info["node_id"]].debug_depth == 1  # a fix of a buggy node
    assert env.files(0) == root_files  # snapshots are immutable


def test_submit_and_final(make_tiny_env):
    env = make_tiny_env()
    env.reset()
    env.step(edit(env, improve))
    obs, reward, terminated, truncated, info = env.step("submit")
    final = info["final"]
    assert terminated and not truncated
    assert final["node_id"] == 1 and final["valid_submission"]
    assert final["test_score"] > 0.8
    assert final["medal"] == "gold"  # the linear rule scores 0.99 on the tiny task's test split; gold is 0.97
    assert final["above_median"]
    with pytest.raises(RuntimeError):
        env.step("submit")
    env.reset()
    _, _, terminated, _, info = env.step("submit 0")
    assert terminated and info["final"]["node_id"] == 0 and info["final"]["medal"] == "none"


def test_step_budget_truncates(make_tiny_env):
    env = make_tiny_env(max_steps=2)
    obs, _ = env.reset()
    assert obs["steps_left"] == 2
    _, _, _, truncated, info = env.step("nonsense")
    assert not truncated and "final" not in info
    _, _, _, truncated, info = env.step("nonsense")
    assert truncated and info["final"]["node_id"] == 0


def test_time_budget_truncates(make_tiny_env):
    env = make_tiny_env(time_budget_s=0.5)
    obs, _ = env.reset()
    assert obs["time_left_s"][0] == 0.5  # the clock starts at the first step
    _, _, _, _, _ = env.step(edit(env, append("import time\ntime.sleep(0.6)")))
    assert env.time_left_s() == 0


def test_test_labels_never_reach_the_workspace_or_observations(make_tiny_env, sandbox):
    env = make_tiny_env(sandbox=sandbox)
    obs, info = env.reset()
    private_test = (env.prepared.private / "test.csv").read_text()
    env.step(edit(env, improve))
    workspace = env.workspace
    for path in workspace.rglob("*"):
        if path.is_file():
            assert path.read_text() != private_test
    public = env.prepared.public
    assert not any("label" in (public / f"{s}.csv").read_text().splitlines()[0] for s in ("dev", "test"))
    serialized = json.dumps([info, env.tree.to_dict()], default=str)
    with pytest.raises(RuntimeError, match="once the episode has ended"):
        env.final()  # no peeking at test scores mid-episode
    _, _, _, _, end = env.step("submit")
    assert end["final"]["test_score"] is not None
    assert str(end["final"]["test_score"]) not in serialized


def test_check_env_passes(make_tiny_env):
    check_env(make_tiny_env(), skip_render_check=True)


def test_render_ansi(make_tiny_env):
    env = make_tiny_env(render_mode="ansi")
    env.reset()
    text = env.render()
    assert "node 0" in text and "dev score" in text


def test_gymnasium_make_and_async_vector_env(tiny_spec, tmp_path):
    import gome_env  # noqa: F401 - registers gome/<task>-v0

    assert "gome/digits-v0" in gym.registry
    env_id = "gome-test/tiny-v0"
    if env_id not in gym.registry:
        gym.register(env_id, entry_point="gome_env.env:MLEEnv", kwargs={"task": tiny_spec})
    with pytest.raises(ValueError) as refused:  # gymnasium's shared memory would show stale text
        gym.vector.AsyncVectorEnv([lambda: gym.make(env_id, max_steps=3) for _ in range(2)])
    assert "shared_memory=False" in str(refused.value.__cause__)
    envs = gym.vector.AsyncVectorEnv([lambda: gym.make(env_id, max_steps=3) for _ in range(2)], shared_memory=False)
    try:
        obs, infos = envs.reset(seed=0)
        assert obs["dev_score"].shape == (2, 1)
        assert obs["code"][0] == obs["code"][1] == tiny_spec.baseline_source
        diff = make_diff({"solution.py": tiny_spec.baseline_source}, {"solution.py": tiny_spec.baseline_source + "print('edited')\n"})
        obs, rewards, terminated, truncated, infos = envs.step(["nonsense", diff])
        assert list(obs["status"]) == [STATUSES.index("patch_failed"), STATUSES.index("ok")]
        assert obs["code"][0] == tiny_spec.baseline_source and "print('edited')" in obs["code"][1]
        assert "patch_failed" in obs["feedback"][0] and "patch_failed" not in obs["feedback"][1]
        assert rewards.shape == (2,)
        # a scored step beside a failed one, in both orders: each env's record comes back whole
        assert [d["status"] for d in infos["diagnostics"]] == ["patch_failed", "ok"]
        assert infos["diagnostics"][0]["execution"] is None and infos["diagnostics"][1]["dev_score"] is not None
        obs, _, _, truncated, infos = envs.step(["submit", "nonsense"])
        assert [d["status"] for d in infos["diagnostics"]] == ["patch_failed", "patch_failed"]
        assert infos["final"][0]["node_id"] == 0 and infos["_final"].tolist() == [True, False]
        obs, _, _, truncated, infos = envs.step([diff, "nonsense"])  # env 0 resets (next-step autoreset)
        assert [(d["status"], d["node_id"]) for d in infos["diagnostics"]] == [("ok", 0), ("patch_failed", 3)]
        assert truncated.tolist() == [False, True] and infos["final"][1]["valid_submission"]
    finally:
        envs.close()


def test_unknown_task_and_bad_arguments_name_the_choices(tiny_spec):
    import gome_env  # noqa: F401

    with pytest.raises(ValueError, match="valid tasks: .*digits"):
        MLEEnv("no-such-task")
    with pytest.raises(gym.error.Error):
        gym.make("gome/no-such-task-v0")
    with pytest.raises(ValueError, match="valid sandboxes"):
        MLEEnv(tiny_spec, sandbox="docker")
    with pytest.raises(ValueError, match="valid rewards"):
        MLEEnv(tiny_spec, reward="nope")
    with pytest.raises(ValueError, match="max_steps"):
        MLEEnv(tiny_spec, max_steps=0)


def test_custom_reward_and_recorded_trajectory(make_tiny_env, tmp_path):
    calls = []

    def reward(d, context):
        calls.append(context)
        return 42.0

    env = RecordTrajectory(make_tiny_env(reward=reward), tmp_path / "traj.jsonl")
    env.reset()
    _, r, _, _, _ = env.step("not a diff")
    assert r == 42.0 and calls[0]["baseline"] is not None
    env.step("submit")
    lines = [json.loads(x) for x in (tmp_path / "traj.jsonl").read_text().splitlines()]
    assert [x["event"] for x in lines] == ["reset", "step", "step"]
    assert lines[1]["action"] == "not a diff" and lines[1]["diagnostics"]["status"] == "patch_failed"
    assert lines[2]["final"]["node_id"] == 0


def test_inputs_that_break_parsers_are_statuses_not_crashes(make_tiny_env):
    from gome_env.patching.diffs import apply_diff, make_diff

    env = make_tiny_env()
    env.reset()
    before = env.files()
    surrogate = edit(env, append("x = 1  # \ud800"))  # a cut-off JSON escape
    _, _, _, _, info = env.step(surrogate)
    assert info["diagnostics"]["status"] == "patch_failed" and "Unicode" in info["diagnostics"]["reason"]
    assert env.files() == before
    _, _, _, _, info = env.step(edit(env, append("x = " + "+".join(["a"] * 3000))))  # too deep for the parser
    assert info["diagnostics"]["status"] == "syntax_error"
    old, new = {"s.py": "x = 1\n"}, {"s.py": 's = "a\u2028b"\n'}  # splitlines() would cut this string
    assert apply_diff(old, make_diff(old, new))[0] == new
