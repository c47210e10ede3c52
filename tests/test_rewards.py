"""Rewards on their own: normalised so that the baseline is 0 and gold is 1, either direction."""

import pytest

from gome_env.rewards import FAILED_STEP_PENALTY, dev_score_reward, improvement_reward, normalised


@pytest.mark.parametrize("higher, baseline, gold, score", [(True, 0.5, 0.9, 0.7), (False, 1.0, 0.2, 0.6)])
def test_halfway_to_gold_is_one_half_in_either_direction(higher, baseline, gold, score):
    context = {"baseline": baseline, "gold": gold, "higher_is_better": higher, "previous_best": baseline}
    assert normalised(score, context) == pytest.approx(0.5)
    assert normalised(None, context) == 0.0
    assert improvement_reward({"status": "ok", "best_dev_score": score}, context) == pytest.approx(0.5)
    assert dev_score_reward({"status": "ok", "dev_score": score}, context) == pytest.approx(0.5)
    failed = {"status": "runtime_error", "best_dev_score": baseline, "dev_score": None}
    assert improvement_reward(failed, context) == pytest.approx(-FAILED_STEP_PENALTY)
    assert dev_score_reward(failed, context) == -1.0


def test_a_board_whose_gold_is_the_baseline_gives_no_reward():
    context = {"baseline": 0.5, "gold": 0.5, "higher_is_better": True, "previous_best": 0.5}
    assert normalised(0.9, context) == 0.0


def test_rewards_take_a_typed_context_and_the_old_dict_alike():
    from gome_env.rewards import REWARDS, RewardContext

    typed = RewardContext(previous_best=0.5, baseline=0.5, gold=0.9, higher_is_better=True)
    step = {"status": "ok", "dev_score": 0.7, "best_dev_score": 0.7}
    for reward in REWARDS.values():
        assert reward(step, typed) == pytest.approx(reward(step, typed.to_dict())) == pytest.approx(0.5)
    assert RewardContext.of(typed.to_dict()) == typed and RewardContext.of(typed) is typed
