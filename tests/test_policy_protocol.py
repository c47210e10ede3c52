"""One protocol for every policy (issue 13): the start protocol, one feedback renderer, the task
brief, line-boundary clipping, presets, greedy's draft rule and its memory, and truncated answers
that never run. Policies run on the tiny task with a scripted model."""

from __future__ import annotations

import json
import random

import pytest

from gome_env.tree import Tree
from policies import PolicyConfig, make_policy, run_episode
from policies.base import Budget, Episode
from policies.edits import FORMAT_INSTRUCTIONS, EditRequest, request_edits, truncation_error
from policies.greedy import aide_select, good_nodes, memory_summary
from policies.models import ScriptedBackend
from policies.prompts import clip, node_feedback
from policies.taskinfo import task_brief

POLICY_NAMES = ["gome", "greedy", "mcts", "evolutionary"]
BASELINE_LINE = 'majority = Counter(row["label"] for row in train).most_common(1)[0][0]'
JSON_ANSWER = json.dumps({
    "problems": [{"problem": "the baseline predicts one class", "evidence": "accuracy near 0.5",
                  "hypothesis": "predict with a linear rule on x0 + x1", "expected_effect": "accuracy above 0.9",
                  "alignment": 8, "impact": 9, "novelty": 5, "feasibility": 9, "risk_reward": 7}],
    "observations": "the run improved the dev score", "reasoning": "the rule fits the blobs",
    "hypothesis_evaluation": "confirmed", "replace_best": True, "decision": True,
})
PROGRAM = '''import csv
import os


def rows(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def predict(row):
    return 1 if float(row["x0"]) + float(row["x1"]) > 0 else 0


os.makedirs("submission", exist_ok=True)
for split in ("dev", "test"):
    with open(f"submission/{split}.csv", "w") as out:
        out.write("id,label\\n")
        for row in rows(f"data/{split}.csv"):
            out.write(f"{row['id']},{predict(row)}\\n")
'''


def scripted(bug_every: int = 3) -> ScriptedBackend:
    """JSON for any prompt that asks for JSON, else a fresh whole program (every ``bug_every``-th
    one raises), each answer unique. Nothing in it repeats the baseline's code."""
    count = [0]

    def answer(messages: list[dict]) -> str:
        if "JSON" in messages[-1]["content"]:
            return JSON_ANSWER
        count[0] += 1
        tail = "\nraise ValueError('boom')\n" if count[0] % bug_every == 0 else ""
        return f"Plan: a linear rule on x0 + x1.\n```python\n{PROGRAM}# variant {count[0]}\n{tail}```"

    return ScriptedBackend(answer)


def writes_code(conversation: list[dict]) -> bool:
    """A prompt that asks for code (drafts, improvements, implementations, debugging)."""
    text = conversation[-1]["content"]
    return "JSON" not in text and any(f in text for f in set(FORMAT_INSTRUCTIONS.values()))


def first_code_prompt(backend: ScriptedBackend) -> tuple[int, str]:
    for i, conv in enumerate(backend.conversations):
        if writes_code(conv):
            return i, "\n".join(m["content"] for m in conv)
    raise AssertionError("no prompt asked for code")


def play(make_tiny_env, name: str, steps: int = 3, **config):
    env = make_tiny_env(max_steps=steps, sandbox="subprocess")
    backend = scripted()
    policy = make_policy(name, model=backend, **config)
    record = run_episode(env, policy, seed=0)
    assert record["error"] is None, record["error"]
    return env, backend, policy, record


# ---------------------------------------------------------------------- the parity test


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_start_protocol_decides_what_the_first_prompts_see(make_tiny_env, name):
    env, backend, policy, _ = play(make_tiny_env, name, start="baseline")
    _, first = first_code_prompt(backend)
    root = env.unwrapped.tree.root
    assert BASELINE_LINE in first, f"{name}: first code prompt under start=baseline lacks node 0's code"
    assert node_feedback(root.diagnostics, policy.config) in first, f"{name}: node 0's feedback missing"

    env, backend, policy, _ = play(make_tiny_env, name, start="scratch")
    upto, _ = first_code_prompt(backend)
    for conv in backend.conversations[: upto + 1]:
        text = "\n".join(m["content"] for m in conv)
        assert BASELINE_LINE not in text, f"{name}: a prompt under start=scratch shows node 0's code"


@pytest.mark.parametrize("detail", ["full", "minimal"])
def test_every_policy_renders_the_same_feedback_for_the_same_node(make_tiny_env, detail):
    shown = {}
    for name in POLICY_NAMES:
        env, backend, policy, record = play(make_tiny_env, name, steps=4, diagnostics=detail)
        tree = env.unwrapped.tree
        _, first = first_code_prompt(backend)
        # node 0: one text for every policy (the shared default prompt sizes)
        expected = node_feedback(tree.root.diagnostics, PolicyConfig(diagnostics=detail))
        assert expected in first, f"{name}: node 0's feedback differs from prompts.node_feedback"
        shown[name] = expected
        # every node a step edited: its feedback, through the one renderer, in the step's prompt
        for step in record["steps"]:
            if step["kind"] in ("draft", "crossover", "merge"):
                continue
            prompts = ["\n".join(m["content"] for m in c["prompt"]) for c in step["calls"] if writes_code(c["prompt"])]
            parent = tree[step["parent_id"]]
            assert prompts and node_feedback(parent.diagnostics, policy.config) in prompts[0], (
                f"{name}: the {step['kind']} prompt of node {parent.id} does not show its feedback")
    assert len(set(shown.values())) == 1
    full = node_feedback(tree.root.diagnostics, PolicyConfig(diagnostics="full"))
    assert (detail == "full") == (full == shown["greedy"])


# ---------------------------------------------------------------------- task brief and clipping


def test_task_brief_has_a_data_preview_limits_and_packages(make_tiny_env):
    env = make_tiny_env(sandbox="subprocess")
    env.reset()
    brief = task_brief(env.unwrapped)
    assert brief.startswith(env.unwrapped.task_text.rstrip())
    assert "## Data preview" in brief and "x0 (float64)" in brief and "First 3 rows:" in brief
    assert "Target `label` distribution:" in brief and "%)" in brief
    assert "within 20 seconds" in brief and "## Packages available" in brief and "numpy" in brief
    assert Episode(env, None, Budget()).task_text == brief


def test_clip_keeps_whole_lines_and_marks_the_cut():
    text = "\n".join(f"line {i}: " + "x" * (i % 7) for i in range(200))
    out = clip(text, 500)
    assert len(out) <= 500 and "lines cut ...]" in out
    kept = [ln for ln in out.split("\n") if not ln.startswith("[...")]
    assert all(ln in text.split("\n") for ln in kept)  # every kept line is whole
    assert kept[0] == "line 0: " and kept[-1] == text.split("\n")[-1]
    assert clip("short", 100) == "short"
    assert clip("y" * 1000, 100).endswith("[... line cut ...]")  # a single line longer than the limit


# ---------------------------------------------------------------------- settings


def test_make_policy_presets_are_the_benchmarks():
    from scripts.benchmark import PRESETS as BENCH_PRESETS, preset_config

    from policies.presets import PRESETS

    assert BENCH_PRESETS is PRESETS
    for name in POLICY_NAMES:
        policy = make_policy(name, model="scripted", preset="smoke")
        for key, value in preset_config("smoke", [name])[name].items():
            assert getattr(policy.config, key) == value
    assert make_policy("gome", model="scripted", preset="smoke", max_tokens=99).config.max_tokens == 99
    assert make_policy("greedy", model="scripted").config == make_policy("greedy", model="scripted", preset="full").config
    with pytest.raises(ValueError, match="valid presets: smoke, full"):
        make_policy("greedy", model="scripted", preset="tiny")
    assert "docs/POLICIES.md" in make_policy.__doc__


# ---------------------------------------------------------------------- greedy (AIDE)


def tree_of(rows: list[tuple[int | None, str, float | None]]) -> Tree:
    tree = Tree(True)
    for i, (parent, status, score) in enumerate(rows):
        tree.add(parent, i, "", {"solution.py": f"# {i}\n"}, {"status": status, "dev_score": score})
    return tree


def test_greedy_drafts_until_a_drafted_node_works_under_scratch():
    rng = random.Random(0)
    tree = tree_of([(None, "ok", 0.5), (0, "runtime_error", None)])
    assert aide_select(tree, 1, 0.0, 3, rng, start="baseline") == ("improve", 0)  # the baseline is good
    assert aide_select(tree, 1, 0.0, 3, rng, start="scratch") == ("draft", 0)  # AIDE has no good node yet
    assert [n.id for n in good_nodes(tree, "scratch")] == []
    tree.add(0, 2, "", {"solution.py": "# 2\n"}, {"status": "ok", "dev_score": 0.4})
    assert aide_select(tree, 1, 0.0, 3, rng, start="scratch") == ("improve", 2)  # worse than the baseline, but drafted
    assert aide_select(tree, 1, 0.0, 3, rng, start="baseline") == ("improve", 0)


def test_greedy_memory_keeps_plan_analysis_and_metric_whole():
    tree = tree_of([(None, "ok", 0.5), (0, "ok", 0.7), (0, "ok", 0.8)])
    plan = "Use gradient boosting with " + "many carefully tuned settings " * 200 + "END."
    memory = memory_summary(tree, {1: plan, 2: "scale features"}, start="scratch")
    assert "baseline" not in memory and f"Design: {plan.strip()}" in memory and "Validation Metric: 0.7" in memory
    assert memory.count("Results:") == 2  # AIDE's journal summary: every good node, whole, no cap
    assert "Design: the provided baseline" in memory_summary(tree, {}, start="baseline")


# ---------------------------------------------------------------------- truncated answers never run


def test_truncated_answers_are_parse_failures_and_retried(make_tiny_env):
    env = make_tiny_env(sandbox="subprocess")
    env.reset()
    long_answer = "Plan.\n```python\n" + "x = 1\n" * 50 + "```"
    answers = [long_answer, f"Plan.\n```python\n{PROGRAM}", f"Plan.\n```python\n{PROGRAM}```"]
    backend = ScriptedBackend(answers)
    cfg = make_policy("greedy", model=backend, max_tokens=120, max_parse_retries=2).config
    episode = Episode(env, backend, Budget())
    (outcome,) = request_edits(episode, [EditRequest([{"role": "user", "content": "go"}], env.files(), "whole")], config=cfg)
    assert [c.finish_reason for c in outcome.calls] == ["length", "stop", "stop"]
    assert "cut off at the length limit" in outcome.calls[0].error and "never closed" in outcome.calls[1].error
    assert outcome.ok and episode.parse_failures == 2
    assert truncation_error(f"```python\n{PROGRAM}```", "stop") is None


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_a_model_cut_at_max_tokens_never_runs_a_program(make_tiny_env, name):
    env = make_tiny_env(max_steps=3, sandbox="subprocess")
    cut = ScriptedBackend(lambda m: JSON_ANSWER if "JSON" in m[-1]["content"] else f"Plan.\n```python\n{PROGRAM}```")
    record = run_episode(env, make_policy(name, model=cut, max_tokens=20, max_parse_retries=1), seed=0)
    assert record["error"] is None, record["error"]
    assert record["steps"] == [] and record["stopped_by"] == "parse_failures"
    assert len(env.unwrapped.tree) == 1 and record["final"]["node_id"] == 0
    assert any(c["finish_reason"] == "length" for c in record["unstepped_calls"])
