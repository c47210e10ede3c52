"""One step, top to bottom: ``Evaluator.evaluate(files, patch) -> Outcome`` with typed parts, then
``commit`` puts it in the tree and computes its reward once (real sandbox, the tiny fixture task)."""

from __future__ import annotations

import json

import pytest

from helpers import edit, improve
from gome_env.commit import commit
from gome_env.diagnostics import Diagnostics
from gome_env.evaluation import Outcome
from gome_env.rewards import RewardContext
from gome_env.step_records import ErrorAnalysis, Execution, PatchInfo, Resources, Submission
from gome_env.tree import Tree


def test_evaluate_gives_an_outcome_whose_parts_are_typed_and_still_read_as_mappings(make_tiny_env):
    env = make_tiny_env(executor="cold")
    env.reset()
    files = {"solution.py": improve(env.files()["solution.py"])}
    outcome = env.runner.evaluator.evaluate(files, None)
    d = outcome.diagnostics
    assert isinstance(outcome, Outcome) and outcome.status == "ok" and outcome.files == files
    assert outcome.run is not None and not outcome.run.warm and outcome.run.worker_lost is None
    assert isinstance(d.execution, Execution) and d.execution.executor == "cold" and d.execution.returncode == 0
    assert isinstance(d.resources, Resources) and d.resources.timeout_s == env.limits.timeout_s
    assert isinstance(d.submission, Submission) and d.submission.valid and d.submission.problems == []
    assert isinstance(d.error_analysis, ErrorAnalysis) and d.error_analysis.kind == "classification"
    assert d.node_id is None and not d.is_best and d.best_dev_score is None  # not committed: no node yet
    assert outcome.test is not None and outcome.test.score is not None  # MLEEnv grades the test split by default
    # For one release the parts read like the dicts they replace, and serialise to plain JSON.
    assert d["execution"]["runtime_s"] == d.execution.runtime_s and d["submission"]["valid"] is True
    plain = json.loads(json.dumps(d.to_dict()))
    assert "per_class" in plain["error_analysis"] and "residual_mean" not in plain["error_analysis"]
    assert json.loads(json.dumps(outcome.to_dict()))["test_graded"] is True


def test_a_warm_run_says_so_in_its_run_result(make_tiny_env):
    env = make_tiny_env(executor="warm")
    env.reset()
    assert env.executor.wait_ready(60), env.executor_status().last_error
    outcome = env.runner.evaluator.evaluate({"solution.py": improve(env.files()["solution.py"])}, None)
    assert outcome.run.warm and outcome.run.worker_lost is None and outcome.diagnostics.execution.executor == "warm"


def test_a_failed_patch_is_a_typed_patch_part(make_tiny_env):
    env = make_tiny_env()
    env.reset()
    _, _, _, _, info = env.step("--- a/solution.py\n+++ b/solution.py\n@@ -1,1 +1,1 @@\n-no such line\n+x = 1\n")
    d = info["diagnostics"]
    assert isinstance(d.patch, PatchInfo) and not d.patch.applied and d.patch.error and d.reason == d.patch.error
    assert d.execution is None and d["patch"]["applied"] is False


def test_commit_finishes_the_diagnostics_once_before_the_node_enters_the_tree():
    tree = Tree(higher_is_better=True)
    root_d = Diagnostics(status="ok", dev_score=0.5)
    root = commit(tree, Outcome(root_d, {"solution.py": "x = 0\n"}), RewardContext(None, 0.5, 1.0), parent_id=None)
    assert root.node is tree.root and root.node.diagnostics is root.diagnostics and root.reward == 0.0
    assert root.diagnostics.is_best and root.diagnostics.best_dev_score == 0.5 and root.diagnostics.node_id == 0
    assert root_d.node_id is None and not root_d.is_best  # the outcome's own record is left as it was

    seen = []

    def reward(d, context):
        seen.append((d.node_id, d.parent_id, d.is_best, d.best_dev_score, context.previous_best))
        return 0.25

    context = RewardContext(previous_best=0.5, baseline=0.5, gold=1.0)
    worse = commit(tree, Outcome(Diagnostics(status="ok", dev_score=0.4), {"solution.py": "x = 1\n"}), context, reward,
                   parent_id=0, step=1, diff="d")
    better = commit(tree, Outcome(Diagnostics(status="ok", dev_score=0.7), {"solution.py": "x = 2\n"}), context, reward,
                    parent_id=0, step=2, diff="e")
    assert seen == [(1, 0, False, 0.5, 0.5), (2, 0, True, 0.7, 0.5)]  # the reward sees finished diagnostics, once each
    assert worse.reward == better.reward == 0.25 and tree.best() is better.node and tree[1].diff == "d"
    refused = commit(tree, Outcome(Diagnostics(status="patch_failed", reason="no node 9"), {}), context, reward,
                     parent_id=None, keep=False)
    assert refused.node is None and refused.diagnostics.node_id is None and len(tree) == 3 and refused.reward == 0.25
    with pytest.raises(ValueError, match="root already"):
        tree.add(None, 3, "", {}, Diagnostics())


def test_a_node_in_the_tree_is_never_changed_by_later_steps_or_views(make_tiny_env):
    env = make_tiny_env()
    env.reset()
    _, _, _, _, info = env.step(edit(env, improve))
    node = env.tree[info["node_id"]]
    assert info["diagnostics"] == node.diagnostics and info["diagnostics"] is not node.diagnostics
    assert node.diagnostics.is_best and node.diagnostics.node_id == node.id and node.diagnostics.parent_id == 0
    before = node.diagnostics.to_dict()
    info["diagnostics"]["status"] = "changed by a caller"  # a caller's copy, deep: parts and lists too
    info["diagnostics"].execution.returncode = 99
    info["diagnostics"].warnings.append({"category": "Mine", "message": "", "count": 1})
    info["diagnostics"].error_analysis.per_class.clear()
    env.step("not a diff")
    env.checkout(0)
    env.observe(node.id)
    assert env.tree[node.id].diagnostics.to_dict() == before


def test_a_custom_reward_receives_a_typed_reward_context(make_tiny_env):
    seen = []
    env = make_tiny_env(reward=lambda d, context: seen.append(context) or 1.5)
    env.reset()
    _, reward, _, _, _ = env.step(edit(env, improve))
    (context,) = seen  # once per step, none for the reset
    root = env.tree.root.dev_score
    assert reward == 1.5 and isinstance(context, RewardContext)
    assert context.previous_best == root and context.baseline == root and context.gold == env.leaderboard.thresholds.gold
    assert context["gold"] == context.gold  # the dict reads still work, for one release
    assert env.reward_context() == RewardContext(None, root, context.gold, context.higher_is_better)
