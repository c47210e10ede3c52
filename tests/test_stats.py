"""The task-clustered statistics: the t-interval over task means (and its agreement with a
random-intercept mixed model in a balanced design), 'insufficient data' as a typed result, the
per-task slopes, the two-stage bootstrap's indices and Holm's adjustment."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from scripts._stats import cluster_mean, cluster_stats, holm, task_slopes, two_stage_bootstrap_index


def test_cluster_mean_is_a_t_interval_over_task_means():
    values = [1.0, 3.0, 2.0, 2.0, 7.0, 5.0]  # task means 2, 2, 6
    tasks = ["a", "a", "b", "b", "c", "c"]
    est = cluster_mean(values, tasks)
    means = np.array([2.0, 2.0, 6.0])
    half = stats.t.ppf(0.975, 2) * means.std(ddof=1) / math.sqrt(3)
    assert est.status == "ok" and (est.n_tasks, est.n_runs) == (3, 6)
    assert (est.estimate, est.ci_low, est.ci_high) == pytest.approx((10 / 3, 10 / 3 - half, 10 / 3 + half))
    assert est.p == pytest.approx(stats.ttest_1samp(means, 0).pvalue)
    assert est.excludes_zero == (est.ci_low > 0)


def test_the_interval_matches_a_random_intercept_mixed_model_when_balanced():
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(4)
    rows = [{"task": f"t{t}", "y": u + rng.normal(0, 1.0)} for t, u in enumerate(rng.normal(0, 1.0, 8))
            for _ in range(4)]
    frame = pd.DataFrame(rows)
    fit = smf.mixedlm("y ~ 1", frame, groups=frame["task"]).fit(reml=True)
    est = cluster_mean(frame["y"], frame["task"])
    assert est.estimate == pytest.approx(fit.params["Intercept"], rel=1e-6)
    assert est.se == pytest.approx(fit.bse["Intercept"], rel=1e-3)


@pytest.mark.parametrize("values, tasks, reason", [
    ([0.4], ["a"], "1 task(s); at least 2 are needed"),
    ([0.4, -0.9, 0.3], ["a", "a", "a"], "1 task(s); at least 2 are needed"),  # many runs, one task
    ([1.0, 1.0, 1.0], ["a", "b", "c"], "no variation between tasks"),  # the sign test's p would be 0.25
    ([], [], "0 task(s); at least 2 are needed"),
])
def test_insufficient_data_is_typed_never_a_zero_width_interval(values, tasks, reason):
    est = cluster_mean(values, tasks)
    assert est.status == "insufficient" and est.reason == reason
    assert math.isnan(est.ci_low) and math.isnan(est.ci_high) and math.isnan(est.p)
    assert not est.excludes_zero and est.sign == 0 and "insufficient data" in est.text()


def test_cluster_stats_is_vectorised_and_skips_missing_tasks():
    x = np.array([[1.0, 2.0, 3.0, np.nan], [0.0, 0.0, 0.0, 0.0], [5.0, np.nan, np.nan, np.nan]])
    s = cluster_stats(x)
    assert list(s["n"]) == [3, 4, 1] and list(s["ok"]) == [True, False, False]
    assert s["mean"][0] == 2.0 and s["se"][0] == pytest.approx(1 / math.sqrt(3))
    assert np.isnan(s["low"][1]) and np.isnan(s["p"][2])


def test_task_slopes_least_squares_with_missing_cells():
    x = np.array([0.0, 1.0, 2.0, 3.0])
    y = np.array([[1.0, 3.0, 5.0, 7.0], [np.nan, 1.0, np.nan, 0.0], [4.0, np.nan, np.nan, np.nan]])
    slope, intercept = task_slopes(y, x)
    assert slope[:2] == pytest.approx([2.0, -0.5]) and intercept[:2] == pytest.approx([1.0, 1.5])
    assert np.isnan(slope[2]) and np.isnan(intercept[2])  # one size: no line


def test_two_stage_bootstrap_draws_tasks_then_seeds_within_them():
    counts = np.array([[3, 1], [2, 2], [1, 3]])
    tasks, seeds = two_stage_bootstrap_index(counts, resamples=500, seed=1)
    assert tasks.shape == (500, 3) and seeds.shape == (500, 3, 2, 3)
    assert set(np.unique(tasks)) == {0, 1, 2}
    drawn = counts[tasks]  # each seed position is within its drawn cell's count
    assert (seeds < drawn[..., None]).all() and (seeds >= 0).all()
    again = two_stage_bootstrap_index(counts, resamples=500, seed=1)
    assert (again[0] == tasks).all() and (again[1] == seeds).all()  # seeded


def test_holm_matches_statsmodels_and_keeps_nan_out_of_the_family():
    p = [0.01, 0.04, float("nan"), 0.03]
    adjusted = holm(p)
    expected = multipletests([0.01, 0.04, 0.03], method="holm")[1]
    assert [adjusted[0], adjusted[1], adjusted[3]] == pytest.approx(list(expected)) and math.isnan(adjusted[2])
    assert holm([]) == []
