"""A short real episode with the bundled default model (SmolLM2-135M on the CPU): it must run to
the end and leave a full record, however poor its edits are."""

from __future__ import annotations

import json

import pytest
from models_fixtures import hf_model, smollm2_dir  # noqa: F401 (fixtures)

from policies import make_policy, run_episode

# Small prompts and answers: the model's context is small and the CPU is slow.
SMALL = dict(max_tokens=64, max_parse_retries=0, max_task_chars=400, max_code_chars=900,
             max_feedback_chars=300, temperature=0.7)


@pytest.mark.slow
def test_short_real_gome_episode_runs_to_the_end(make_tiny_env, hf_model):  # noqa: F811
    """Two traces, one round: batched diagnosis and implementation calls. 64-token answers are
    often cut short: those run nothing (they are unusable edits), whole ones are steps."""
    env = make_tiny_env(max_steps=2, sandbox="subprocess")
    config = dict(num_traces=2, max_debug=0, diagnosis_max_tokens=64, max_problems=2)
    name = "gome"
    record = run_episode(env, make_policy(name, model=hf_model, **SMALL, **config), seed=0)
    assert record["error"] is None, record["error"]
    assert record["stopped_by"] in ("steps", "parse_failures")
    assert len(record["steps"]) + len(record["unusable_edits"]) >= 2
    assert record["usage"]["calls"] >= 2 and record["usage"]["completion_tokens"] > 0 and record["env_seconds"] > 0
    for step in record["steps"]:
        assert step["prompt"] and step["answer"] is not None and step["status"]
        assert step["prompt_tokens"] > 0 and step["calls"][-1]["finish_reason"] == "stop"  # never a cut answer
    assert record["final"]["valid_submission"]  # the baseline at worst
    json.dumps(record)
    answers = [c.get("answer") or "" for c in record["steps"] + record["unstepped_calls"] + record["unusable_edits"]]
    print(f"\n{name}: statuses {[s['status'] for s in record['steps']]}, parse failures {record['parse_failures']}, "
          f"unusable {len(record['unusable_edits'])}, calls {record['usage']['calls']}, tokens {record['usage']['prompt_tokens']}+{record['usage']['completion_tokens']}, "
          f"{record['wall_s']:.1f} s; first answer: {(answers or [''])[0][:200]!r}")
