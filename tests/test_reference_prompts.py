"""Each tree search's prompts carry its reference's sections (issue 23): AIDE's draft, improve and
debug prompts for greedy (aideml ``aide/agent.py``), AIRA-dojo's operator prompts for MCTS,
evolutionary search and greedy with ``operators="aira"`` (``aira_operators/*.yaml``), on whole
episodes of the tiny task with a scripted model."""

from __future__ import annotations

import json

import pytest

from policies import aide_prompts, aira_prompts, make_policy, run_episode
from policies.context import LEFT_OUT
from policies.models import ScriptedBackend
from test_policy_protocol import BASELINE_LINE, PROGRAM

REVIEW = json.dumps({"is_bug": False, "summary": "a clean run"})
BOOM = "\nraise ValueError('boom')\n"

AIDE = {
    "draft": (aide_prompts.DRAFT_INTRO, ["# Task", "# Memory", "## Response format", "## Solution sketch guideline",
                                         "no ensembling and no hyper-parameter optimisation", "3-5 sentences",
                                         "exploratory data analysis", "## Implementation guideline",
                                         "5-fold cross-validation", "hold-out validation set"]),
    "improve": (aide_prompts.IMPROVE_INTRO, ["# Task", "# Memory", "## Solution improvement sketch guideline",
                                             "exactly one actionable improvement", "atomic", "## Implementation guideline",
                                             "# Previous solution", "## Code"]),
    "debug": (aide_prompts.DEBUG_INTRO, ["# Task", "# Previous (buggy) implementation", "# Execution output", "boom",
                                         "## Bugfix improvement sketch guideline", "## Implementation guideline"]),
}
AIRA = {
    "draft": (aira_prompts.INTRO, ["EXACTLY ONE IDEA", "# Task", "# PREVIOUSLY EXPLORED IDEAS", "**CONSTRAINTS**",
                                   "torch.optim.AdamW", "**DATA**", "**COMPUTE**", "DIFFERENT ASPECT OF THE SOLUTION",
                                   "the first idea should be simple", "PRINTS THE 5-FOLD CROSS-VALIDATION",
                                   "# Idea to implement"]),
    "improve": (aira_prompts.INTRO, ["improves an existing solution", "# PREVIOUS SOLUTION", "## Code", "## Terminal output",
                                     "# PREVIOUSLY EXPLORED IMPROVEMENT IDEAS", "**CONSTRAINTS**",
                                     "DIFFERENT IMPROVEMENT OF THE SOLUTION", "# Improvement Idea to implement"]),
    "debug": (aira_prompts.DEBUG_INTRO, ["# Task", "# Previous debugging attempts", "# Buggy Implementation",
                                         "# Execution Output (Error)", "boom", "**Do NOT** change the core method",
                                         "# Other remarks", "# Bug Fix Plan"]),
    "crossover": (aira_prompts.CROSSOVER_INTRO, ["# Task", "# PREVIOUS SOLUTION 1", "# PREVIOUS SOLUTION 2", "# INSTRUCTIONS",
                                                 "**Crossover Plan**", "**CONSTRAINTS**", "# Crossover Plan"]),
}


def answers(buggy_first: int = 0):
    """Reviews answered with REVIEW, edits with a whole program (the first ``buggy_first`` raise)."""
    count = [0]

    def answer(messages):
        if '"is_bug"' in messages[-1]["content"]:
            return REVIEW
        count[0] += 1
        return f"Plan: idea {count[0]}.\n```python\n{PROGRAM}# variant {count[0]}\n{BOOM if count[0] <= buggy_first else ''}```"

    return answer


def prompts_by_kind(record) -> dict[str, list[list[dict]]]:
    """Every edit conversation of the episode, by the step kind it made."""
    out: dict[str, list] = {}
    for step in record["steps"]:
        for call in step["calls"]:
            if call["kind"] == step["kind"]:
                out.setdefault(step["kind"], []).append(call["prompt"])
    return out


def check(found: dict, expected: dict) -> None:
    for kind, (intro, sections) in expected.items():
        assert kind in found, f"no {kind} prompt"
        for conversation in found[kind]:
            assert conversation[0] == {"role": "system", "content": intro}
            user = conversation[-1]["content"]
            missing = [s for s in sections if s not in user]
            assert not missing, f"{kind} prompt lacks {missing}"


def run(env, name: str, backend, **config):
    record = run_episode(env, make_policy(name, model=backend, **config), seed=0)
    assert record["error"] is None, record["error"]
    return record


def test_greedy_prompts_are_aides(make_tiny_env):
    # a buggy draft, its debug, then an improvement of the best
    record = run(make_tiny_env(max_steps=3, sandbox="subprocess"), "greedy", ScriptedBackend(answers(1)), num_drafts=1,
                 debug_prob=1.0)
    assert [s["kind"] for s in record["steps"]] == ["draft", "debug", "improve"]
    found = prompts_by_kind(record)
    check(found, AIDE)
    assert BASELINE_LINE in found["draft"][0][-1]["content"]  # start="baseline": the draft sees node 0
    improve = found["improve"][0][-1]["content"]
    # AIDE's journal summary: design, results (the review's analysis) and metric of every good node
    assert "Design: Plan: idea 2.\nResults: a clean run\nValidation Metric: 1.0" in improve
    assert "Design: the provided baseline" in improve and "idea 1" not in improve  # the buggy draft is not good


def test_greedy_with_airas_operators_is_airas_greedy(make_tiny_env):
    record = run(make_tiny_env(max_steps=3, sandbox="subprocess"), "greedy", ScriptedBackend(answers(1)), num_drafts=1,
                 debug_prob=1.0, max_debug_depth=20, operators="aira")
    assert [s["kind"] for s in record["steps"]] == ["draft", "debug", "improve"]
    check(prompts_by_kind(record), {k: v for k, v in AIRA.items() if k != "crossover"})


def test_mcts_prompts_are_airas(make_tiny_env):
    # child 1 buggy and debugged, child 2 clean; the next expansion improves
    record = run(make_tiny_env(max_steps=4, sandbox="subprocess"), "mcts", ScriptedBackend(answers(1)), num_children=2,
                 max_debug_depth=1)
    assert [s["kind"] for s in record["steps"]] == ["draft", "debug", "draft", "improve"]
    check(prompts_by_kind(record), {k: v for k, v in AIRA.items() if k != "crossover"})


def test_evolutionary_prompts_are_airas_and_crossovers_see_no_memory(make_tiny_env):
    record = run(make_tiny_env(max_steps=4, sandbox="subprocess"), "evolutionary", ScriptedBackend(answers()),
                 individuals_per_generation=2, crossover_prob=1.0, crossover_after=1)
    assert [s["kind"] for s in record["steps"]] == ["draft", "draft", "crossover", "crossover"]
    found = prompts_by_kind(record)
    check(found, {k: AIRA[k] for k in ("draft", "crossover")})
    assert all("PREVIOUSLY EXPLORED CROSSOVER" not in c[-1]["content"] for c in found["crossover"])


@pytest.mark.parametrize("name", ["greedy", "mcts"])
def test_memories_are_whole_until_the_context_window_is_full(make_tiny_env, name):
    """No character cap: a long analysis is kept whole; only a window too small for every entry
    leaves the oldest out, with the marker."""
    long_review = json.dumps({"is_bug": False, "summary": "The run " + "was carefully checked and " * 80 + "END."})

    def answer(messages):
        if '"is_bug"' in messages[-1]["content"]:
            return long_review  # a 400-word analysis: each memory entry is long
        return f"Plan: a linear rule.\n```python\n{PROGRAM}# {len(messages[-1]['content'])}\n```"

    options = {"num_drafts": 3} if name == "greedy" else {"num_children": 3}
    record = run(make_tiny_env(max_steps=3, sandbox="subprocess"), name, ScriptedBackend(answer), **options)
    conversation = [c for c in record["steps"][-1]["calls"] if c["kind"] == "draft"][-1]["prompt"]
    last = conversation[-1]["content"]
    assert last.count("END.") == 2 and "left out" not in last  # both earlier analyses, whole

    max_tokens = make_policy(name, model="scripted").config.max_tokens
    words = sum(len(m["content"].split()) for m in conversation)
    small = ScriptedBackend(answer, context_window=words + max_tokens - 200)  # fits one long entry, not two
    record = run(make_tiny_env(max_steps=3, sandbox="subprocess"), name, small, **options)
    last = [c for c in record["steps"][-1]["calls"] if c["kind"] == "draft"][-1]["prompt"][-1]["content"]
    marker = LEFT_OUT.split("{n}")[0]
    assert marker in last and last.count("END.") == 1  # the oldest entry left out whole, marked
