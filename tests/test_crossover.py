"""The pre-declared crossover analysis on synthetic studies: a gradual crossover is found at the
right size, a single run per size (any sign pattern) never makes one, a task's shared effect is
not counted as independent evidence, the rival is the named one, secondary curves are Holm-adjusted,
models of the same size stay separate points, and the step- and token-matched budgets."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from scripts._crossover import adjust_secondary, advantage_points, curve_result, matched_runs

SIZES = {"s": 135e6, "m": 0.5e9, "l": 1.5e9, "xl": 7e9, "xxl": 32e9}


def _models(sizes: dict[str, float]) -> list[dict]:
    return [{"name": n, "spec": f"spec:{n}", "params": p} for n, p in sizes.items()]


def _runs(advantage: dict[str, float], tasks: int = 12, seeds: int = 3, task_sd: float = 0.3, seed_sd: float = 0.1,
          task_adv_sd: float = 0.05, seed: int = 0, third: dict[str, float] | None = None) -> pd.DataFrame:
    """gome and greedy (and mcts at greedy + ``third[name]``) per model, task and seed; each task
    has its own level (shared by every policy and seed) and its own scatter of gome's advantage."""
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(tasks):
        level, own = rng.normal(0, task_sd), rng.normal(0, task_adv_sd)
        for name, adv in advantage.items():
            for s in range(seeds):
                base = level + rng.normal(0, seed_sd)
                rows.append({"policy": "greedy", "model": f"spec:{name}", "task": f"t{t}", "seed": s, "v": base})
                rows.append({"policy": "gome", "model": f"spec:{name}", "task": f"t{t}", "seed": s,
                             "v": base + adv + own + rng.normal(0, seed_sd)})
                if third is not None:
                    rows.append({"policy": "mcts", "model": f"spec:{name}", "task": f"t{t}", "seed": s,
                                 "v": base + third[name]})
    return pd.DataFrame(rows)


RISING = {"s": -0.3, "m": -0.15, "l": 0.0, "xl": 0.15, "xxl": 0.3}


def test_a_gradual_crossover_is_found_with_its_size_and_interval():
    # no two neighbouring sizes need to clear zero on opposite sides: the trend decides
    result = curve_result(_runs(RISING), _models(SIZES), "v", "v")
    assert [p.name for p in result.points] == list(SIZES) and all(p.rival == "greedy" for p in result.points)
    assert all(p.advantage.n_tasks == 12 and p.advantage.n_runs == 36 for p in result.points)
    t = result.trend
    assert t.status == "ok" and t.slope > 0 and t.slope_low > 0 and t.p < 0.05 and t.n_tasks == 12
    assert t.at_small < 0 < t.at_large
    (c,) = result.crossovers
    assert c.overtakes and c.role == "primary" and c.at_low < c.at_params < c.at_high
    assert (c.lower, c.upper) in {("m", "l"), ("l", "xl")} and 0.5e9 < c.at_params < 7e9
    assert "CROSSOVER: gome overtakes greedy near" in result.text()
    assert curve_result(_runs(RISING), _models(SIZES), "v", "v").to_dict() == result.to_dict()  # seeded


@pytest.mark.parametrize("signs", list(itertools.product((-1, 1), repeat=4)))
def test_a_single_run_per_size_never_yields_a_crossover(signs):
    sizes = dict(list(SIZES.items())[:4])
    rows = []
    for (name, _), sign in zip(sizes.items(), signs):
        rows.append({"policy": "greedy", "model": f"spec:{name}", "task": "t", "seed": 0, "v": 0.5})
        rows.append({"policy": "gome", "model": f"spec:{name}", "task": "t", "seed": 0, "v": 0.5 + 0.4 * sign})
    result = curve_result(pd.DataFrame(rows), _models(sizes), "v", "v")
    assert result.crossovers == [] and result.trend.status == "insufficient"
    assert all(p.advantage.status == "insufficient" and math.isnan(p.advantage.ci_low) for p in result.points)
    assert all(not p.advantage.excludes_zero for p in result.points)
    assert "insufficient data" in result.text()


def test_equal_differences_are_insufficient_not_a_zero_width_interval():
    rows = [{"policy": pol, "model": "spec:s", "task": f"t{t}", "seed": 0, "v": 1.0 if pol == "gome" else 0.0}
            for t in range(3) for pol in ("gome", "greedy")]
    (point,) = advantage_points(pd.DataFrame(rows), _models({"s": 1e9}), "v")
    a = point.advantage
    assert a.status == "insufficient" and a.reason == "no variation between tasks" and not a.excludes_zero
    assert a.estimate == 1.0 and math.isnan(a.ci_low) and math.isnan(a.p)


def test_a_tasks_shared_effect_is_not_independent_evidence():
    # 2 tasks x 10 seeds: one task favours gome by 0.5, the other by 0.2, seeds barely differ. Runs
    # as independent units would give a tight interval well clear of zero; over 2 tasks it is wide.
    rows = []
    for task, effect in (("a", 0.5), ("b", 0.2)):
        for s in range(10):
            rows.append({"policy": "greedy", "model": "spec:s", "task": task, "seed": s, "v": 0.0})
            rows.append({"policy": "gome", "model": "spec:s", "task": task, "seed": s, "v": effect + 0.01 * (s % 3)})
    (point,) = advantage_points(pd.DataFrame(rows), _models({"s": 1e9}), "v")
    a = point.advantage
    assert a.status == "ok" and a.n_tasks == 2 and a.n_runs == 20
    assert a.ci_low < 0 < a.ci_high and a.ci_high - a.ci_low > 3  # t with 1 df over 2 task means


def test_the_rival_is_named_not_chosen_on_the_data():
    # mcts beats greedy at the small sizes and trails at the large: choosing the best other policy
    # per size would switch rivals; the named rival stays greedy throughout
    third = {"s": 0.5, "m": 0.4, "l": -0.4, "xl": -0.5, "xxl": -0.5}
    runs = _runs({n: 0.1 for n in SIZES}, third=third)
    result = curve_result(runs, _models(SIZES), "v", "v")
    assert {p.rival for p in result.points} == {"greedy"}
    assert all(p.advantage.estimate > 0 for p in result.points) and result.crossovers == []
    against_mcts = curve_result(runs, _models(SIZES), "v", "v", rival="mcts")
    assert against_mcts.points[0].advantage.estimate < 0 < against_mcts.points[-1].advantage.estimate


def test_a_trend_without_a_sign_change_is_no_crossover():
    result = curve_result(_runs({n: 0.2 + 0.1 * i for i, n in enumerate(SIZES)}), _models(SIZES), "v", "v")
    assert result.trend.p < 0.05 and result.trend.at_small > 0 and result.crossovers == []
    assert "no crossover detected (the fitted advantage keeps one sign" in result.text()
    flat = curve_result(_runs({n: 0.0 for n in SIZES}, seed=3), _models(SIZES), "v", "v")
    assert flat.crossovers == [] and "no crossover detected" in flat.text()


def test_secondary_curves_are_holm_adjusted():
    runs = _runs(RISING)
    models = _models(SIZES)
    results = adjust_secondary([curve_result(runs, models, "v", "primary", role="primary"),
                                curve_result(runs, models, "v", "a", role="secondary"),
                                curve_result(_runs({n: 0.0 for n in SIZES}, seed=5), models, "v", "b", role="secondary")])
    raw = [r.trend.p for r in results[1:]]
    assert [r.p_decide for r in results[1:]] == pytest.approx(list(multipletests(raw, method="holm")[1]))
    assert results[0].p_decide == results[0].trend.p  # the primary is not adjusted
    assert results[1].p_decide >= results[1].trend.p and "Holm-adjusted p=" in results[1].text()


def test_models_of_the_same_size_stay_separate_points():
    sizes = {"x": 1e9, "a": 3e9, "b": 3e9, "y": 7e9}
    runs = _runs({"x": -0.3, "a": -0.2, "b": 0.25, "y": 0.3})
    result = curve_result(runs, _models(sizes), "v", "v")
    assert [p.name for p in result.points] == ["x", "a", "b", "y"]  # two points at 3B, not one mean
    assert result.points[1].advantage.estimate < 0 < result.points[2].advantage.estimate


def _steps(policy, model, task, seed, tokens_per_step, best):
    key = f"{policy}/{model}/{task}/{seed}"
    return [{"run_key": key, "policy": policy, "model": model, "task": task, "seed": seed, "step": i + 1,
             "cumulative_tokens": tokens_per_step * (i + 1), "best_normalised": b} for i, b in enumerate(best)]


def test_step_and_token_matched_budgets():
    # gome spends 100 tokens a step, greedy 25: after 2 steps gome leads, at equal tokens (median
    # total 100 for greedy's 4 steps... and 400 for gome's) greedy has had 4 steps to gome's 1
    rows = (_steps("gome", "m", "t", 0, 100, [0.1, 0.5, 0.6, 0.7]) +
            _steps("greedy", "m", "t", 0, 25, [0.2, 0.3, 0.35, 0.4]) +
            _steps("greedy", "m", "t", 1, 25, [0.2, 0.3]))
    steps = pd.DataFrame(rows)
    by_steps = matched_runs(steps, "steps").set_index(["policy", "seed"])
    assert set(by_steps["budget"]) == {2.0}  # the fewest steps any run made
    assert by_steps.loc[("gome", 0), "best_normalised"] == 0.5 and by_steps.loc[("greedy", 0), "best_normalised"] == 0.3
    by_tokens = matched_runs(steps, "tokens").set_index(["policy", "seed"])
    assert set(by_tokens["budget"]) == {75.0}  # greedy's median total (100 and 50), below gome's 400
    assert by_tokens.loc[("gome", 0), "best_normalised"] == 0.0  # no gome step fits in 75 tokens: baseline
    assert by_tokens.loc[("greedy", 0), "best_normalised"] == 0.35
    with pytest.raises(ValueError):
        matched_runs(steps, "seconds")
