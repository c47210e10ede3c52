"""The policy interface: make_policy, run_episode and its record, budgets, model text -> diff,
the replay policy and the table backend; every policy completes an episode on the tiny task."""

from __future__ import annotations

import json

import pytest

from gome_env.patching.diffs import make_diff
from helpers import improve
from policies import POLICIES, ConfigError, make_policy, run_episode, table_backend
from policies.edits import EditError, EditRequest, parse_edit, request_edits
from policies.models import ScriptedBackend

DIAGNOSIS = json.dumps({"problems": [{
    "problem": "the baseline predicts the majority class", "evidence": "accuracy near 0.5",
    "hypothesis": "predict with a linear rule on x0 + x1", "expected_effect": "accuracy above 0.9",
    "alignment": 8, "impact": 9, "novelty": 5, "feasibility": 9, "risk_reward": 7,
}]})

STEP_KEYS = {"step", "node_id", "parent_id", "trace", "kind", "prompt", "answer", "diff", "status", "dev_score",
             "best_dev_score", "reward", "prompt_tokens", "completion_tokens", "wall_s", "diagnostics"}
RECORD_KEYS = {"policy", "policy_config", "model", "task", "seed", "steps", "usage", "parse_failures", "final",
               "tree", "wall_s", "stopped_by", "error"}


def tiny_answers(baseline: str, bug_every: int = 3):
    """A table backend for the tiny task: JSON for diagnoses, else a whole improved program
    (every ``bug_every``-th one raises), each answer unique."""
    count = [0]

    def code(messages):
        count[0] += 1
        source = baseline + "\nraise ValueError('boom')\n" if count[0] % bug_every == 0 else improve(baseline)
        return f"Plan: use a linear rule.\n```python\n{source}\n# variant {count[0]}\n```"

    return table_backend({"Answer with JSON only": DIAGNOSIS}, default=code)


@pytest.fixture
def env(make_tiny_env):
    return make_tiny_env(max_steps=6, sandbox="subprocess")


# ---------------------------------------------------------------------- make_policy


def test_make_policy_names_and_errors():
    assert set(POLICIES) == {"gome", "greedy", "mcts", "evolutionary", "replay"}
    with pytest.raises(ValueError, match="valid policies: gome, greedy, mcts, evolutionary, replay"):
        make_policy("aide-plus", model="scripted")
    with pytest.raises(ConfigError, match="valid options: .*num_drafts"):
        make_policy("greedy", model="scripted", num_draft=3)
    with pytest.raises(ConfigError, match="edit_form"):
        make_policy("mcts", model="scripted", edit_form="poem")
    with pytest.raises(ConfigError, match="valid levels: full, standard, minimal"):
        make_policy("gome", model="scripted", diagnostics="verbose")
    p = make_policy("greedy", model=ScriptedBackend(), num_drafts=2, debug_prob=1.0)
    assert p.config.num_drafts == 2 and p.describe()["model"] == "scripted"
    assert make_policy("replay").model is None


# ---------------------------------------------------------------------- model text -> diff

FILES = {"solution.py": "import os\n\ndef f(x):\n    return x + 1\n\nprint(f(1))\n"}


def test_parse_whole_file_forms():
    new = "import os\n\ndef f(x):\n    return x + 2\n\nprint(f(1))\n"
    edit = parse_edit(f"I will add 2.\n```python\n{new}```\nDone.", FILES, "whole")
    assert edit.files["solution.py"] == new and edit.plan == "I will add 2."
    assert edit.diff.startswith("diff --git a/solution.py") and "+    return x + 2" in edit.diff
    assert parse_edit(new, FILES, "whole").files["solution.py"] == new  # unfenced program
    with pytest.raises(EditError, match="never closed"):  # ran out of tokens: never runs
        parse_edit(f"```python\n{new}", FILES, "whole")
    with pytest.raises(EditError, match="no code block"):
        parse_edit("I think we should use a random forest.", FILES, "whole")
    with pytest.raises(EditError, match="changes nothing"):
        parse_edit(f"```python\n{FILES['solution.py']}```", FILES, "whole")
    with pytest.raises(EditError, match="empty"):
        parse_edit("  ", FILES)


def test_parse_search_replace_and_diff():
    sr = "Plan.\n<<<<<<< SEARCH\n    return x + 1\n=======\n    return x * 3\n>>>>>>> REPLACE\n"
    assert "x * 3" in parse_edit(sr, FILES, "search_replace").files["solution.py"]
    loose = "<<<<<<< SEARCH\nreturn x + 1   \n=======\n    return x - 1\n>>>>>>> REPLACE"  # indentation lost
    assert "    return x - 1\n" in parse_edit(loose, FILES, "auto").files["solution.py"]
    new_file = "utils.py\n<<<<<<< SEARCH\n=======\nK = 3\n>>>>>>> REPLACE"
    assert parse_edit(new_file, FILES, "search_replace").files["utils.py"] == "K = 3\n"
    with pytest.raises(EditError, match="not found"):
        parse_edit("<<<<<<< SEARCH\nreturn y\n=======\nreturn z\n>>>>>>> REPLACE", FILES, "search_replace")
    diff = make_diff(FILES, {"solution.py": FILES["solution.py"].replace("x + 1", "x + 5")})
    edit = parse_edit(f"```diff\n{diff}```", FILES, "auto")
    assert edit.form == "diff" and "x + 5" in edit.files["solution.py"]
    with pytest.raises(EditError, match="does not apply"):
        parse_edit("--- a/solution.py\n+++ b/solution.py\n@@ -1 +1 @@\n-nope\n+yes\n", FILES, "diff")


def test_unparseable_answers_are_retried_and_counted(make_tiny_env):
    env = make_tiny_env(sandbox="subprocess")
    env.reset()
    backend = ScriptedBackend(["no code here", "still no code", "```python\nprint('hi')\n```"])
    policy = make_policy("greedy", model=backend, max_parse_retries=2)
    from policies.base import Budget, Episode

    episode = Episode(env, policy.model, Budget())
    (outcome,) = request_edits(episode, [EditRequest([{"role": "user", "content": "go"}], env.files(), "whole")], config=policy.config)
    assert outcome.ok and len(outcome.calls) == 3 and episode.parse_failures == 2
    assert outcome.calls[0].error and "Your answer could not be used" in outcome.calls[1].prompt[-1]["content"]
    assert backend.calls == [1, 1, 1]


# ---------------------------------------------------------------------- runner and record


def test_replay_policy_record(env):
    env.reset()
    good = make_diff(env.files(), {"solution.py": improve(env.files()["solution.py"])})
    seen = []
    policy = make_policy("replay", diffs=["not a diff", good])
    record = run_episode(env, policy, seed=3, on_step=seen.append)
    assert RECORD_KEYS <= set(record) and record["stopped_by"] == "submit" and record["error"] is None
    assert [s["status"] for s in record["steps"]] == ["patch_failed", "ok"]
    assert all(STEP_KEYS <= set(s) for s in record["steps"]) and seen == record["steps"]
    # the second diff is applied to the node the first step made (unchanged files)
    assert record["steps"][1]["parent_id"] == record["steps"][0]["node_id"]
    assert record["final"]["node_id"] == record["steps"][1]["node_id"] and record["final"]["test_score"] > 0.8
    assert record["seed"] == 3 and record["task"] == "tiny" and record["model"] == "none"
    json.dumps(record)


@pytest.mark.parametrize("name", ["gome", "greedy", "mcts", "evolutionary"])
def test_each_policy_completes_an_episode(make_tiny_env, tiny_spec, name):
    env = make_tiny_env(max_steps=6, sandbox="subprocess")
    backend = tiny_answers(tiny_spec.baseline_source)
    record = run_episode(env, make_policy(name, model=backend), seed=0)
    assert record["error"] is None, record["error"]
    assert record["stopped_by"] == "steps" and len(record["steps"]) == 6
    assert record["policy"] == name and record["model"] == "scripted"
    assert {"ok"} <= {s["status"] for s in record["steps"]}
    assert record["final"]["dev_score"] > 0.8 and record["final"]["valid_submission"]
    for s in record["steps"]:
        assert STEP_KEYS <= set(s) and s["prompt"] and s["answer"] and s["completion_tokens"] > 0
    assert record["usage"]["calls"] == len(backend.calls)
    calls = [c for s in record["steps"] for c in s["calls"]] + record["unstepped_calls"]
    assert record["usage"]["completion_tokens"] == sum(c["completion_tokens"] for c in calls)
    assert len(record["tree"]["nodes"]) == 7
    json.dumps(record)


@pytest.mark.parametrize("name", ["gome", "greedy", "mcts", "evolutionary"])
def test_policies_survive_a_model_that_never_writes_code(make_tiny_env, name):
    env = make_tiny_env(max_steps=3, sandbox="subprocess")
    backend = ScriptedBackend(lambda messages: "I am not sure what to do.")
    record = run_episode(env, make_policy(name, model=backend, max_parse_retries=1), seed=0)
    assert record["error"] is None, record["error"]
    assert record["stopped_by"] == "parse_failures" and record["steps"] == []  # an unusable answer never runs
    assert len(record["unusable_edits"]) == 3 and record["parse_failures"] >= 6
    assert record["final"]["node_id"] == 0  # the baseline stays the answer


def test_budgets_stop_the_episode(make_tiny_env, tiny_spec):
    env = make_tiny_env(max_steps=10, sandbox="subprocess")
    record = run_episode(env, make_policy("greedy", model=tiny_answers(tiny_spec.baseline_source)), max_steps=2)
    assert record["stopped_by"] == "steps" and len(record["steps"]) == 2 and record["final"]["node_id"] >= 0
    record = run_episode(env, make_policy("greedy", model=tiny_answers(tiny_spec.baseline_source)), token_budget=1)
    assert record["stopped_by"] == "tokens" and record["steps"] == [] and record["usage"]["calls"] == 0  # no call fits
    record = run_episode(env, make_policy("greedy", model=tiny_answers(tiny_spec.baseline_source)), time_budget_s=1e-9)
    assert record["stopped_by"] == "time" and record["steps"] == [] and record["final"]["node_id"] == 0


def test_a_policy_error_is_recorded(env):
    def broken(messages):
        raise RuntimeError("model exploded")

    record = run_episode(env, make_policy("greedy", model=ScriptedBackend(broken)))
    assert record["stopped_by"] == "error" and "model exploded" in record["error"]
    assert record["final"]["node_id"] == 0
    json.dumps(record)


def test_table_backend_picks_by_key():
    backend = table_backend({"alpha": "A", "beta": lambda m: "B" + m[-1]["content"][-1]}, default="D")
    convs = [[{"role": "user", "content": "say alpha"}], [{"role": "user", "content": "beta!"}], [{"role": "user", "content": "?"}]]
    assert [c.text for c in backend.chat(convs)] == ["A", "B!", "D"]
    with pytest.raises(KeyError):
        table_backend({"alpha": "A"}).chat([[{"role": "user", "content": "nothing"}]])


def test_a_failed_model_call_is_retried_with_a_shorter_prompt(env):
    sizes = []

    def limited(messages):
        sizes.append(sum(len(m["content"]) for m in messages))
        if len(sizes) == 1:
            raise ValueError("prompt longer than the context")
        return "no code"

    record = run_episode(env, make_policy("greedy", model=ScriptedBackend(limited), max_parse_retries=0), max_steps=1)
    assert record["error"] is None and record["model_errors"] and "context" in record["model_errors"][0]
    assert len(sizes) == 2 and sizes[1] < 0.8 * sizes[0]  # the longest message was halved
    assert record["steps"] == [] and record["stopped_by"] == "parse_failures"  # "no code" never runs
