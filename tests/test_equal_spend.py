"""Policies at equal spend, with their references' own prompts, reflections and memories (issue 23).

Each policy plays a few rounds of the tiny task with a scripted model. Checked here: GOME's
prompts carry RD-Agent's sections (scenario problems, feedback problems, hypotheses, the coding
task, the feedback) at RD-Agent's sampling; reflections (GOME's feedback, the tree searches'
analysis) are made and charged; a token budget stops every policy within one call of it; and no
memory is cut below the model's context window. The `full` preset is equal spend.

The tree searches' side of the same checks lives with their prompts: tests/test_reference_prompts.py
(AIDE's and AIRA-dojo's sections, their memories whole until the context window is full) and
tests/test_reflection.py (every run reviewed and charged); here all four policies share the
reflection and token-budget checks.
"""

from __future__ import annotations

import json
import re

import pytest

from helpers import improve
from policies import make_policy, run_episode, table_backend
from policies.context import LEFT_OUT
from policies.models.base import Sampling
from policies.presets import FULL_TOKEN_BUDGET, PRESETS, preset_options, spend_label
from test_policy_protocol import POLICY_NAMES, scripted

FEEDBACK = {"Code Change Summary": "a linear rule on x0 + x1", "Observations": "accuracy rose",
            "Feedback for Hypothesis": "confirmed", "Reasoning": "clearly better"}
REFLECTION_KINDS = {"gome": "feedback", "greedy": "reflection", "mcts": "reflection", "evolutionary": "reflection"}


def feedback_answer(messages) -> str:
    """RD-Agent's feedback, scripted: replace the best only when the current score is higher."""
    current, best = re.search(r"current \w+ is (-?[\d.]+\d|None), while the best so far is (-?[\d.]*\d|None)",
                              messages[-1]["content"]).groups()
    better = current != "None" and (best == "None" or float(current) > float(best))
    return json.dumps({**FEEDBACK, "Replace Best Result": "yes" if better else "no"})


def gome_backend(baseline: str, **options):
    """Unique JSON for every problem and hypothesis call (hypothesis n says "idea n"), RD-Agent's
    feedback, else a whole improved program; records each call's sampling."""
    count = [0]

    def problems(messages) -> str:
        count[0] += 1
        n = count[0]
        return json.dumps({"problems": [{"caption": f"challenge {n}", "problem": f"problem {n}", "reason": "evidence",
                                         "hypothesis": f"idea {n}: predict with a linear rule on x0 + x1",
                                         "alignment": 8, "impact": 9, "novelty": 5, "feasibility": 9, "risk_reward": 7}]})

    def code(messages) -> str:
        count[0] += 1
        return f"Plan: a linear rule.\n```python\n{improve(baseline)}\n# variant {count[0]}\n```"

    backend = table_backend({"Replace Best Result": feedback_answer, "Answer with JSON only": problems}, default=code)
    for name, value in options.items():
        setattr(backend, name, value)
    backend.sampling: list[Sampling] = []
    inner = backend._chat

    def chat(conversations, params):
        backend.sampling.extend([params] * len(conversations))
        return inner(conversations, params)

    backend._chat = chat
    return backend


def play(make_tiny_env, tiny_spec, steps: int, backend=None, **config):
    env = make_tiny_env(max_steps=steps, sandbox="subprocess")
    backend = backend or gome_backend(tiny_spec.baseline_source)
    policy = make_policy("gome", model=backend, **config)
    record = run_episode(env, policy, seed=0)
    assert record["error"] is None, record["error"]
    return record, policy, backend


def exchanges(record: dict) -> list[dict]:
    return [c for s in record["steps"] for c in s["calls"]] + record["unstepped_calls"]


def text_of(exchange: dict) -> tuple[str, str]:
    """(system, user) of an exchange's first two messages."""
    return exchange["prompt"][0]["content"], exchange["prompt"][1]["content"]


# ---------------------------------------------------------------------- GOME: RD-Agent's prompts and sampling


def test_gome_prompts_carry_rd_agents_sections(make_tiny_env, tiny_spec):
    record, policy, backend = play(make_tiny_env, tiny_spec, steps=6, num_traces=1, max_debug=0)
    calls = exchanges(record)
    kinds = [c["kind"] for c in calls]
    # round 0: the multiplier is 3: the scenario-problem call only, then the hypotheses; later
    # (4 weighted experiments) the feedback-problem call joins (RD-Agent's identify_problem)
    assert [c["kind"] for c in record["steps"][0]["calls"]] == ["problems_scenario", "hypotheses", "implement"]
    assert "problems_feedback" in kinds and kinds.count("hypotheses") == len(record["steps"])
    by_kind = {k: [c for c in calls if c["kind"] == k] for k in set(kinds)}

    system, user = text_of(by_kind["problems_scenario"][0])
    for section in ("### Core analysis dimensions", "## Key challenges", "dataset-driven", "domain-informed",
                    "### Specification for each challenge", "### Output format"):
        assert section in system, section
    assert user.startswith("# Scenario Description") and "# Current SOTA Implementation" in user
    assert "# Previous Experiments and Feedbacks" not in user  # RD-Agent: scenario and SOTA only

    system, user = text_of(by_kind["problems_feedback"][0])
    for section in ("## Key learnings and unresolved challenges", "### Definition", "### Guidelines for identification",
                    "### Specification for each learning or challenge"):
        assert section in system, section
    assert "# Previous Experiments and Feedbacks" in user and "## Experiment Index: 1" in user

    system, user = text_of(by_kind["hypotheses"][-1])
    for section in ("# Task 1: Hypothesis proposal", "## 1.2 Guidelines", "# Task 2: Hypothesis evaluation",
                    "DataLoadSpec", "risk_reward", "## Final output format"):
        assert section in system, section
    assert "# Identified Challenges\n## 1. challenge" in user and "# Current SOTA Implementation" in user

    _, user = text_of(by_kind["implement"][0])
    assert "# Scenario Description" in user and "# Current SOTA implementation" in user
    assert "# Proposed Hypothesis\nProblem: problem" in user and "sketch the changes step by step" in user

    _, user = text_of(by_kind["feedback"][0])
    for section in ("## SOTA Solution", "## Current Solution", "### Final Results of the Current Solution",
                    "### Comparison with the SOTA", "## Feedback of the previous experiment", '"Replace Best Result"'):
        assert section in user, section

    # RD-Agent's chat temperature (rdagent/oai/llm_conf.py: chat_temperature = 0.5), no top-p set
    assert {(p.temperature, p.top_p) for p in backend.sampling} == {(0.5, 1.0)}
    default = make_policy("gome", model="scripted").config
    assert (default.diagnosis_calls, default.draw, default.max_debug) == ("separate", "md5", 10)


def test_gome_combined_call_is_a_switch(make_tiny_env, tiny_spec):
    record, _, _ = play(make_tiny_env, tiny_spec, steps=2, num_traces=1, diagnosis_calls="combined", max_debug=0)
    assert [c["kind"] for c in record["steps"][0]["calls"]] == ["diagnose", "implement"]


# ---------------------------------------------------------------------- reflections, made and charged


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_reflections_are_made_and_charged(make_tiny_env, name):
    """GOME's post-experiment feedback and the tree searches' analysis call follow every clean
    run, and their tokens are in the run's usage like every other call's."""
    env = make_tiny_env(max_steps=4, sandbox="subprocess")
    record = run_episode(env, make_policy(name, model=scripted(bug_every=1000)), seed=0)
    assert record["error"] is None, record["error"]
    calls = exchanges(record)
    reflections = [c for c in calls if c["kind"].startswith(REFLECTION_KINDS[name])]
    assert reflections, sorted({c["kind"] for c in calls})
    usage = record["usage"]
    assert usage["requests"] == len(calls)
    assert usage["prompt_tokens"] == sum(c["prompt_tokens"] for c in calls)
    assert usage["completion_tokens"] == sum(c["completion_tokens"] for c in calls)
    assert all(c["prompt_tokens"] > 0 and c["completion_tokens"] > 0 for c in reflections)


# ---------------------------------------------------------------------- equal spend


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_token_budget_stops_every_policy_within_one_call(make_tiny_env, name):
    env = make_tiny_env(max_steps=60, sandbox="subprocess")
    backend = scripted()
    policy = make_policy(name, model=backend, max_tokens=200)
    budget = 8000  # scripted tokens are words: a few rounds of the tiny task
    record = run_episode(env, policy, token_budget=budget, seed=0)
    assert record["error"] is None, record["error"]
    assert record["stopped_by"] == "tokens"
    usage = record["usage"]
    used = usage["prompt_tokens"] + usage["completion_tokens"]
    calls = exchanges(record)
    largest = max(backend.calls) * (max(c["prompt_tokens"] for c in calls) + max(
        policy.config.max_tokens, getattr(policy.config, "diagnosis_max_tokens", 0)))
    assert used <= budget  # no call started that could pass it (the scripted count is exact)
    assert budget - used < largest  # and it stopped only when the next call could not fit


def test_full_preset_is_equal_spend_and_full_steps_is_step_matched():
    full, steps = PRESETS["full"], PRESETS["full-steps"]
    assert full["match"] == "tokens" and full["token_budget"] == FULL_TOKEN_BUDGET and full["time_budget"] is None
    assert full["steps"] >= 100  # a safety net, not the budget
    assert steps["match"] == "steps" and steps["token_budget"] is None and steps["steps"] == 20
    assert full["config"] == {} and preset_options("full", "gome") == {}  # every policy at its own settings
    assert spend_label(full["steps"], full["token_budget"]) == f"tokens:{FULL_TOKEN_BUDGET}"
    assert spend_label(20, None) == "steps:20"


def test_benchmark_full_preset_runs_at_equal_spend():
    from scripts.benchmark import build_parser, spend_header, specs_from_args

    args = build_parser().parse_args(["--preset", "full", "--policies", "gome,greedy,mcts,evolutionary",
                                      "--token-budget", "20000", "--tasks", "digits", "--models", "scripted"])
    specs = specs_from_args(args)
    assert {(s.policy, s.token_budget, s.steps) for s in specs} == {
        (p, 20000, PRESETS["full"]["steps"]) for p in ("gome", "greedy", "mcts", "evolutionary")}
    assert spend_header(specs).startswith("equal spend: every run had the same budget of 20,000 model tokens")
    default = specs_from_args(build_parser().parse_args(["--preset", "full", "--tasks", "digits"]))
    assert {s.token_budget for s in default} == {FULL_TOKEN_BUDGET}
    matched = specs_from_args(build_parser().parse_args(["--preset", "full-steps", "--tasks", "digits"]))
    assert {(s.token_budget, s.steps) for s in matched} == {(None, 20)}
    assert spend_header(matched).startswith("step-matched")


# ---------------------------------------------------------------------- whole memories


def test_no_memory_is_cut_below_the_context_window(make_tiny_env, tiny_spec):
    # an unknown (or ample) window: every experiment of the history is in the last diagnosis, whole
    record, policy, _ = play(make_tiny_env, tiny_spec, steps=6, num_traces=1, max_debug=0)
    (trace,) = policy.traces
    conversation = [c for c in exchanges(record) if c["kind"] == "hypotheses"][-1]["prompt"]
    last = conversation[-1]["content"]
    assert len(trace.experiments) >= 5 and "left out to fit" not in last
    assert all(e.hypothesis in last for e in trace.experiments[:-1])
    # a window the whole history does not fit: the oldest experiments go, whole and counted, and
    # the prompt fits the window with room for the answer
    window = policy.model.count_tokens(conversation) + policy.config.diagnosis_max_tokens - 60
    small = gome_backend(tiny_spec.baseline_source, context_window=window)
    record, policy, _ = play(make_tiny_env, tiny_spec, steps=6, num_traces=1, max_debug=0, backend=small)
    prompts = [c for c in exchanges(record) if c["kind"] in ("hypotheses", "problems_feedback")]
    marker = re.compile(re.escape(LEFT_OUT).replace(r"\{n\}", r"(\d+)").replace(r"\{noun\}", "experiments"))
    cut = [p for p in prompts if marker.search(p["prompt"][-1]["content"])]
    assert cut, "the small window left nothing out"
    for p in cut:
        assert small.count_tokens(p["prompt"]) + policy.config.diagnosis_max_tokens <= window
        text = p["prompt"][-1]["content"]
        n = int(marker.search(text).group(1))
        assert f"## Experiment Index: {n + 1} " in text and f"## Experiment Index: {n} " not in text  # the oldest went
        assert 0 < n < text.count("## Experiment Index: ") + n  # some kept: only as many left out as needed
