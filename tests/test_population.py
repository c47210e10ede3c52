"""The leaderboard population's rules (``scripts/_population.py``): an iterative family is stopped
where its loss on the dev rows was best, as an entrant watching the public leaderboard would; twins
are replaced by entrants running searches of their own; and the boards' noise figures
(``scripts/_solutions.py``, ``scripts/_board_report.py``), all from one resampling of the test rows."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.metrics import log_loss

from gome_env.tasks.task import load_spec, prepare
from scripts._board_report import TaskReport, count_range, new_user_counts, readme_table
from scripts._entry_cache import EntryCache
from scripts._features import Features
from scripts._population import ENTRANTS, Recipe, draw_population, fit_predict, reserve_entrants, training_rows
from scripts._solutions import resampled_scores, resampled_se


def test_a_net_keeps_the_epoch_with_the_best_dev_loss():
    """scikit-learn's own stopping watches the accuracy of a 10% split, so the net's probabilities can
    grow overconfident after its accuracy stops changing. Kept at its best dev epoch, the same net's log
    loss on rows it never saw (neither trained nor stopped on) is far lower."""
    spec = load_spec("digits")  # ten-class log loss
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    X, y = X[order] / 16, y[order]
    n_train, n_dev = 1000, 400
    feats = Features(X[:n_train], X[n_train:], X[:n_train], X[n_train:])
    classes = np.arange(10)
    net = (("h", (128,)), ("a", 1e-3), ("lr", 1e-3))
    losses = {}
    for name, params in (("sklearn-stop", net), ("dev-stop", net + (("es", 1),))):
        pred = fit_predict(Recipe("mlp", params, tier="strong"), spec, feats, pd.Series(y[:n_train]), classes,
                           n_dev=n_dev, dev_y=y[n_train:n_train + n_dev])
        assert pred.shape == (len(X) - n_train, 10) and np.allclose(pred.sum(1), 1)
        losses[name] = log_loss(y[n_train + n_dev:], pred[n_dev:], labels=classes)
    assert losses["dev-stop"] < 0.8 * losses["sklearn-stop"], losses


def test_reserve_entrants_run_searches_no_entrant_ran():
    """A twin's replacement is a fresh search: no grid point an entrant already tried, the families taken in turn."""
    spec = load_spec("digits")
    _, entrants = draw_population(spec, 0, 1000)
    reserve = reserve_entrants(spec, 0, 1000)
    tried = {r.name for points in entrants for r in points}
    spare = [r.name for points in reserve for r in points]
    assert reserve and not tried & set(spare) and len(spare) == len(set(spare))
    assert [points[0].family for points in reserve[:3]] == list(ENTRANTS[spec.modality])[:3]
    assert all(len({r.family for r in points}) == 1 for points in reserve)


def test_board_noise_comes_from_one_resampling_of_the_test_rows():
    """Every submission is scored on the same resamples: a submission against itself has no paired
    noise, an invalid one is NaN throughout, and two different ones differ by less than either's
    marginal noise when they agree on most rows (the reason medals use the paired SE)."""
    task = prepare("italy-power")
    spec = task.spec
    answers = task.answers("test")
    truth = answers[spec.target].to_numpy(float)
    sure = np.random.default_rng(0).uniform(0.55, 0.95, len(truth))  # how sure of the right class, row by row
    good = pd.DataFrame({spec.id_column: answers[spec.id_column], spec.target: np.where(truth == 1, sure, 1 - sure)})
    close = good.assign(**{spec.target: np.clip(good[spec.target] + 0.02, 0, 1)})
    broken = good.drop(columns=[spec.target])
    scores = resampled_scores(task, [good, good, close, broken], n=50)
    assert scores.shape == (50, 4)
    assert np.array_equal(scores[:, 0], scores[:, 1]) and np.isnan(scores[:, 3]).all()
    assert resampled_se(scores[:, 0], scores[:, 1]) == 0.0
    paired, marginal = resampled_se(scores[:, 0], scores[:, 2]), resampled_se(scores[:, 0])
    assert 0 < paired < marginal


def test_the_entry_cache_refits_an_entry_whose_training_rows_changed(tmp_path):
    """The build resumes from cached predictions; one fitted on another number of rows (a family's
    row cap changed since) is computed again, not reused."""
    cache = EntryCache(tmp_path, prepare("italy-power"), seed=0)
    recipe = Recipe("cat", (("lr", 0.1),), tier="strong")
    calls = []

    def compute():
        calls.append(1)
        return np.full((3, 2), 0.5 + len(calls) / 10)

    first, _ = cache.predictions(recipe, compute, rows=20_000)
    again, _ = cache.predictions(recipe, compute, rows=20_000)
    refit, _ = cache.predictions(recipe, compute, rows=40_000)
    assert len(calls) == 2 and np.array_equal(first, again) and not np.array_equal(first, refit)
    assert np.array_equal(cache.cached(recipe.name), refit)
    assert training_rows(recipe, 80_000) == 40_000 and training_rows(Recipe("cat", row_frac=0.1), 80_000) == 8_000


def test_the_count_of_targets_held_under_noise_is_a_poisson_binomial():
    """Twelve independent tasks, each holding its target with its own probability: certain tasks add
    no spread, and twelve coin flips give the binomial's own central 90% (3-9 of 12)."""
    assert count_range([1.0] * 8 + [0.0] * 4) == (8.0, 8, 8)
    expected, low, high = count_range([0.5] * 12)
    assert expected == 6.0 and (low, high) == (3, 9)
    expected, low, high = count_range([0.9, 0.2, 1.0])
    assert abs(expected - 2.1) < 1e-12 and (low, high) == (1, 3)


def _report(**changes) -> TaskReport:
    """One task's report with every target held; ``changes`` override fields."""
    base = TaskReport(
        task="t", metric="auc", higher_is_better=True, n=150, gold=0.9, silver=0.89, bronze=0.88, median=0.85, best=0.91,
        test_se=0.01, gold_paired_se=0.004, default_paired_se=0.005, baseline=0.7, baseline_medal="none", default=0.86,
        default_medal="none", default_position=70, default_percentile=0.5, default_percentile_90=(0.4, 0.6),
        gold_ref=0.905, gold_ref_medal="gold", gold_ref_position=2, gold_margin=0.005, new_user={"lightgbm": "none"},
        new_user_percentile={"lightgbm": 0.5}, gold_ref_s=1.0, default_s=1.0, build_s=1.0, default_ok=True, gold_ok=True,
        perfect_gold_line=False)
    return replace(base, **changes)


def test_the_table_states_both_counts_under_resampling():
    """The summary line gives each target's count over resamples (a Poisson-binomial of the tasks'
    shares), and leaves a count out when a task has no share (its witness did not run)."""
    base = _report(default_ok_share=1.0, gold_ok_share=0.5)
    reports = [replace(base, task=f"t{i}") for i in range(12)]
    text = readme_table(reports)
    assert "= 1.2 (50%) |" in text
    assert "**12 of 12** tasks (over resamples of each task's test rows, where the medal lines move too: 12.0 expected, 12-12" in text
    assert "**12 of 12** (over the same resamples: 6.0 expected, 3-9 in 90% of draws)" in text
    reports[0] = replace(reports[0], gold_ok_share=float("nan"))
    text = readme_table(reports)
    assert "over the same resamples" not in text and "= 1.2 (-) |" in text and "12.0 expected" in text


def test_a_new_user_run_that_failed_earns_no_medal():
    """The new-user counts take only medals: a model whose run failed ("invalid") or earned none adds
    nothing, and the table names each model it checked."""
    base = _report(new_user={"lightgbm": "none", "catboost": "invalid"}, new_user_percentile={"lightgbm": 0.5, "catboost": 0.0})
    reports = [base, replace(base, task="u", new_user={"lightgbm": "bronze", "catboost": "gold"})]
    assert new_user_counts(reports) == ({"lightgbm": 1, "catboost": 1}, {"lightgbm": 0, "catboost": 1})
    text = readme_table(reports)
    assert "new user: LightGBM, CatBoost (default settings) |" in text
    assert "at most a third of the tasks): LightGBM medals on 1 of 2, gold on 0; CatBoost medals on 1 of 2, gold on 1." in text
