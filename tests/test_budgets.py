"""Budgets that count what costs (issue 13): every model call is recorded (tokens in and out,
model seconds, per step and per run), the token budget stops every policy within one call's
``max_tokens`` of it, and a step budget counts each batched member as a step."""

from __future__ import annotations

import pytest

from policies import make_policy, run_episode
from policies.base import Budget, Episode
from policies.edits import EditRequest, request_edits
from policies.models import ScriptedBackend
from test_policy_protocol import POLICY_NAMES, scripted

USAGE_KEYS = {"calls", "requests", "prompt_tokens", "completion_tokens", "seconds"}


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_token_budget_stops_every_policy_within_one_call(make_tiny_env, name):
    env = make_tiny_env(max_steps=30, sandbox="subprocess")
    policy = make_policy(name, model=scripted(), max_tokens=200)
    budget = 6000  # a few calls' worth of the tiny task's prompts (counted in words by the scripted model)
    record = run_episode(env, policy, token_budget=budget, seed=0)
    assert record["error"] is None, record["error"]
    usage = record["usage"]
    used = usage["prompt_tokens"] + usage["completion_tokens"]
    assert record["stopped_by"] == "tokens", record["stopped_by"]
    assert used <= budget + policy.config.max_tokens, (used, budget)
    assert usage["calls"] >= 1 and usage["completion_tokens"] > 0
    # the record carries calls, tokens in and out, model seconds and environment seconds
    assert USAGE_KEYS <= set(usage) and usage["seconds"] >= 0 and record["env_seconds"] > 0
    exchanges = [c for s in record["steps"] for c in s["calls"]] + record["unstepped_calls"]
    assert usage["requests"] == len(exchanges)  # every call is in a step or unstepped, none lost
    assert usage["prompt_tokens"] == sum(c["prompt_tokens"] for c in exchanges)
    assert usage["completion_tokens"] == sum(c["completion_tokens"] for c in exchanges)
    assert sum(c["model_s"] for c in exchanges) == pytest.approx(usage["seconds"], abs=1e-3)
    for step in record["steps"]:
        assert step["model_calls"] == len(step["calls"]) and step["model_s"] >= 0
        assert step["prompt_tokens"] == sum(c["prompt_tokens"] for c in step["calls"])
    assert record["env_seconds"] >= sum(s["wall_s"] for s in record["steps"]) - 1e-3


def test_no_call_starts_that_could_pass_the_budget(make_tiny_env):
    env = make_tiny_env(sandbox="subprocess")
    env.reset()
    backend = ScriptedBackend(lambda m: "```python\nprint(1)\n```")
    conv = [{"role": "user", "content": "one two three four five"}]  # 5 prompt tokens
    episode = Episode(env, backend, Budget(token_budget=5 + 10))
    assert episode.call_cost([conv], 10) == 15 and episode.affordable([conv, conv], 10) == 1
    episode.chat([conv], kind="x", max_tokens=10)  # 5 + 3 tokens used
    with pytest.raises(Exception) as stop:
        episode.chat([conv], kind="x", max_tokens=10)  # 8 + 15 > 15: refused before the call
    assert getattr(stop.value, "reason", None) == "tokens" and backend.calls == [1]


def test_batched_members_are_steps_and_the_batch_fits_the_budget(make_tiny_env):
    env = make_tiny_env(max_steps=10, sandbox="subprocess")
    env.reset()
    backend = scripted(bug_every=1000)
    policy = make_policy("greedy", model=backend)
    episode = Episode(env, backend, Budget(max_steps=2))
    requests = [EditRequest([{"role": "user", "content": f"write {i}"}], env.files(), "whole") for i in range(5)]
    outcomes = request_edits(episode, requests, config=policy.config)
    assert backend.calls == [2]  # two steps left: only two members asked for
    assert [o.stopped for o in outcomes] == [None, None, "steps", "steps", "steps"]
    for outcome in outcomes[:2]:
        assert episode.apply(outcome, 0, kind="draft") is not None
    with pytest.raises(Exception) as stop:
        episode.apply(outcomes[2], 0, kind="draft")
    assert getattr(stop.value, "reason", None) == "steps" and len(episode.steps) == 2
