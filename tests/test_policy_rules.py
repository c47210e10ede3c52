"""Each reference's rules, pinned on whole episodes of the tiny task with scripted models (issues 13, 23):
GOME's feedback decision, its fallback fix, its first success after a failed baseline and its
scratch start; MCTS's sequential children with AIRA's memory and its backup of an unfixed bug;
evolutionary search's one-at-a-time offspring, memory, admission, discarding of unfixed offspring
and crossover sampling."""

from __future__ import annotations

import json
import shutil

import pytest

from policies import make_policy, run_episode, table_backend
from policies.models import ScriptedBackend
from test_gome import DIAGNOSIS, FEEDBACK
from test_policy_protocol import BASELINE_LINE, PROGRAM

BOOM = "\nraise ValueError('boom')\n"
NO = FEEDBACK.replace('"yes"', '"no"').replace("clearly better", "not convincing")


def programs(buggy_first: int = 0, always_buggy: bool = False):
    """A whole program per answer, each with its own plan ("idea N"); the first ``buggy_first``
    (or all) raise."""
    count = [0]

    def code(messages):
        count[0] += 1
        tail = BOOM if always_buggy or count[0] <= buggy_first else ""
        return f"Plan: idea {count[0]}.\n```python\n{PROGRAM}# variant {count[0]}\n{tail}```"

    return code


def episode(env, name: str, backend, **config):
    policy = make_policy(name, model=backend, **config)
    record = run_episode(env, policy, seed=0)
    assert record["error"] is None, record["error"]
    return record, policy


def user_texts(backend, marker: str) -> list[str]:
    return [c[-1]["content"] for c in backend.conversations if marker in c[-1]["content"]]


# ---------------------------------------------------------------------- GOME


def test_gome_feedback_decision_is_the_acceptance_and_reaches_the_next_round(make_tiny_env):
    backend = table_backend({"Replace Best Result": NO, "Answer with JSON only": DIAGNOSIS}, default=programs())
    record, policy = episode(make_tiny_env(max_steps=2, sandbox="subprocess"), "gome", backend, num_traces=1)
    (trace,) = policy.traces
    first = record["steps"][0]
    assert first["dev_score"] > record["final"]["baseline_dev_score"]  # better, but the feedback says no
    assert trace.experiments[0].decision is False and trace.experiments[0].feedback_source == "model"
    assert record["steps"][1]["parent_id"] == 0  # round 1 edits the unreplaced best again
    # RD-Agent's hypothesis call of round 1 sees the experiment in the history (describe.trace)
    diagnosis = user_texts(backend, "# Identified Challenges")[1]
    assert "Surpass previous best: no" in diagnosis and "Experiment feedback: [Experiment Analysis] not convincing" in diagnosis
    assert "Code change summary: a linear rule" in diagnosis
    # the combined diagnosis (an extension) also shows the previous trial's feedback
    backend = table_backend({"Replace Best Result": NO, "Answer with JSON only": DIAGNOSIS}, default=programs())
    episode(make_tiny_env(max_steps=2, sandbox="subprocess"), "gome", backend, num_traces=1, diagnosis_calls="combined")
    diagnosis = user_texts(backend, "List up to")[1]
    assert "Feedback decision (replace the best): no" in diagnosis and "not convincing" in diagnosis

    # accept="score": no feedback call, the dev score decides
    backend = table_backend({"Replace Best Result": NO, "Answer with JSON only": DIAGNOSIS}, default=programs())
    record, policy = episode(make_tiny_env(max_steps=2, sandbox="subprocess"), "gome", backend, num_traces=1, accept="score")
    assert user_texts(backend, "Replace Best Result") == []
    assert policy.traces[0].best_id == record["steps"][0]["node_id"]


def test_gome_fallback_fix_is_applied_to_the_failed_node_it_came_from(make_tiny_env):
    backend = table_backend({"Answer with JSON only": "I cannot answer in JSON."}, default=programs(buggy_first=1))
    record, policy = episode(make_tiny_env(max_steps=2, sandbox="subprocess"), "gome", backend, num_traces=1,
                             max_debug=0, max_parse_retries=0)
    first, second = record["steps"]
    assert first["status"] == "runtime_error" and first["parent_id"] == 0
    assert second["parent_id"] == first["node_id"]  # the fix edits the failed node, not the best (node 0)
    assert second["note"]["hypothesis"]["source"] == "fallback" and "Fix the cause" in second["note"]["hypothesis"]["hypothesis"]
    implement = [c for c in second["calls"] if c["kind"] == "implement"][0]["prompt"][-1]["content"]
    assert "raise ValueError('boom')" in implement and BASELINE_LINE not in implement


@pytest.fixture
def broken_baseline_env(tiny_spec, tmp_path):
    """The tiny task with a baseline that crashes."""
    from gome_env.env import MLEEnv
    from gome_env.tasks.task import load_spec

    folder = tmp_path / "envs" / "tiny"
    shutil.copytree(tiny_spec.folder, folder)
    (folder / "baseline.py").write_text(tiny_spec.baseline_source + BOOM)
    env = MLEEnv(load_spec("tiny", tmp_path / "envs"), max_steps=2, sandbox="subprocess", workdir=tmp_path / "work")
    yield env
    env.close()


def test_gome_first_success_after_a_failed_baseline_has_a_real_gain(broken_baseline_env):
    backend = table_backend({"Replace Best Result": NO, "Answer with JSON only": DIAGNOSIS}, default=programs())
    record, policy = episode(broken_baseline_env, "gome", backend, num_traces=1)
    assert record["final"]["baseline_dev_score"] is None
    (trace,) = policy.traces
    first = record["steps"][0]
    # RD-Agent: the first valid result always replaces the best, whatever the feedback said
    assert trace.experiments[0].feedback_source == "first_valid" and trace.best_id == first["node_id"]
    (entry,) = trace.success.entries
    assert entry.gain == pytest.approx(first["dev_score"]) and entry.gain > 0


def test_gome_scratch_start_drafts_without_the_baseline(make_tiny_env):
    backend = table_backend({"Replace Best Result": NO, "Answer with JSON only": DIAGNOSIS}, default=programs())
    record, policy = episode(make_tiny_env(max_steps=2, sandbox="subprocess"), "gome", backend, num_traces=1, start="scratch")
    first = record["steps"][0]
    assert first["kind"] == "draft" and first["parent_id"] == 0
    assert all(BASELINE_LINE not in "\n".join(m["content"] for m in c) for c in backend.conversations[:2])
    assert "No previous complete experiment available" in user_texts(backend, "# Current SOTA Implementation")[0]
    assert policy.traces[0].best_id == first["node_id"]  # a first valid result, accepted


# ---------------------------------------------------------------------- MCTS (AIRA-dojo)

REVIEW = json.dumps({"is_bug": False, "summary": "the review's finding"})


def reviewed(code, review: str = REVIEW):
    """Answers reviews (the reflection call) with ``review`` and everything else with ``code``."""
    return lambda messages: review if '"is_bug"' in messages[-1]["content"] else code(messages)


def edit_prompts(backend) -> list[str]:
    return [c[-1]["content"] for c in backend.conversations if '"is_bug"' not in c[-1]["content"]]


def test_mcts_children_come_one_at_a_time_with_airas_memory(make_tiny_env):
    backend = SamplingSpy(reviewed(programs()))
    record, policy = episode(make_tiny_env(max_steps=3, sandbox="subprocess"), "mcts", backend, num_children=3)
    # one child per call at AIRA's operator sampling, each run reviewed at the analyze temperature
    assert backend.sampling == [(1, 0.6, 0.95), (1, 0.5, 1.0)] * 2 + [(1, 0.6, 0.95)]  # no review after the last step
    assert [s["kind"] for s in record["steps"]] == ["draft"] * 3
    prompts = edit_prompts(backend)
    assert "idea 1" not in prompts[0] and "# PREVIOUSLY EXPLORED IDEAS\n````\n(No memory available.)" in prompts[0]
    assert "Design: Plan: idea 1.\nResults: the review's finding\nValidation Metric: 1.0" in prompts[1]
    assert "idea 1" in prompts[2] and "idea 2" in prompts[2]
    assert BASELINE_LINE in prompts[0]  # start="baseline": the root's drafts see node 0's code

    # sibling_memory (extension): an earlier child's plan is shown even when it failed
    backend = ScriptedBackend(reviewed(programs(buggy_first=1)))
    episode(make_tiny_env(max_steps=3, sandbox="subprocess"), "mcts", backend, num_children=2, max_debug_depth=1,
            sibling_memory=True)
    assert "- sibling 1 (runtime_error): Plan: idea 1." in edit_prompts(backend)[2]

    backend = ScriptedBackend(reviewed(programs()))
    episode(make_tiny_env(max_steps=4, sandbox="subprocess"), "mcts", backend, num_children=3, batch_children=True)
    assert backend.calls[:2] == [3, 3]  # the children in one call, their reviews in another
    assert not any("idea 1" in p for p in edit_prompts(backend)[:3])  # batched siblings see no memory of each other


def test_mcts_backs_up_nothing_for_an_unfixed_bug(make_tiny_env):
    bug = json.dumps({"is_bug": True, "summary": "the ValueError is raised on purpose; remove it"})
    backend = ScriptedBackend(reviewed(programs(always_buggy=True), bug))
    record, policy = episode(make_tiny_env(max_steps=4, sandbox="subprocess"), "mcts", backend, num_children=2,
                             max_debug_depth=1)
    assert [s["kind"] for s in record["steps"]] == ["draft", "debug", "draft", "debug"]
    assert policy.stats.visits == {} and policy.stats.low is None  # no zero-value visits
    assert policy.stats.children[0] == [record["steps"][1]["node_id"], record["steps"][3]["node_id"]]
    debug_prompt = [c for c in record["steps"][1]["calls"] if c["kind"] == "debug"][0]["prompt"][-1]["content"]
    # AIRA's debug memory: the chain's earlier attempt with its review
    assert "# Previous debugging attempts\n````\nDesign: Plan: idea 1.\nAnalysis: the ValueError is raised" in debug_prompt


# ---------------------------------------------------------------------- evolutionary (AIRA-dojo)


def test_evolution_remembers_good_nodes_and_admits_at_the_average(make_tiny_env):
    backend = ScriptedBackend(reviewed(programs()))
    record, policy = episode(make_tiny_env(max_steps=4, sandbox="subprocess"), "evolutionary", backend,
                             individuals_per_generation=2)
    assert [s["kind"] for s in record["steps"]] == ["draft", "draft", "mutate", "mutate"]
    drafts = edit_prompts(backend)[:2]
    assert "idea 1" not in drafts[0] and "Design: Plan: idea 1." in drafts[1]  # AIRA: one offspring at a time
    mutate = [c for c in record["steps"][2]["calls"] if c["kind"] == "mutate"][0]["prompt"][-1]["content"]
    assert "idea 1." in mutate and "idea 2." in mutate and "# PREVIOUSLY EXPLORED IMPROVEMENT IDEAS" in mutate
    # the baseline (0.52) and both drafts (1.0) seeded generation 0; the mutations tie the average's better side
    members = set(policy.population.members)
    assert {0, 1, 2} <= members and record["steps"][2]["node_id"] in members
    assert json.dumps(policy.summary())


def test_evolution_discards_offspring_that_stay_buggy(make_tiny_env):
    for batch, kinds in ((False, ["draft", "debug", "draft", "debug"]), (True, ["draft", "draft", "debug", "debug"])):
        backend = ScriptedBackend(reviewed(programs(always_buggy=True)))
        record, policy = episode(make_tiny_env(max_steps=4, sandbox="subprocess"), "evolutionary", backend,
                                 individuals_per_generation=2, max_debug_depth=1, start="scratch", batch_generation=batch)
        assert [s["kind"] for s in record["steps"]] == kinds
        assert len(policy.population) == 0  # nothing fixed: nothing joins (and node 0 is not a member under scratch)
    assert make_policy("evolutionary", model="scripted").config.max_debug_depth == 10


class SamplingSpy(ScriptedBackend):
    """A scripted model that remembers each call's batch size, temperature and top-p."""

    def __init__(self, answer):
        super().__init__(answer)
        self.sampling: list[tuple[int, float, float]] = []

    def _chat(self, conversations, params):
        self.sampling.append((len(conversations), params.temperature, params.top_p))
        return super()._chat(conversations, params)


def test_evolution_crossovers_use_airas_crossover_temperature(make_tiny_env):
    backend = SamplingSpy(reviewed(programs()))
    record, _ = episode(make_tiny_env(max_steps=4, sandbox="subprocess"), "evolutionary", backend,
                        individuals_per_generation=2, crossover_prob=1.0, crossover_after=1, reflect=False)
    assert [s["kind"] for s in record["steps"]] == ["draft", "draft", "crossover", "crossover"]
    assert backend.sampling == [(1, 0.6, 0.95)] * 2 + [(1, 0.5, 1.0)] * 2  # operators at 0.6 / 0.95, crossovers at 0.5
    assert len(set(record["steps"][2]["note"]["parents"])) == 2

    backend = SamplingSpy(reviewed(programs()))
    episode(make_tiny_env(max_steps=4, sandbox="subprocess"), "evolutionary", backend, individuals_per_generation=2,
            crossover_prob=1.0, crossover_after=1, reflect=False, batch_generation=True)
    assert backend.sampling == [(2, 0.6, 0.95), (2, 0.5, 1.0)]  # batch_generation: one call per operator group
