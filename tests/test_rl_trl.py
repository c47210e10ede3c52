"""Real TRL on the CPU with the bundled model: one GRPO update on free-form edits, and a learning
check on multiple-choice edits (tests/test_rl.py covers the pieces without a trainer)."""

from __future__ import annotations

import math
import os
import statistics

import pytest

from helpers import improve, wait_until

pytest.importorskip("trl")
pytest.importorskip("datasets")

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

from gome_env.rl import GomeReward, improve_messages, make_grpo_dataset  # noqa: E402
from gome_env.rl.options import ladder_options, make_options_dataset  # noqa: E402
from gome_env.rl.trl_utils import answer_logprob, cpu_grpo_config, reward_history  # noqa: E402
from policies.models import bundled_model_dir  # noqa: E402

pytestmark = pytest.mark.slow
SHORT = {"max_task_chars": 500, "max_code_chars": 1200, "max_feedback_chars": 300}  # prompt sections (characters)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.fixture(scope="module")
def model_dir():
    try:
        return bundled_model_dir()
    except Exception as exc:  # noqa: BLE001 - the bundled model is an optional install
        pytest.skip(f"the bundled model is not available: {exc}")


def test_one_grpo_update_on_free_form_edits(tiny_spec, model_dir, tmp_path, monkeypatch):
    from datasets import Dataset
    from trl import GRPOTrainer

    import gome_env.grading.grader as grader
    from gome_env.env import MLEEnv

    finals = []
    monkeypatch.setattr(MLEEnv, "final", lambda self, *a, **k: finals.append(1))
    reward = GomeReward(tiny_spec, pool_size=2, step_timeout_s=60)
    pool = reward.pool(tiny_spec)
    test_ids = set(pool.env.prepared.answers("test")["id"].astype(str))
    (_, _, info), = pool.step_many([(0, improve_diff(pool))])  # node 1: a second starting state
    assert info["node_id"] == 1
    row = make_grpo_dataset(tiny_spec, edit_form="whole", **SHORT).to_list()[0]
    assert row["node_id"] == 0 and row["task"] == tiny_spec.id
    data = Dataset.from_list([{**row, "node_id": 1, "prompt": improve_messages(pool.env, 1, **SHORT)}])
    num_generations = 4
    args = cpu_grpo_config(tmp_path / "out", num_generations=num_generations, per_device_train_batch_size=num_generations // 2,
                           gradient_accumulation_steps=2,
                           max_completion_length=16, max_steps=1)
    trainer = GRPOTrainer(model=str(model_dir), reward_funcs=[reward], args=args, train_dataset=data)
    scored = []  # the splits scored during training (the baseline's own grading, at reset, came before)
    real_grade = grader.grade
    monkeypatch.setattr(grader, "grade", lambda s, sub, ans: scored.append(set(ans["id"].astype(str))) or real_grade(s, sub, ans))
    trainer.train()
    try:
        assert [n.id for n in pool.tree.children(0)] == [1]  # made before training
        assert len(pool.tree.children(1)) == num_generations  # the update's group: all children of the row's node
        assert len(pool.tree) == 2 + num_generations
        history = trainer.state.log_history
        rewards = reward_history(trainer)
        assert len(rewards) == 1 and all(math.isfinite(r) for r in rewards)
        assert all(math.isfinite(r["reward"]) for r in reward.last) and len(reward.last) == num_generations
        assert any("gome/status_patch_failed" in e for e in history)  # the status shares reach TRL's logs
        assert not finals  # no final(): the episode never ends during training
        assert all(ids != test_ids for ids in scored)  # the test split is never scored
        pids = [s.worker_pid for s in pool.executor_status() if s.worker_pid is not None]
    finally:
        reward.close()
    wait_until(lambda: all(_gone(pid) for pid in pids), 30, "the end of the pool's workers")


def improve_diff(pool) -> str:
    from gome_env.patching.diffs import make_diff

    files = pool.files(0)
    return make_diff(files, {**files, "solution.py": improve(files["solution.py"])})


# The learning check, calibrated on seeds 0, 1 and 2 (6 updates of 8 generations, learning rate 1e-5):
# log p(C) rose by 0.96, 1.93 and 2.11 nats, and the mean reward of the last two updates beat the
# first two's in each (-0.86 -> -0.57, -0.70 -> 0.39, -0.70 -> 0.71). The margin is half the smallest rise.
LEARNING_MARGIN = 0.5
LEARNING_UPDATES = 6


def test_grpo_on_lettered_options_learns_to_pick_the_best_one(tiny_spec, model_dir, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOTrainer

    files = {"solution.py": tiny_spec.baseline_source}
    options = ladder_options(files, improve(tiny_spec.baseline_source), "Predict with a linear rule on x0 + x1")
    data = make_options_dataset(tiny_spec, options, rows=LEARNING_UPDATES)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    prompt = data[0]["prompt"]
    before = answer_logprob(model, tokenizer, prompt, "C")
    reward = GomeReward(tiny_spec, pool_size=2)
    args = cpu_grpo_config(tmp_path / "out", num_generations=8, per_device_train_batch_size=8, max_completion_length=3,
                           max_steps=LEARNING_UPDATES, learning_rate=1e-5, seed=0)
    trainer = GRPOTrainer(model=model, processing_class=tokenizer, reward_funcs=[reward], args=args, train_dataset=data)
    try:
        trainer.train()
        pool = reward.pools[tiny_spec.id]
        statuses = {n.status for n in pool.tree.children(0)}
    finally:
        reward.close()
    after = answer_logprob(trainer.model, tokenizer, prompt, "C")
    rewards = reward_history(trainer)
    assert len(rewards) == LEARNING_UPDATES
    assert {"ok", "patch_failed"} <= statuses  # the options really ran: the best one and the stale patch at least
    assert after - before >= LEARNING_MARGIN, (before, after, rewards)
    assert statistics.fmean(rewards[-2:]) > statistics.fmean(rewards[:2]), rewards
