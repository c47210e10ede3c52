"""The tree searches' review of every run (issue 23; AIDE's feedback call, AIRA-dojo's analyze
operator, ``policies/reflection.py``): made after each run, charged to the budget like any call,
written into the node's record and the memory, turned off by one switch, and its verdict makes a
run buggy for the search (``reflection_marks_bugs``)."""

from __future__ import annotations

import json

import pytest

from policies import make_policy, run_episode
from policies.models import ScriptedBackend
from policies.presets import PRESETS, preset_options
from policies.reflection import REFLECTION_TEMPERATURE, REFLECTION_TOP_P, parse_reflection
from test_policy_protocol import PROGRAM

TREE_SEARCHES = ["greedy", "mcts", "evolutionary"]
CLEAN = json.dumps({"is_bug": False, "summary": "accuracy 1.0 on the dev split; the rule separates the blobs"})
FLAGGED = json.dumps({"is_bug": True, "summary": "the dev score is suspicious: fix the leakage"})


def answers(review: str = CLEAN):
    count = [0]

    def answer(messages):
        if '"is_bug"' in messages[-1]["content"]:
            return review
        count[0] += 1
        return f"Plan: idea {count[0]}.\n```python\n{PROGRAM}# variant {count[0]}\n```"

    return answer


def run(env, name, backend, **kwargs):
    budget = {k: kwargs.pop(k) for k in ("token_budget", "max_steps") if k in kwargs}
    policy = make_policy(name, model=backend, **kwargs)
    record = run_episode(env, policy, seed=0, **budget)
    assert record["error"] is None, record["error"]
    return record, policy


def every_call(record) -> list[dict]:
    return [c for s in record["steps"] for c in s["calls"]] + list(record["unstepped_calls"])


def test_parse_reflection():
    assert parse_reflection('Review: {"is_bug": false, "summary": "fine  run"}') == (False, "fine run")
    assert parse_reflection('{"is_bug": "yes", "summary": "crash"}') == (True, "crash")
    with pytest.raises(ValueError, match='"is_bug"'):
        parse_reflection("The run looks fine to me.")
    with pytest.raises(ValueError):
        parse_reflection('{"summary": "no verdict"}')


@pytest.mark.parametrize("name", TREE_SEARCHES)
def test_every_run_is_reviewed_charged_and_recorded(make_tiny_env, name):
    backend = ScriptedBackend(answers())
    record, policy = run(make_tiny_env(max_steps=3, sandbox="subprocess"), name, backend)
    calls = every_call(record)
    reviews = [c for c in calls if c["kind"] == "reflection"]
    assert len(reviews) == 2  # one per run, none after the last step
    review = reviews[0]["prompt"]
    assert "# Implementation" in review[-1]["content"] and "# Execution output" in review[-1]["content"]
    assert "Kaggle grandmaster" in review[0]["content"]
    # charged: the usage counts every call, reviews included, to the token
    assert record["usage"]["calls"] == len(calls) == 5
    assert record["usage"]["prompt_tokens"] == sum(c["prompt_tokens"] for c in calls)
    assert record["usage"]["completion_tokens"] == sum(c["completion_tokens"] for c in calls)
    # into the node's record and the policy's summary
    first = record["steps"][0]
    assert first["note"]["reflection"] == {"node_id": first["node_id"], "is_bug": False,
                                           "summary": json.loads(CLEAN)["summary"], "source": "model"}
    assert str(first["node_id"]) in policy.summary()["reflections"]
    # and into the memory: the next edit prompt holds the analysis
    assert json.loads(CLEAN)["summary"] in [c for c in record["steps"][1]["calls"] if c["kind"] != "reflection"][-1]["prompt"][-1]["content"]


def test_reviews_use_the_references_sampling(make_tiny_env):
    seen = []

    class Spy(ScriptedBackend):
        def _chat(self, conversations, params):
            seen.append(('"is_bug"' in conversations[0][-1]["content"], params.temperature, params.top_p))
            return super()._chat(conversations, params)

    run(make_tiny_env(max_steps=2, sandbox="subprocess"), "greedy", Spy(answers()))
    assert (True, REFLECTION_TEMPERATURE, REFLECTION_TOP_P) in seen and (False, 0.5, 1.0) in seen
    assert (REFLECTION_TEMPERATURE, REFLECTION_TOP_P) == (0.5, 1.0)


@pytest.mark.parametrize("name", TREE_SEARCHES)
def test_one_switch_turns_reviews_off(make_tiny_env, name):
    backend = ScriptedBackend(answers())
    record, policy = run(make_tiny_env(max_steps=3, sandbox="subprocess"), name, backend, reflect=False)
    assert not [c for c in every_call(record) if c["kind"] == "reflection"]
    assert record["usage"]["calls"] == 3 and policy.summary()["reflections"] == {}
    assert "is_bug" not in json.dumps(backend.conversations)


def test_the_switch_in_one_place_reaches_every_tree_search_and_not_gome(monkeypatch):
    from policies import POLICIES

    monkeypatch.setitem(PRESETS, "no-reviews", {**PRESETS["full"], "config": {"*": {"reflect": False}}})
    for name in TREE_SEARCHES:
        assert make_policy(name, model="scripted", preset="no-reviews").config.reflect is False
        assert make_policy(name, model="scripted").config.reflect is True  # on by default
    assert "reflect" not in preset_options("no-reviews", "gome", POLICIES["gome"].Config)


def test_a_review_that_says_bug_makes_the_run_buggy_for_the_search(make_tiny_env):
    # greedy with debug_prob=1: a clean run the review calls buggy is debugged, as in AIDE
    record, policy = run(make_tiny_env(max_steps=2, sandbox="subprocess"), "greedy", ScriptedBackend(answers(FLAGGED)),
                         num_drafts=1, debug_prob=1.0)
    first, second = record["steps"]
    assert first["status"] == "ok" and second["kind"] == "debug" and second["parent_id"] == first["node_id"]
    assert policy.reflector.by_node[first["node_id"]].is_bug is True
    # reflection_marks_bugs=False: the environment's status alone decides
    record, _ = run(make_tiny_env(max_steps=2, sandbox="subprocess"), "greedy", ScriptedBackend(answers(FLAGGED)),
                    num_drafts=1, debug_prob=1.0, reflection_marks_bugs=False)
    assert record["steps"][1]["kind"] == "improve"


def test_an_unparsable_review_leaves_the_environments_verdict(make_tiny_env):
    record, policy = run(make_tiny_env(max_steps=2, sandbox="subprocess"), "greedy",
                         ScriptedBackend(answers("I think it is fine.")), num_drafts=1, max_parse_retries=0)
    first = record["steps"][0]
    assert first["note"]["reflection"]["source"] == "unparsed" and record["parse_failures"] == 1
    assert record["steps"][1]["kind"] == "improve"  # not buggy: the environment said ok


@pytest.mark.parametrize("name", TREE_SEARCHES)
def test_a_token_budget_stops_every_tree_search_within_one_call(make_tiny_env, name):
    budget = 12_000
    record, _ = run(make_tiny_env(max_steps=50, sandbox="subprocess"), name, ScriptedBackend(answers()), token_budget=budget)
    used = record["usage"]["prompt_tokens"] + record["usage"]["completion_tokens"]
    assert record["stopped_by"] == "tokens" and used <= budget  # the scripted model counts prompts exactly
    assert any(c["kind"] == "reflection" for c in every_call(record))
