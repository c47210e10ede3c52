"""Report and scaling plots from constructed records."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib", reason="matplotlib is not installed (pip install -e '.[plots]')")

from scripts._crossover import curve_result  # noqa: E402
from scripts._plots import plot_scaling, plot_tree, tree_layout  # noqa: E402
from scripts._runs import RunSpec, RunStore  # noqa: E402
from scripts.report import main as report_main  # noqa: E402
from scripts.report import make_report  # noqa: E402
from scripts.scaling_study import load_models_file, scaling_table  # noqa: E402

STATUSES = ["ok", "patch_failed", "syntax_error", "runtime_error", "timeout", "invalid_submission"]


def _episode(policy: str, seed: int, n: int, bushy: bool) -> tuple[dict, list[dict]]:
    rng = random.Random(seed * 7 + len(policy))
    nodes = [{"id": 0, "parent_id": None, "step": 0, "status": "ok", "dev_score": 0.5, "diff": "", "diagnostics": {}}]
    steps, best = [], 0.5
    for i in range(1, n + 1):
        parent = rng.randrange(i) if bushy else i - 1
        status = rng.choice(STATUSES)
        score = round(0.5 + rng.random() * 0.45, 3) if status == "ok" else None
        best = max(best, score or best)
        nodes.append({"id": i, "parent_id": parent, "step": i, "status": status, "dev_score": score, "diff": "", "diagnostics": {}})
        steps.append({"step": i, "node_id": i, "parent_id": parent, "trace": 0, "kind": "draft", "prompt": None, "answer": None,
                      "diff": "", "status": status, "dev_score": score, "best_dev_score": best, "reward": 0.0,
                      "prompt_tokens": 100 + 10 * i, "completion_tokens": 50, "wall_s": 1.0, "diagnostics": {}})
    best_node = max((x for x in nodes if x["dev_score"] is not None), key=lambda x: x["dev_score"])
    medal = "gold" if best >= 0.9 else "bronze" if best >= 0.8 else "none"
    final = {"node_id": best_node["id"], "dev_score": best, "test_score": best, "valid_submission": True,
             "submission_exists": True, "medal": medal, "above_median": best > 0.7, "gold": medal == "gold",
             "silver": False, "bronze": medal == "bronze",
             "thresholds": {"gold": 0.9, "silver": 0.85, "bronze": 0.8, "median": 0.7}, "baseline_dev_score": 0.5,
             "baseline_test_score": 0.5, "percentile": best, "higher_is_better": True}
    record = {"policy": policy, "model": "m", "task": "t", "seed": seed, "steps": steps,
              "usage": {"calls": n, "prompt_tokens": sum(s["prompt_tokens"] for s in steps),
                        "completion_tokens": 50 * n, "seconds": 1.0},
              "final": final, "tree": {"higher_is_better": True, "nodes": nodes}, "wall_s": float(n),
              "stopped_by": "steps", "error": None}
    return record, steps


@pytest.fixture
def bench_folder(tmp_path):
    store = RunStore(tmp_path / "bench")
    for seed in range(2):
        for policy, bushy in (("gome", False), ("greedy", True)):
            spec = RunSpec(policy, "m", "t", seed, steps=12)
            record, steps = _episode(policy, seed, 12, bushy)
            store.commit(spec, store.new_attempt(), {"status": "ok", "record": record, "steps": steps})
    failed = RunSpec("greedy", "m", "t2", 0, steps=12)
    store.commit(failed, "x", {"status": "failed", "error": "ModelError: server gone", "record": None, "steps": []})
    return store.out


def _non_trivial(path, min_bytes=8000):
    import matplotlib.image as mpimg

    assert path.exists() and path.stat().st_size > min_bytes, path
    pixels = mpimg.imread(path)
    assert pixels.shape[0] > 200 and pixels.shape[1] > 200 and float(np.std(pixels)) > 0.02, path


def test_report_plots_from_constructed_records(bench_folder, capsys):
    assert report_main([str(bench_folder), "--tree", "compare"]) == 0
    dest = bench_folder / "report"
    for name in ("medal_rates.png", "best_vs_steps.png", "best_vs_tokens.png", "failure_statuses.png"):
        _non_trivial(dest / name)
    trees = sorted((dest / "trees").glob("compare-*.png"))
    assert [p.name for p in trees] == ["compare-m-t-s0.png", "compare-m-t-s1.png"]  # the failed run has no tree
    for path in trees:
        _non_trivial(path, 15000)
    # complete seeds only: t2 has one (failed) greedy run on seed 0, so greedy keeps seed 0 and
    # gome, which never ran t2, keeps none
    summary = pd.read_csv(dest / "summary.csv").set_index("policy")
    assert summary.loc["greedy", "failed"] == 1 and summary.loc["greedy", "seeds"] == 1
    assert summary.loc["gome", "seeds"] == 0 and str(summary.loc["gome", "seeds_dropped"]) == "0 1"
    statuses = pd.read_csv(dest / "statuses.csv", index_col=0)
    assert statuses.loc["gome"].sum() == 24
    printed = capsys.readouterr().out
    assert "improved %" in printed and "any medal %" in printed and "dropped seed(s) 0 1" in printed
    assert "fewer than two policies" in printed  # no complete seed is shared, so nothing is paired
    # padding counts gome's missing t2 runs as failures: both policies keep both seeds, and pair up
    assert report_main([str(bench_folder), "--tree", "none", "--incomplete", "pad"]) == 0
    padded = pd.read_csv(dest / "summary.csv").set_index("policy")
    assert list(padded["seeds"]) == [2, 2] and padded.loc["gome", "runs_padded"] == 2
    pairs = pd.read_csv(dest / "pairs.csv")
    assert set(pairs["n_runs"]) == {4} and "gome - greedy  percentile" in capsys.readouterr().out


def test_single_tree_picture(bench_folder):
    result = make_report(bench_folder, trees="gome-m-t-s1")
    pictures = [p for p in result["files"] if p.parent.name == "trees"]
    assert len(pictures) == 1
    _non_trivial(pictures[0])


def test_tree_layout_and_accepted_path(tmp_path):
    nodes = [{"id": 0, "parent_id": None}, {"id": 1, "parent_id": 0}, {"id": 2, "parent_id": 0}, {"id": 3, "parent_id": 1}]
    pos = tree_layout(nodes)
    assert pos[0][1] == 0 and pos[1][1] == -1 and pos[3][1] == -2
    assert pos[0][0] == pytest.approx((pos[1][0] + pos[2][0]) / 2)
    tree = {"nodes": [{**n, "status": s, "dev_score": d} for n, s, d in
                      zip(nodes, ["ok", "runtime_error", "ok", "ok"], [0.5, None, 0.6, 0.7])]}
    _non_trivial(plot_tree(tree, tmp_path / "tree.png", accepted=3, title="tiny"), 5000)


def test_scaling_plot_marks_a_significant_crossover(tmp_path):
    models = [{"name": n, "spec": f"s:{n}", "params": p} for n, p in (("a", 135e6), ("b", 0.5e9), ("c", 1.5e9), ("d", 7e9))]
    rows, table = [], []
    for m, adv in zip(models, (-0.3, -0.2, 0.2, 0.3)):  # GOME overtakes between 0.5B and 1.5B
        for task in ("t1", "t2", "t3", "t4"):
            for seed in range(3):
                wobble = 0.01 * ((seed + int(task[1])) % 3)
                rows.append({"policy": "greedy", "model": m["spec"], "task": task, "seed": seed, "percentile": 0.5 + wobble})
                rows.append({"policy": "gome", "model": m["spec"], "task": task, "seed": seed,
                             "percentile": 0.5 + adv * (1 + 0.1 * int(task[1])) - wobble})  # tasks differ
        for policy, level in (("gome", 0.5 + adv), ("greedy", 0.5)):
            table.append({"policy": policy, "name": m["name"], "params": m["params"], "percentile_mean": level,
                          "percentile_sem": 0.01, "any_medal_mean": 100 * level, "any_medal_sem": 2.0})
    result = curve_result(pd.DataFrame(rows), models, "percentile", "percentile")
    (c,) = result.crossovers
    assert (c.lower, c.upper) == ("b", "c") and 0.5e9 < c.at_params < 1.5e9
    _non_trivial(plot_scaling(pd.DataFrame(table), tmp_path / "scaling.png", {"percentile": result}))


def test_models_file_and_scaling_table(tmp_path):
    toml = tmp_path / "m.toml"
    toml.write_text('[[models]]\nname = "a"\nspec = "smollm2"\nparams = "135M"\n\n'
                    '[[models]]\nname = "b"\nspec = "vllm:/m/b"\nparams = 1.5e9\n')
    csv = tmp_path / "m.csv"
    csv.write_text("# comment\nname,spec,params\na,smollm2,135M\nb,vllm:/m/b,1.5B\n")
    assert load_models_file(toml) == load_models_file(csv) == [
        {"name": "a", "spec": "smollm2", "params": 135e6}, {"name": "b", "spec": "vllm:/m/b", "params": 1.5e9}]
    summary = pd.DataFrame({"policy": ["gome", "gome"], "model": ["smollm2", "vllm:/m/b"], "any_medal_mean": [0, 50]})
    table = scaling_table(summary, load_models_file(toml))
    assert list(table["params"]) == [135e6, 1.5e9] and list(table["name"]) == ["a", "b"]


def test_scaling_study_end_to_end_without_a_crossover(tmp_path, capsys):
    """One scripted model, two policies on the tiny fixture task: every curve is written and
    printed, one task is "insufficient data" (never an interval), and a single size never makes a
    crossover: crossovers.csv is a header alone."""
    import json

    from scripts.scaling_study import main as scaling_main
    from test_benchmark import FIXTURE_ENVS, edit_diff

    models = tmp_path / "models.csv"
    models.write_text("name,spec,params\nscr,scripted,1M\n")
    diffs = json.dumps([edit_diff(), edit_diff("# two\n")])
    assert scaling_main([str(models), "--envs-dir", str(FIXTURE_ENVS), "--tasks", "tiny", "--policies", "gome,replay",
                         "--seeds", "2", "--steps", "2", "--out", str(tmp_path / "out"), "--no-progress",
                         "--rival", "replay", "--set", f"replay.diffs={diffs}"]) == 0
    printed = capsys.readouterr().out
    assert "equal spend: every run had the same budget of 500,000 model tokens" in printed  # --preset full
    assert "PRIMARY any_medal (pp): gome - replay" in printed
    for curve in ("percentile", "best_dev@steps", "best_dev@tokens"):
        assert f"SECONDARY {curve} (" in printed
    assert printed.count("trend: insufficient data") == 4 and "crossovers: none" in printed
    crossovers = pd.read_csv(tmp_path / "out" / "crossovers.csv")
    assert crossovers.empty and "estimated_params" in crossovers.columns
    advantage = pd.read_csv(tmp_path / "out" / "advantage.csv")
    assert list(advantage["figure"]) == ["any_medal", "percentile", "best_dev@steps", "best_dev@tokens"]
    assert set(advantage["status"]) == {"insufficient"} and set(advantage["n_tasks"]) == {1}
    scaling = pd.read_csv(tmp_path / "out" / "scaling.csv")
    assert {"best_dev@steps_mean", "best_dev@tokens_mean", "best_dev@tokens_budget", "percentile_mean"} <= set(scaling)
    _non_trivial(tmp_path / "out" / "scaling_matched.png")
