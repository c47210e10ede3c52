"""GOME's pieces: the diagnosis (gradient), the memories (momentum), selection, the all-reduce,
and whole episodes on the tiny task checking batching and the ablation switches."""

from __future__ import annotations

import json
import random
import re

import pytest

from helpers import improve
from policies import make_policy, run_episode, table_backend
from gome_env.grading.direction import Direction
from policies.gome.diagnosis import (
    WEIGHTS, DiagnosisError, Hypothesis, fallback_hypotheses, parse_diagnosis, scenario_multiplier, select_hypothesis,
    selection_weights,
)
from policies.gome.feedback import parse_feedback
from policies.gome.update import accepts, success_gain
from policies.gome.memory import FailureMemory, SuccessMemory, similarity
from policies.gome.traces import Trace, all_reduce

PROBLEM = {"problem": "the baseline predicts the majority class", "evidence": "accuracy near 0.5",
           "hypothesis": "predict with a linear rule on x0 + x1", "expected_effect": "accuracy above 0.9",
           "alignment": 8, "impact": 9, "novelty": 5, "feasibility": 9, "risk_reward": 7}
DIAGNOSIS = json.dumps({"problems": [PROBLEM]})
FEEDBACK = json.dumps({"Code Change Summary": "a linear rule on x0 + x1 replaces the majority class",
                       "Observations": "accuracy rose", "Feedback for Hypothesis": "confirmed",
                       "Replace Best Result": "yes", "Reasoning": "[Experiment Analysis] clearly better"})


def gome_backend(baseline: str, buggy: bool = False):
    """JSON for diagnoses; else a unique whole program (improved, or one that raises)."""
    count = [0]

    def code(messages):
        count[0] += 1
        source = baseline + "\nraise ValueError('boom')\n" if buggy else improve(baseline)
        return f"```python\n{source}\n# variant {count[0]}\n```"

    return table_backend({"Replace Best Result": feedback_answer, "Answer with JSON only": DIAGNOSIS}, default=code)


def feedback_answer(messages) -> str:
    """RD-Agent's feedback, scripted: replace the best only when the current score is higher."""
    found = re.search(r"current \w+ is (-?[\d.]+\d|None), while the best so far is (-?[\d.]*\d|None)", messages[-1]["content"])
    current, best = found.groups()
    better = current != "None" and (best == "None" or float(current) > float(best))
    return FEEDBACK.replace('"yes"', '"yes"' if better else '"no"')


def play(make_tiny_env, tiny_spec, steps: int, buggy: bool = False, **config):
    """An episode on the tiny task; these tests pin this project's single diagnosis call
    (``diagnosis_calls="combined"``) and the seeded draw unless told otherwise (RD-Agent's three
    calls are tested in tests/test_equal_spend.py)."""
    config.setdefault("diagnosis_calls", "combined")
    config.setdefault("draw", "rng")
    env = make_tiny_env(max_steps=steps, sandbox="subprocess")
    backend = gome_backend(tiny_spec.baseline_source, buggy)
    policy = make_policy("gome", model=backend, **config)
    record = run_episode(env, policy, seed=0)
    assert record["error"] is None, record["error"]
    return record, policy, backend


def user_prompts(backend, marker: str) -> list[str]:
    return [c[-1]["content"] for c in backend.conversations if marker in c[-1]["content"]]


# ---------------------------------------------------------------------- gradient


def test_parse_diagnosis_validates_and_scores():
    (h,) = parse_diagnosis(f"Here you go:\n```json\n{DIAGNOSIS}\n```")
    assert h.hypothesis == PROBLEM["hypothesis"] and h.evidence == PROBLEM["evidence"]
    assert h.weighted_score == pytest.approx(0.2 * 8 + 0.4 * 9 + 0.2 * 5 + 0.1 * 9 + 0.1 * 7)
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)
    many = [{**PROBLEM, "hypothesis": f"h{i}", "impact": i} for i in range(1, 8)]
    parsed = parse_diagnosis(json.dumps(many), max_problems=3)  # a bare list is accepted
    assert [p.hypothesis for p in parsed] == ["h7", "h6", "h5"]
    # RD-Agent's compute_top_scores: a missing or unreadable score counts 0, a score is not clipped
    (raw,) = parse_diagnosis(json.dumps({"problems": [{"hypothesis": "x", "impact": 9, "novelty": "high"}]}))
    assert raw.scores["impact"] == 9 and raw.scores["novelty"] == 0 and raw.scores["alignment"] == 0
    assert raw.weighted_score == pytest.approx(0.4 * 9)
    for bad in ["no json at all", '{"problems": []}', '{"problems": [{"problem": "p"}]}', "{broken"]:
        with pytest.raises(DiagnosisError, match="JSON"):
            parse_diagnosis(bad)


def test_fallback_hypotheses():
    (fix,) = fallback_hypotheses({"status": "runtime_error", "reason": "KeyError: 'x9'"}, node_id=7)
    assert "KeyError" in fix.hypothesis and fix.source == "fallback" and fix.node_id == 7  # fixes the node it came from
    assert len(fallback_hypotheses({"status": "ok"}, node_id=7)) == 3
    assert all(h.node_id is None for h in fallback_hypotheses({"status": "ok"}, node_id=7))  # improve the best


# ---------------------------------------------------------------------- momentum


def test_success_memory_grows_and_decays():
    memory = SuccessMemory(beta=0.5)
    entry = memory.add("use gradient boosting", gain=0.2, dev_score=0.8, node_id=3)
    assert len(memory) == 1 and entry.weight == 0.2
    memory.decay()
    memory.decay()
    assert entry.weight == pytest.approx(0.2 * 0.5**2)  # gain * beta**rounds
    memory.add("scale the features", gain=0.1, dev_score=0.9, node_id=4)
    assert len(memory) == 2 and memory.velocity == pytest.approx(0.05 + 0.1)
    # the recent success pulls harder than the decayed one
    assert memory.momentum("scale the features") == pytest.approx(0.1 / 0.15)
    assert memory.momentum("use gradient boosting") == pytest.approx(0.05 / 0.15)
    assert memory.momentum("xyz") == 0
    lines = memory.render("accuracy").splitlines()
    assert lines[0].startswith("- scale the features") and "gain +0.1" in lines[0]  # strongest first
    capped = SuccessMemory(beta=1.0, capacity=2)
    for i, g in enumerate([0.1, 0.3, 0.2]):
        capped.add(f"h{i}", g, None, i)
    assert sorted(e.gain for e in capped.entries) == [0.2, 0.3]
    with pytest.raises(ValueError):
        SuccessMemory(beta=1.5)


def test_failure_memory_and_similarity():
    failures = FailureMemory(capacity=2)
    for i in range(3):
        failures.add(f"use a deep neural network {i}", "runtime_error", None, "CUDA missing", i)
    assert len(failures) == 2 and failures.entries[0].node_id == 1
    assert failures.similarity("use a deep neural network") > 0.5
    assert "runtime_error: CUDA missing" in failures.render("accuracy")
    assert similarity("a b", "") == 0.0 and similarity("random forest", "random forest") == 1.0


def test_similarity_weighting_extension_steers_selection():
    boost = Hypothesis("weak model", "", "use gradient boosting trees", "")
    scale = Hypothesis("raw inputs", "", "standardise the inputs", "")
    success = SuccessMemory()
    success.add("gradient boosting trees helped", 0.3, 0.9, 1)
    on = selection_weights([boost, scale], success=success)
    off = selection_weights([boost, scale])
    assert off[0] == off[1] and on[0] > on[1] == off[1]
    failure = FailureMemory()
    failure.add("standardise the inputs", "ok", 0.5, "", 2)
    penalised = selection_weights([boost, scale], failure=failure)
    assert penalised[1] < penalised[0]
    rng = random.Random(0)
    picks = [select_hypothesis([boost, scale], rng, draw="rng", success=success, failure=failure)[0] is boost for _ in range(300)]
    assert sum(picks) > 200


def test_rd_agent_top_k_selection():
    # the top k by weighted score, then RD-Agent's pool: uniform among equally labelled candidates
    hyps = [Hypothesis("p", "", f"h{i}", "", scores={**dict.fromkeys(WEIGHTS, 5.0), "impact": float(i)}) for i in range(1, 8)]
    rng = random.Random(0)
    picks = [select_hypothesis(hyps, rng, draw="rng")[0].hypothesis for _ in range(2000)]
    assert set(picks) == {"h7", "h6", "h5", "h4", "h3"}  # top 5 by the 0.2/0.4/0.2/0.1/0.1 score
    assert max(picks.count(h) for h in set(picks)) < 1.3 * min(picks.count(h) for h in set(picks))
    _, weights = select_hypothesis(hyps, rng)
    assert weights == [1.0] * 5
    # the score-proportional extension weighs by the weighted score
    _, weights = select_hypothesis(hyps, rng, score_proportional=True)
    assert weights == pytest.approx([h.weighted_score for h in reversed(hyps[2:])])
    # labels: a scenario problem counts `multiplier` times, a feedback problem 3 - multiplier
    scen = Hypothesis("s", "", "scenario idea", "", label="scenario")
    feed = Hypothesis("f", "", "feedback idea", "", label="feedback")
    assert selection_weights([scen, feed], multiplier=3) == [3.0, 0.0]
    assert selection_weights([scen, feed], multiplier=1) == [1.0, 2.0]
    assert selection_weights([scen], multiplier=0) == [1.0]  # nothing left in the pool: uniform
    assert [scenario_multiplier([False] * n) for n in (0, 3, 4, 8, 12)] == [3, 3, 2, 1, 0]
    # RD-Agent's draw (the default): md5 of the ranked candidates, modulo the pool: the same
    # candidates always give the same pick, whatever the RNG; a pool count of 0 is never picked
    md5_picks = {select_hypothesis(hyps, random.Random(s))[0].hypothesis for s in range(20)}
    assert len(md5_picks) == 1 and md5_picks <= {"h7", "h6", "h5", "h4", "h3"}
    assert all(select_hypothesis([scen, feed], random.Random(s), multiplier=3)[0] is scen for s in range(5))
    assert select_hypothesis([scen, feed], random.Random(0), multiplier=0)[0] is feed
    with pytest.raises(ValueError, match="valid draws: md5, rng"):
        select_hypothesis(hyps, rng, draw="dice")
    assert scenario_multiplier([True, True, True]) == 2  # (3 x 3) // 2 = 4 -> 3 - 1


def test_feedback_parsing():
    fb = parse_feedback("```json\n" + FEEDBACK + "\n```")
    assert fb.decision is True and "linear rule" in fb.code_change_summary and fb.reasoning.startswith("[Experiment")
    assert parse_feedback('{"replace best result": "No", "reasoning": "worse"}').decision is False
    for bad in ["no json", '{"Replace Best Result": "maybe"}', '{"Reasoning": "x"}']:
        with pytest.raises(ValueError, match="Replace Best Result"):
            parse_feedback(bad)


def test_acceptance_rule_and_first_success_gain():
    up, down = Direction(True), Direction(False)
    assert accepts(0.7, 0.5, up, buggy=False, decision=False) is False  # the feedback's decision wins
    assert accepts(0.4, 0.5, up, buggy=False, decision=True) is True
    assert accepts(0.7, 0.5, up, buggy=False, decision=None) is True  # no feedback: the score rule
    assert accepts(0.7, 0.5, up, buggy=False, decision=None, min_gain=0.3) is False
    assert accepts(2.0, 3.0, down, buggy=False, decision=None) is True
    assert accepts(0.9, None, up, buggy=False, decision=False) is True  # the first valid result always replaces
    assert accepts(None, None, up, buggy=True, decision=True) is False
    assert success_gain(0.8, 0.5, up) == pytest.approx(0.3) and success_gain(2.0, 3.0, down) == pytest.approx(1.0)
    assert success_gain(0.8, None, up) == pytest.approx(0.8) and success_gain(0.0, None, up) == 1.0  # never 0


def test_all_reduce_shares_success_memory():
    traces = [Trace(i, 0, 0.5, SuccessMemory(), FailureMemory()) for i in range(3)]
    traces[0].success.add("a", 0.1, 0.6, 10, trace=0)
    traces[2].success.add("c", 0.2, 0.7, 12, trace=2)
    all_reduce(traces)
    assert all(sorted(e.node_id for e in t.success.entries) == [10, 12] for t in traces)
    all_reduce(traces)  # idempotent: no duplicates
    assert all(len(t.success) == 2 for t in traces)


# ---------------------------------------------------------------------- episodes


def test_k_traces_make_one_batched_call_per_round_phase(make_tiny_env, tiny_spec):
    record, policy, backend = play(make_tiny_env, tiny_spec, steps=6, num_traces=3, cross_trace_diversity=False)
    # two rounds: diagnoses, implementations and feedback each one batch of K = 3 (round 2's
    # feedback is never asked: the step budget is spent)
    assert backend.calls == [3, 3, 3, 3, 3]
    assert [s["kind"] for s in record["steps"]] == ["implement"] * 6
    assert [s["trace"] for s in record["steps"]] == [0, 1, 2, 0, 1, 2]
    assert policy.rounds == 2 and record["policy_summary"]["rounds"] == 2
    # each trace branches from its own best: round 2 builds on round 1's accepted node
    first = {s["trace"]: s["node_id"] for s in record["steps"][:3]}
    assert all(s["parent_id"] == first[s["trace"]] for s in record["steps"][3:])
    assert [c["kind"] for c in record["steps"][0]["calls"]] == ["diagnose", "implement"]
    assert [c["kind"] for c in record["steps"][3]["calls"]] == ["feedback", "diagnose", "implement"]  # every call is counted


def test_traces_are_asked_to_differ_at_the_start(make_tiny_env, tiny_spec):
    record, policy, backend = play(make_tiny_env, tiny_spec, steps=3, num_traces=3)
    assert backend.calls[:4] == [1, 1, 1, 3]  # round 0's diagnoses one after another, then one batch
    diagnoses = user_prompts(backend, "List up to")[:3]
    assert "Diversity to your siblings" not in diagnoses[0]
    assert diagnoses[1].count("=== Sibling") == 1 and diagnoses[2].count("=== Sibling") == 2
    assert PROBLEM["hypothesis"] in diagnoses[2].split("# Diversity to your siblings")[1]


def test_success_memory_on_shows_accepted_experiments_and_momentum_decays(make_tiny_env, tiny_spec):
    record, policy, backend = play(make_tiny_env, tiny_spec, steps=3, num_traces=1, beta=0.5)
    (trace,) = policy.traces
    steps = record["steps"]
    baseline = record["final"]["baseline_dev_score"]
    assert steps[0]["dev_score"] > baseline  # round 0 improves: the feedback says replace
    assert trace.best_id == steps[0]["node_id"] and trace.accepted == 1
    assert [e.feedback_source for e in trace.experiments] == ["model", "model", "rule"]  # round 3: budget spent
    (entry,) = trace.success.entries  # rounds 1, 2 reach the same score: not accepted
    assert entry.gain == pytest.approx(steps[0]["dev_score"] - baseline)
    assert entry.weight == pytest.approx(entry.gain * 0.5**2)  # the beta extension: decayed in rounds 1 and 2
    assert len(trace.failure) == 2
    diagnoses = user_prompts(backend, "List up to")
    assert "# Experiments so far (accepted and failed)" in diagnoses[1] and "Surpass previous best: yes" in diagnoses[1]
    assert "Code change summary: a linear rule" in diagnoses[1]  # the feedback's summary reaches the next round
    assert f"Experiment score: accuracy {steps[0]['dev_score']}" in diagnoses[1]


def test_success_memory_off_shows_failures_only(make_tiny_env, tiny_spec):
    record, policy, backend = play(make_tiny_env, tiny_spec, steps=3, num_traces=1, momentum=False)
    (trace,) = policy.traces
    assert trace.accepted == 1 and len(trace.success) == 0 and len(trace.failure) == 2
    text = "\n".join(user_prompts(backend, "# Task"))
    assert "accepted and failed" not in text and "Surpass previous best: yes" not in text
    assert "# Failed experiments so far" in user_prompts(backend, "List up to")[2]
    assert policy.config.enable_success_memory is False and record["policy_config"]["momentum"] is False
    assert make_policy("gome", model="scripted", enable_success_memory=False).config.momentum is False


def test_diagnostics_richness_switch(make_tiny_env, tiny_spec):
    _, _, full = play(make_tiny_env, tiny_spec, steps=2, num_traces=1, diagnostics="full")
    _, _, minimal = play(make_tiny_env, tiny_spec, steps=2, num_traces=1, diagnostics="minimal")
    full_text, minimal_text = "\n".join(user_prompts(full, "# Task")), "\n".join(user_prompts(minimal, "# Task"))
    assert "weakest classes" in full_text and "- run: return code" in full_text
    assert "weakest classes" not in minimal_text and "- run: return code" not in minimal_text
    assert "## Step result" in minimal_text  # status and scores are always shown


def test_sync_interval_switch(make_tiny_env, tiny_spec):
    _, shared, _ = play(make_tiny_env, tiny_spec, steps=4, num_traces=2, sync_interval=1)
    _, alone, _ = play(make_tiny_env, tiny_spec, steps=4, num_traces=2, sync_interval=0)
    assert [len(t.success) for t in shared.traces] == [2, 2]  # each trace's accept reached the other
    assert [len(t.success) for t in alone.traces] == [1, 1]


def test_bounded_debug_loop(make_tiny_env, tiny_spec):
    record, policy, _ = play(make_tiny_env, tiny_spec, steps=6, buggy=True, num_traces=1, max_debug=2)
    assert [s["kind"] for s in record["steps"]] == ["implement", "debug", "debug"] * 2
    assert [s["parent_id"] for s in record["steps"][:3]] == [0, 1, 2]  # each debug fixes the last failure
    assert policy.traces[0].best_id == 0 and len(policy.traces[0].failure) == 2


def test_merge_of_the_two_best_traces(make_tiny_env, tiny_spec):
    record, _, backend = play(make_tiny_env, tiny_spec, steps=4, num_traces=2, merge=True)
    kinds = [s["kind"] for s in record["steps"]]
    assert kinds == ["implement", "implement", "merge"] and record["stopped_by"] == "submit"
    assert "Parent A" in record["steps"][-1]["prompt"][-1]["content"]
    assert record["steps"][-1]["note"]["merged"] == [record["steps"][0]["node_id"], record["steps"][1]["node_id"]]
