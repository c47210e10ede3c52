"""The aggregation on a synthetic runs folder with a known answer: complete seeds only (an
incomplete seed dropped, or padded), a failed run, a task whose baseline already reaches gold,
both metric directions, the new rates, the bounded scores, sandboxes, cost columns and the paired
comparisons. Every figure is worked out by hand in the comments."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from scripts._aggregate import (format_left_out, format_pairs, format_summary, paired_table, run_table,
                                split_unconfined, summary_table)
from scripts._runs import RunSpec, RunStore
from scripts._stats import bootstrap_ci, cluster_mean, sem, sign_test

# task -> (higher_is_better, baseline test score, gold threshold)
TASKS = {"t1": (True, 0.5, 0.9), "t2": (False, 4.0, 1.0), "t3": (True, 0.9, 0.9)}  # t3: baseline == gold
# (policy, seed, task) -> (submitted node, test, dev, medal, above median, percentile) or "failed"
RUNS = {
    ("gome", 0, "t1"): (3, 0.95, 0.97, "gold", True, 0.98),
    ("gome", 0, "t2"): (0, 4.0, 3.8, "none", False, 0.30),
    ("gome", 0, "t3"): (2, 0.91, 0.92, "gold", True, 0.99),
    ("gome", 1, "t1"): (1, 0.40, 0.60, "none", False, 0.10),
    ("gome", 1, "t2"): (2, 10.0, 3.0, "none", False, 0.00),
    ("gome", 1, "t3"): (0, 0.90, 0.90, "gold", True, 0.95),
    ("gome", 2, "t1"): (1, 0.80, 0.80, "bronze", True, 0.80),  # seed 2 of gome lacks t3: incomplete
    ("gome", 2, "t2"): (0, 4.0, 4.0, "none", False, 0.30),
    ("greedy", 0, "t1"): (1, 0.60, 0.60, "none", False, 0.50),
    ("greedy", 0, "t2"): (1, 3.0, 3.0, "none", True, 0.60),
    ("greedy", 0, "t3"): (0, 0.90, 0.90, "gold", True, 0.95),
    ("greedy", 1, "t1"): (0, 0.50, 0.50, "none", False, 0.40),
    ("greedy", 1, "t2"): "failed",
    ("greedy", 1, "t3"): (4, 0.85, 0.88, "none", False, 0.50),
    ("greedy", 2, "t1"): (2, 0.70, 0.70, "none", True, 0.70),
    ("greedy", 2, "t2"): (0, 4.0, 4.0, "none", False, 0.30),
    ("greedy", 2, "t3"): (0, 0.90, 0.90, "gold", True, 0.95),
}
UNCONFINED = ("greedy", 0, "t1")  # ran under the plain subprocess sandbox
OLD_RECORD = ("greedy", 2, "t2")  # written before usage/env_seconds existed: cost from its steps


def _record(policy, seed, task, entry) -> tuple[dict, list[dict]]:
    node, test, dev, medal, above, pct = entry
    hib, base, gold = TASKS[task]
    sandbox = "subprocess" if (policy, seed, task) == UNCONFINED else "bwrap"
    final = {"task": task, "node_id": node, "dev_score": dev, "test_score": test, "valid_submission": True,
             "submission_exists": True, "medal": medal, "above_median": above, "gold": medal == "gold",
             "silver": medal == "silver", "bronze": medal == "bronze", "percentile": pct,
             "thresholds": {"gold": gold, "silver": gold, "bronze": gold, "median": base},
             "baseline_dev_score": base, "baseline_test_score": base, "higher_is_better": hib}
    nodes = [{"id": i, "parent_id": None if i == 0 else 0, "status": "ok", "dev_score": dev,
              "diagnostics": {"sandbox": sandbox}} for i in sorted({0, node})]
    steps = [{"step": i, "node_id": i, "status": "ok", "prompt_tokens": 30, "completion_tokens": 7} for i in (1, 2)]
    record = {"final": final, "tree": {"higher_is_better": hib, "nodes": nodes}, "wall_s": 9.0, "stopped_by": "steps",
              "usage": {"calls": 4, "prompt_tokens": 100, "completion_tokens": 20, "seconds": 1.5}, "env_seconds": 2.5}
    if (policy, seed, task) == OLD_RECORD:
        del record["usage"], record["env_seconds"]
    return record, steps


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    store = RunStore(tmp_path_factory.mktemp("runs"))
    for (policy, seed, task), entry in RUNS.items():
        spec = RunSpec(policy, "m", task, seed, steps=2)
        if entry == "failed":
            store.commit(spec, store.new_attempt(), {"status": "failed", "error": "ModelError: gone", "record": None})
        else:
            record, steps = _record(policy, seed, task, entry)
            store.commit(spec, store.new_attempt(), {"status": "ok", "record": record, "steps": steps})
    return run_table(store.latest_runs().values(), store.steps())


def _row(runs, policy, seed, task):
    return runs[(runs.policy == policy) & (runs.seed == seed) & (runs.task == task)].iloc[0]


def test_per_run_rates_scores_sandbox_and_cost(runs):
    assert len(runs) == 17
    r = _row(runs, "gome", 0, "t1")  # node 3 beats the baseline: improved, made valid, gold
    assert r.improved and r.made_valid and r.any_medal and r.gold and r.percentile == 0.98
    assert r.normalised_score == pytest.approx((0.95 - 0.5) / 0.4) and r.norm_flag == ""
    assert r.dev_minus_test == pytest.approx(0.02) and r.dev_test_gap == pytest.approx(0.02 / 0.4)
    assert r.sandbox == "bwrap" and (r.model_calls, r.prompt_tokens, r.completion_tokens, r.model_s, r.env_s) == (4, 100, 20, 1.5, 2.5)
    r = _row(runs, "gome", 0, "t2")  # the root submitted: valid, but neither made valid nor improved
    assert r.valid_submission and not r.made_valid and not r.improved and r.normalised_score == 0.0
    assert r.dev_test_gap == pytest.approx((4.0 - 3.8) / 3.0)  # lower is better: dev 3.8 flattered test 4.0
    r = _row(runs, "gome", 1, "t2")  # far worse than the baseline (lower is better): clipped at -1
    assert r.made_valid and not r.improved and r.normalised_score == -1.0
    r = _row(runs, "gome", 0, "t3")  # baseline == gold: flagged, not zeroed; still improved
    assert r.improved and math.isnan(r.normalised_score) and r.norm_flag == "baseline_at_gold"
    r = _row(runs, "greedy", 1, "t2")  # the failed run: nothing, percentile 0, normalised -1
    assert r.status == "failed" and not (r.valid_submission or r.made_valid or r.improved or r.any_medal)
    assert r.percentile == 0.0 and r.normalised_score == -1.0 and r.sandbox == ""
    assert _row(runs, "greedy", 0, "t1").sandbox == "subprocess"
    r = _row(runs, "greedy", 2, "t2")  # an old record: no usage, no env_seconds
    assert r.prompt_tokens == 60 and r.completion_tokens == 14 and math.isnan(r.model_calls) and math.isnan(r.env_s)


def test_summary_complete_seeds_dropped(runs):
    s = summary_table(runs).set_index("policy")
    g = s.loc["gome"]
    assert (g.seeds, g.runs, g.tasks, g.failed) == (2, 6, 3, 0)
    assert g.tasks_per_seed == "s0:3/3 s1:3/3 s2:2/3" and g.seeds_kept == "0 1" and g.seeds_dropped == "2"
    assert g.runs_dropped == 2
    # per task over seeds 0, 1 (the SE is over tasks): improved t1 1/2 (s0), t2 0/2, t3 1/2 (s0)
    assert g.improved_mean == pytest.approx(100 / 3) and g.improved_sem == pytest.approx(sem([50, 0, 50]))
    # any medal: t1 s0 only, t2 none, t3 both (s1: the baseline's own gold)
    assert g.any_medal_mean == pytest.approx(50) and g.any_medal_sem == pytest.approx(sem([50, 0, 100]))
    # made valid: t1 both, t2 s1, t3 s0
    assert g.made_valid_mean == pytest.approx(200 / 3) and g.made_valid_sem == pytest.approx(sem([100, 50, 50]))
    assert g.valid_submission_mean == 100 and g.gold_mean == pytest.approx(50) and g.bronze_mean == 0
    p1, p2, p3 = (0.98 + 0.10) / 2, (0.30 + 0.00) / 2, (0.99 + 0.95) / 2
    assert g.percentile_mean == pytest.approx((p1 + p2 + p3) / 3) and g.percentile_sem == pytest.approx(sem([p1, p2, p3]))
    n0, n1 = (1.125 + 0.0) / 2, (-0.25 - 1.0) / 2  # t3 left out (flagged) in both seeds
    assert g.normalised_score_mean == pytest.approx((n0 + n1) / 2) and g.norm_flagged == 2
    gap0, gap1 = (0.05 + 0.2 / 3) / 2, (0.5 + 7 / 3) / 2
    assert g.dev_test_gap_mean == pytest.approx((gap0 + gap1) / 2)
    assert g.not_confined == 0 and g.model_calls_mean == 4 and g.env_s_mean == 2.5

    r = s.loc["greedy"]
    assert (r.seeds, r.runs, r.failed, r.seeds_dropped) == (3, 9, 1, "")
    # improved per task over seeds 0-2: t1 s0, s2 (2/3); t2 s0 (1/3); t3 none
    assert r.improved_mean == pytest.approx(100 / 3) and r.improved_sem == pytest.approx(sem([200 / 3, 100 / 3, 0]))
    assert r.valid_submission_mean == pytest.approx((100 + 200 / 3 + 100) / 3)  # the failed run is not valid
    assert r.any_medal_mean == pytest.approx((100 / 3 + 0 + 100 / 3) / 3)
    assert r.not_confined == 1 and r.sandboxes == "bwrap subprocess"
    assert r.tokens_mean == pytest.approx((7 * 120 + 74 + 0) / 9)  # the failed run used none recorded

    text = format_summary(summary_table(runs))
    assert text.index("improved %") < text.index("any medal %") < text.index("valid %")
    assert "33.3 ± 16.7" in text and "50.0 ± 28.9" in text and "standard error over tasks" in text
    assert "dropped seed(s) 2 (2 run(s) not counted)" in text and "s2:2/3" in text
    assert "WARNING: greedy / m: 1 unconfined run(s) counted" in text
    assert "2 run(s) left out" in text and "t3" in text


def test_summary_incomplete_seeds_padded(runs):
    g = summary_table(runs, incomplete="pad").set_index("policy").loc["gome"]
    assert (g.seeds, g.runs, g.failed, g.runs_padded, g.seeds_padded) == (3, 9, 1, 1, "2")
    # seed 2: t1 improved (0.8 > 0.5, node 1), t2 the root, t3 padded as a failed run
    assert g.improved_mean == pytest.approx((200 / 3 + 0 + 100 / 3) / 3)
    assert g.valid_submission_mean == pytest.approx((100 + 100 + 200 / 3) / 3)
    assert "padded seed(s) 2 with 1 failed run(s)" in format_summary(summary_table(runs, incomplete="pad"))
    with pytest.raises(ValueError):
        summary_table(runs, incomplete="zero")
    # a seed another policy ran and this one never started is padded whole (and dropped whole)
    extra = runs[runs.policy == "greedy"].assign(seed=lambda f: f.seed + 3).query("seed == 5")
    more = pd.concat([runs, extra], ignore_index=True)
    g = summary_table(more, incomplete="pad").set_index("policy").loc["gome"]
    assert (g.seeds, g.runs_padded, g.seeds_padded, g.tasks_per_seed) == (4, 4, "2 5", "s0:3/3 s1:3/3 s2:2/3 s5:0/3")
    g = summary_table(more).set_index("policy").loc["gome"]
    assert (g.seeds, g.seeds_dropped, g.runs_dropped) == (2, "2 5", 2)


def test_paired_comparisons(runs):
    pairs = paired_table(runs).set_index("figure")
    assert set(pairs["a"]) == {"gome"} and set(pairs["b"]) == {"greedy"}
    # 6 shared runs (gome's seeds 0, 1): +100 on s0 t3, -100 on s0 t2; per task: t1 0, t2 -50, t3 +50
    imp = pairs.loc["improved (pp)"]
    assert (imp.n_tasks, imp.n_runs, imp.mean_diff, imp.wins, imp.losses, imp.ties) == (3, 6, 0.0, 1, 1, 1)
    assert imp.status == "ok" and imp.p == pytest.approx(1.0)
    # in (task, seed) order: t1 s0, t1 s1, t2 s0, t2 s1 (greedy failed: 0 - 0), t3 s0, t3 s1
    diffs = [0.98 - 0.50, 0.10 - 0.40, 0.30 - 0.60, 0.00 - 0.00, 0.99 - 0.95, 0.95 - 0.50]
    per_task = [(diffs[0] + diffs[1]) / 2, (diffs[2] + diffs[3]) / 2, (diffs[4] + diffs[5]) / 2]
    pct = pairs.loc["percentile"]
    assert pct.n_runs == 6 and pct.mean_diff == pytest.approx(np.mean(per_task))
    # the interval is over the 3 tasks (t with 2 df), not over the 6 runs
    half = 4.302652729911275 * np.std(per_task, ddof=1) / np.sqrt(3)
    assert (pct.ci_low, pct.ci_high) == pytest.approx((np.mean(per_task) - half, np.mean(per_task) + half))
    expected = cluster_mean(diffs, ["t1", "t1", "t2", "t2", "t3", "t3"])
    assert (pct.ci_low, pct.ci_high, pct.p) == pytest.approx((expected.ci_low, expected.ci_high, expected.p))
    assert (pct.wins, pct.losses, pct.ties) == (2, 1, 0)  # tasks
    assert paired_table(runs).equals(paired_table(runs))
    text = format_pairs(paired_table(runs))
    assert "m: gome - greedy  percentile: +0.062" in text and "tasks=3 runs=6  W/L/T 2/1/0" in text
    # one task left: insufficient data, never an interval
    one = paired_table(runs[runs.task == "t1"]).set_index("figure").loc["percentile"]
    assert one.status == "insufficient" and math.isnan(one.ci_low) and math.isnan(one.ci_high)
    assert "insufficient data: 1 task(s)" in format_pairs(paired_table(runs[runs.task == "t1"]))


def test_improved_against_a_failed_baseline_and_in_old_records():
    from scripts._figures import run_figures

    final = {"node_id": 2, "test_score": 0.6, "dev_score": 0.6, "valid_submission": True, "medal": "none",
             "thresholds": {"gold": 0.9}, "baseline_test_score": None, "higher_is_better": True}
    line = {"status": "ok", "record": {"final": final}}
    fig = run_figures(line)
    assert fig.improved and fig.made_valid and math.isnan(fig.normalised_score) and fig.norm_flag == "no_baseline_test"
    old = {k: v for k, v in final.items() if k != "baseline_test_score"}
    fig = run_figures({"status": "ok", "record": {"final": {**old, "baseline_dev_score": 0.5}}})
    assert not fig.improved and fig.made_valid and fig.norm_flag == "no_baseline_test"  # dev never stands in for test
    assert math.isnan(fig.percentile)  # written before the percentile existed


def test_statistics():
    assert math.isnan(sem([1.0])) and sem([1.0, 3.0]) == pytest.approx(1.0)
    assert sign_test([1, 1, 1, 1, 1, 1, 1, 1, -1, 0]) == (8, 1, 1, pytest.approx(2 * 10 / 512))
    assert sign_test([0, 0]) == (0, 0, 2, 1.0)
    assert bootstrap_ci([]) != bootstrap_ci([])  # NaN, NaN
    assert all(math.isnan(v) for v in bootstrap_ci([2.0]) + bootstrap_ci([1.0, 1.0]))  # never zero-width
    low, high = bootstrap_ci(list(range(20)))
    assert 6 < low < 9.5 < high < 13


def test_empty_and_csv_round_trip(runs, tmp_path):
    assert summary_table(runs.iloc[0:0]).empty and paired_table(runs.iloc[0:0]).empty
    runs.to_csv(tmp_path / "results.csv", index=False)
    back = pd.read_csv(tmp_path / "results.csv")
    for col in ("improved", "made_valid", "percentile", "norm_flag", "sandbox", "model_calls", "prompt_tokens",
                "completion_tokens", "model_s", "env_s", "dev_test_gap"):
        assert col in back.columns


def test_unconfined_runs_are_left_out_unless_counted(runs):
    """A run whose code could read the private answers (here: an old record under the subprocess
    sandbox) is not in the figures by default; the left-out line says how many, per policy."""
    assert _row(runs, "greedy", 0, "t1").unconfined and not _row(runs, "gome", 0, "t1").unconfined
    assert not _row(runs, "greedy", 1, "t2").unconfined  # failed before any code ran
    counted, left = split_unconfined(runs)
    assert len(counted) == 16 and list(left.itertuples(index=False, name=None))[0][:4] == ("greedy", "m", "t1", 0)
    assert split_unconfined(runs, count_unconfined=True)[0] is runs
    g = summary_table(counted).set_index("policy").loc["greedy"]
    assert g.not_confined == 0 and g.seeds_dropped == "0" and g.runs == 6  # seed 0 now lacks t1: dropped
    assert format_left_out(left).startswith("1 unconfined run(s) left out of these figures (greedy / m: 1)")
    assert "(subprocess sandbox (an older record))" in format_left_out(left)
    assert "--count-unconfined" in format_left_out(left) and format_left_out(counted.iloc[0:0]) == ""


def _line(tmp_path, confinement, default, test=0.8, valid=True):
    store = RunStore(tmp_path)
    spec = RunSpec("p", "m", "digits", 0, steps=1)
    final = {"task": "digits", "node_id": 1, "dev_score": test, "test_score": test if valid else None,
             "valid_submission": valid, "submission_exists": True, "medal": "none", "above_median": False,
             "percentile": 0.5, "thresholds": {"gold": 0.9, "silver": 0.88, "bronze": 0.85, "median": 0.7},
             "baseline_dev_score": 0.5, "baseline_test_score": 0.5, "higher_is_better": True}
    record = {"final": final, "tree": {"higher_is_better": True, "nodes": [
        {"id": 0, "parent_id": None, "diagnostics": {"sandbox": "subprocess"}},
        {"id": 1, "parent_id": 0, "diagnostics": {"sandbox": "subprocess"}}]}}
    facts = {"pins_sha256": "abc", "data_drift": 0, "default_test_score": default, "confinement": confinement}
    store.commit(spec, store.new_attempt(), {"status": "ok", "record": record, "steps": [], "facts": facts})
    line = store.run_lines()[-1]
    assert line["pins_sha256"] == "abc" and line["default_test_score"] == default and line["confinement"] == confinement
    return run_table([line]).iloc[0]


def test_vs_default_score_pins_and_confinement_from_the_run_line(tmp_path):
    """0 = the default solution's test score, 1 = gold; the pins and the confinement come from the line."""
    user = {"confined": True, "how": "user", "user": "nobody", "uid": 65534, "gid": 65534, "reason": ""}
    r = _line(tmp_path / "a", user, default=0.7)
    assert r.norm_vs_default == pytest.approx((0.8 - 0.7) / (0.9 - 0.7)) and r.default_flag == ""
    assert r.normalised_score == pytest.approx(0.3 / 0.4)  # the baseline-to-gold form is unchanged
    assert not r.unconfined and r.run_as == "nobody" and r.pins_sha256 == "abc" and r.data_drift == 0
    r = _line(tmp_path / "b", {**user, "confined": False, "how": "none", "user": None, "reason": "blocked at /root"},
              default=None)
    assert math.isnan(r.norm_vs_default) and r.default_flag == "no_default" and r.unconfined
    assert r.unconfined_why == "blocked at /root" and "(blocked at /root)" in format_left_out(pd.DataFrame([r]))
    assert _line(tmp_path / "c", user, default=0.95).default_flag == "default_at_gold"
    r = _line(tmp_path / "d", user, default=0.7, valid=False)
    assert r.norm_vs_default == -1.0  # no valid submission: the floor, as for the other form
    assert _line(tmp_path / "e", user, default=0.85, test=0.2).norm_vs_default == -1.0  # clipped
    s = summary_table(run_table(RunStore(tmp_path / "a").run_lines()))
    assert s.iloc[0].norm_vs_default_mean == pytest.approx(0.5) and "vs default" in format_summary(s)
