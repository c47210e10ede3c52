"""The crossover finder on synthetic curves: a real crossover is found, a single noisy size is
not, models of the same size are not merged, and the step- and token-matched budgets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scripts._crossover import Point, advantage_points, crossover_study, find_crossovers, matched_runs

TASKS, SEEDS = ("t1", "t2", "t3", "t4"), (0, 1, 2)


def _runs(advantages: dict[str, tuple], rival_level: float = 0.5, seed: int = 0) -> pd.DataFrame:
    """Per model spec: (gome's mean advantage over greedy, noise) on 4 tasks x 3 seeds, the noise
    a normal sd or a list of offsets taken in turn; a third policy (mcts) always trails greedy, so
    greedy is the rival."""
    rng = np.random.default_rng(seed)
    rows = []
    for spec, (adv, noise) in advantages.items():
        for i, (task, s) in enumerate((t, s) for t in TASKS for s in SEEDS):
            base = rival_level + rng.normal(0, 0.02)
            offset = noise[i % len(noise)] if isinstance(noise, list) else rng.normal(0, noise)
            rows.append({"policy": "greedy", "model": spec, "task": task, "seed": s, "percentile": base})
            rows.append({"policy": "mcts", "model": spec, "task": task, "seed": s, "percentile": base - 0.2})
            rows.append({"policy": "gome", "model": spec, "task": task, "seed": s, "percentile": base + adv + offset})
    return pd.DataFrame(rows)


def _models(sizes: dict[str, float]) -> list[dict]:
    return [{"name": n, "spec": f"spec:{n}", "params": p} for n, p in sizes.items()]


def _spec(advantages: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    return {f"spec:{n}": v for n, v in advantages.items()}


def test_a_real_crossover_is_found_between_the_right_sizes():
    sizes = {"s": 135e6, "m": 0.5e9, "l": 1.5e9, "xl": 7e9}
    runs = _runs(_spec({"s": (-0.3, 0.03), "m": (-0.2, 0.03), "l": (0.2, 0.03), "xl": (0.3, 0.03)}))
    result = crossover_study(runs, _models(sizes), "percentile", focus="gome")
    assert [p.name for p in result.points] == ["s", "m", "l", "xl"]
    assert all(p.rival == "greedy" and p.n == 12 for p in result.points)
    assert [p.sign for p in result.points] == [-1, -1, 1, 1]
    (c,) = result.crossovers
    assert (c.lower, c.upper, c.overtakes) == ("m", "l", True)
    assert 0.5e9 < c.at_params < 1.5e9
    text = result.text()
    assert "crossover between m (500M) and l (1.5B): gome overtakes" in text and "no crossover detected" not in text
    assert crossover_study(runs, _models(sizes), "percentile").to_dict() == result.to_dict()  # seeded


def test_a_single_noisy_size_is_not_a_crossover():
    sizes = {"s": 135e6, "m": 0.5e9, "l": 1.5e9, "xl": 7e9}
    # the mean at "l" is above zero (+0.05: a sign-change rule on means would report two
    # crossovers), but its runs swing by +-0.6 and its interval spans zero
    runs = _runs(_spec({"s": (-0.3, 0.03), "m": (-0.25, 0.03), "l": (0.0, [0.65, -0.55]), "xl": (-0.3, 0.03)}))
    result = crossover_study(runs, _models(sizes), "percentile")
    noisy = next(p for p in result.points if p.name == "l")
    assert noisy.advantage > 0 and noisy.ci_low < 0 < noisy.ci_high and noisy.sign == 0
    assert result.crossovers == []
    assert "no crossover detected" in result.text() and "l (1.5B) vs greedy" in result.text()


def test_models_of_the_same_size_stay_separate_points():
    sizes = {"x": 1e9, "a": 3e9, "b": 3e9, "y": 7e9}
    runs = _runs(_spec({"x": (-0.3, 0.03), "a": (-0.2, 0.03), "b": (0.25, 0.03), "y": (0.3, 0.03)}))
    result = crossover_study(runs, _models(sizes), "percentile")
    assert [p.name for p in result.points] == ["x", "a", "b", "y"]  # two points at 3B, not one mean
    found = {(c.lower, c.upper) for c in result.crossovers}
    assert found == {("x", "b"), ("a", "y")}  # never between a and b: they are the same size
    # merged, the 3B point would average -0.2 and +0.25 and the picture would differ
    assert next(p for p in result.points if p.name == "a").sign == -1


def test_find_crossovers_needs_both_intervals_clear_of_zero():
    def pt(name, params, adv, low, high):
        return Point(name, params, "greedy", 10, adv, low, high)

    assert find_crossovers([pt("a", 1e9, -0.2, -0.3, -0.1), pt("b", 2e9, 0.2, 0.1, 0.3)])[0].at_params == pytest.approx(
        10 ** ((9 + np.log10(2e9)) / 2))
    assert find_crossovers([pt("a", 1e9, -0.2, -0.3, 0.01), pt("b", 2e9, 0.2, 0.1, 0.3)]) == []
    falls = find_crossovers([pt("a", 1e9, 0.2, 0.1, 0.3), pt("b", 2e9, -0.2, -0.3, -0.1)])
    assert len(falls) == 1 and not falls[0].overtakes
    assert advantage_points(pd.DataFrame(columns=["policy", "model", "task", "seed", "v"]),
                            _models({"a": 1e9}), "v")[0].rival is None


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
