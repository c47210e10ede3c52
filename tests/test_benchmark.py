"""The benchmark: aggregation on constructed records, the run store, failed runs, and resume after SIGKILL."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from scripts._aggregate import format_summary, normalised_score, run_table, sem, summary_table
from scripts._runs import RunSpec, RunStore, make_specs, read_jsonl

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_ENVS = Path(__file__).parent / "fixtures" / "envs"
RAISE_FLAG = "GOME_TEST_BENCH_RAISE"


def _tiny_baseline() -> str:
    return (FIXTURE_ENVS / "tiny" / "baseline.py").read_text()


def edit_diff(extra: str = "# edited\n") -> str:
    """A diff that prepends ``extra`` to the tiny task's baseline."""
    from gome_env.patching.diffs import make_diff

    old = _tiny_baseline()
    return make_diff({"solution.py": old}, {"solution.py": extra + old})


# ---------------------------------------------------------------- fakes the benchmark imports by name


def raising_policy(model=None, **config):
    """A policy whose ``run`` raises (a model server that stayed away) while RAISE_FLAG is set."""
    from policies.base import Policy
    from policies.models import ModelError

    class Raising(Policy):
        name = "raising"
        needs_model = False

        def run(self, episode):
            if os.environ.get(RAISE_FLAG):
                raise ModelError("model server went away (gave up after 3 retries)")
            episode.step(edit_diff(), episode.tree.root.id, kind="replay")

    return Raising(model=None, **config)


def unreachable_policy(model=None, **config):
    """Raises before the episode starts (outside run_episode) while RAISE_FLAG is set."""
    if os.environ.get(RAISE_FLAG):
        raise ConnectionError("model server unreachable")
    from policies.replay import ReplayPolicy

    return ReplayPolicy(model=None, diffs=[edit_diff()])


# ---------------------------------------------------------------- constructed records


def _final(valid=True, medal="none", above=False, test=0.8, base=0.5, gold=0.9):
    return {"node_id": 1, "dev_score": test, "test_score": test if valid else None, "valid_submission": valid,
            "submission_exists": valid, "medal": medal, "above_median": above,
            "gold": medal == "gold", "silver": medal == "silver", "bronze": medal == "bronze",
            "thresholds": {"gold": gold, "silver": 0.85, "bronze": 0.8, "median": 0.7},
            "baseline_dev_score": base, "baseline_test_score": base, "higher_is_better": gold > base}


def _line(policy, seed, task, final, status="ok", model="m"):
    key = f"{policy}/{model}/{task}/seed{seed}/h"
    record = None if final is None else {"final": final, "usage": {"prompt_tokens": 10, "completion_tokens": 5},
                                          "wall_s": 2.0, "stopped_by": "steps"}
    return {"run_key": key, "run_id": key.replace("/", "-"), "attempt": "a", "policy": policy, "model": model,
            "task": task, "seed": seed, "status": status, "error": None if status == "ok" else "boom",
            "n_steps": 3, "record": record}


def constructed_lines():
    # gome: seed 0 -> gold on t1, nothing on t2; seed 1 -> bronze on t1, silver on t2; seed 2 -> failed on t1, gold on t2
    gome = [
        _line("gome", 0, "t1", _final(medal="gold", above=True, test=0.95)),
        _line("gome", 0, "t2", _final(valid=False)),
        _line("gome", 1, "t1", _final(medal="bronze", above=True, test=0.8)),
        _line("gome", 1, "t2", _final(medal="silver", above=True, test=0.86)),
        _line("gome", 2, "t1", None, status="failed"),
        _line("gome", 2, "t2", _final(medal="gold", above=True, test=0.9)),
    ]
    greedy = [_line("greedy", s, t, _final(test=0.6)) for s in range(3) for t in ("t1", "t2")]
    return gome + greedy


def test_aggregation_on_constructed_records():
    runs = run_table(constructed_lines())
    assert len(runs) == 12
    failed = runs[runs["status"] == "failed"].iloc[0]
    assert not failed["valid_submission"] and not failed["any_medal"] and failed["normalised_score"] == -1.0

    summary = summary_table(runs).set_index("policy")
    g = summary.loc["gome"]
    assert g["seeds"] == 3 and g["runs"] == 6 and g["failed"] == 1
    # per-task rates over the 3 seeds (the SE is over tasks): valid t1 2/3, t2 2/3; any medal t1 2/3, t2 2/3
    assert g["valid_submission_mean"] == pytest.approx(200 / 3)
    assert g["valid_submission_sem"] == pytest.approx(sem([200 / 3, 200 / 3]))
    assert g["any_medal_mean"] == pytest.approx(200 / 3)
    assert g["gold_mean"] == pytest.approx(100 / 3)
    assert g["silver_mean"] == pytest.approx(50 / 3)
    assert g["bronze_mean"] == pytest.approx(50 / 3)
    assert g["above_median_mean"] == pytest.approx(200 / 3)
    assert g["any_medal_sem"] == pytest.approx(0.0)  # both tasks 2/3
    assert g["gold_sem"] == pytest.approx(pd.Series([100 / 3, 100 / 3]).std() / math.sqrt(2))
    r = summary.loc["greedy"]
    assert r["valid_submission_mean"] == 100 and r["valid_submission_sem"] == 0
    assert r["any_medal_mean"] == 0 and r["failed"] == 0
    assert r["normalised_score_mean"] == pytest.approx((0.6 - 0.5) / (0.9 - 0.5))

    text = format_summary(summary_table(runs))
    assert "66.7 ± 0.0" in text and "any medal %" in text


def test_sem_and_normalised_score():
    assert math.isnan(sem([1.0]))
    assert sem([1.0, 3.0]) == pytest.approx(1.0)
    assert normalised_score(_final(test=0.9)) == (pytest.approx(1.0), "")
    assert normalised_score(_final(test=0.5)) == (0.0, "")
    assert normalised_score(_final(valid=False)) == (-1.0, "")  # no valid submission: the floor
    assert normalised_score(_final(test=-100.0)) == (-1.0, "")  # clipped at -1
    # lower-is-better: the direction cancels out
    assert normalised_score(_final(test=2.0, base=4.0, gold=1.0)) == (pytest.approx(2 / 3), "")
    # the baseline reaches gold: flagged, not zeroed
    score, flag = normalised_score(_final(test=0.95, base=0.9, gold=0.9))
    assert math.isnan(score) and flag == "baseline_at_gold"


def test_run_key_covers_budget_and_config():
    a = RunSpec("gome", "smollm2", "digits", 0, steps=3)
    assert a.key == RunSpec("gome", "smollm2", "digits", 0, steps=3).key
    assert a.key != RunSpec("gome", "smollm2", "digits", 0, steps=4).key
    assert a.key != RunSpec("gome", "smollm2", "digits", 0, steps=3, token_budget=100).key
    assert a.key != RunSpec("gome", "smollm2", "digits", 0, steps=3, policy_config={"max_tokens": 9}).key
    specs = make_specs(["gome", "greedy"], ["m"], ["t1", "t2"], seeds=2, steps=3, policy_config={"*": {"x": 1}, "gome": {"y": 2}})
    assert len(specs) == 8 and len({s.key for s in specs}) == 8
    assert next(s for s in specs if s.policy == "gome").policy_config == {"x": 1, "y": 2}


def test_store_recovery_torn_lines_and_cut_commits(tmp_path):
    store = RunStore(tmp_path)
    spec, other = RunSpec("p", "m", "t", 0, steps=2), RunSpec("p", "m", "t", 1, steps=2)
    # an interrupted attempt: steps in its partial file, no run line
    store.append_step(other, "dead", {"step": 1})
    # a commit cut after the run line: partial file holds the steps, steps.jsonl does not
    store.append_step(spec, "live", {"step": 1})
    store.append_step(spec, "live", {"step": 2})
    partial = store.partial_dir / f"{spec.run_id}.live.jsonl"
    store._runs.write([json.dumps({**spec.labels(), "attempt": "live", "status": "ok", "record": None})])
    with open(store.runs_path, "a") as handle:  # a torn line from a killed writer
        handle.write('{"run_key": "x", "sta')
    assert partial.exists()

    store = RunStore(tmp_path)
    counts = store.recover()
    assert counts == {"completed_commits": 1, "abandoned": 1}
    assert [s["step"] for s in store.steps()] == [1, 2]
    assert list(store.partial_dir.glob("*.abandoned"))
    assert store.done_keys() == {spec.key}
    assert store.recover() == {"completed_commits": 0, "abandoned": 0}  # idempotent
    store._runs.write([json.dumps({"run_key": "y", "attempt": "b", "status": "ok"})])
    assert len(store.run_lines()) == 2  # the torn line was closed off, not glued to the next one


def _bench(out, *extra, policies="replay"):
    from scripts.benchmark import main

    return main(["--envs-dir", str(FIXTURE_ENVS), "--tasks", "tiny", "--models", "scripted", "--policies", policies,
                 "--steps", "2", "--out", str(out), "--no-progress", *extra])


def test_failed_runs_are_recorded_counted_and_retried(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(RAISE_FLAG, "1")
    policies = "test_benchmark:raising_policy,test_benchmark:unreachable_policy,replay"
    diffs = json.dumps([edit_diff()])
    assert _bench(tmp_path, "--seeds", "2", "--set", f"replay.diffs={diffs}", policies=policies) == 0
    printed = capsys.readouterr().out
    assert "4 run(s) failed" in printed and "model server went away" in printed
    assert "improved %" in printed and "paired comparisons" in printed
    pairs = pd.read_csv(tmp_path / "pairs.csv")
    assert len(pairs) == 3 * 4 and set(pairs["n_runs"]) == {2}  # 3 pairs of policies x 4 figures, on 2 seeds
    assert set(pairs["status"]) == {"insufficient"} and set(pairs["n_tasks"]) == {1}  # one task: no interval

    store = RunStore(tmp_path)
    latest = store.latest_runs()
    assert len(latest) == 6
    by_policy = Counter((l["policy"].split(":")[-1], l["status"]) for l in latest.values())
    assert by_policy == {("raising_policy", "failed"): 2, ("unreachable_policy", "failed"): 2, ("replay", "ok"): 2}
    raised = next(l for l in latest.values() if l["policy"].endswith("raising_policy"))
    assert "model server went away" in raised["error"] and "Traceback" in raised["traceback"]
    unreachable = next(l for l in latest.values() if l["policy"].endswith("unreachable_policy"))
    assert unreachable["error"] == "ConnectionError: model server unreachable" and unreachable["record"] is None

    results = pd.read_csv(tmp_path / "results.csv")
    failed = results[results["status"] == "failed"]
    assert len(failed) == 4 and not failed["valid_submission"].any()
    summary = pd.read_csv(tmp_path / "summary.csv").set_index("policy")
    assert summary.loc["test_benchmark:raising_policy", "valid_submission_mean"] == 0
    assert summary.loc["replay", "valid_submission_mean"] == 100
    assert (tmp_path / "results.parquet").exists()

    # the server is back: a rerun retries the failed runs only
    monkeypatch.delenv(RAISE_FLAG)
    assert _bench(tmp_path, "--seeds", "2", "--set", f"replay.diffs={diffs}", policies=policies) == 0
    lines = RunStore(tmp_path).run_lines()
    assert len(lines) == 10  # 6 + the 4 retried; the 2 finished runs were not run again
    assert {l["status"] for l in RunStore(tmp_path).latest_runs().values()} == {"ok"}
    steps = RunStore(tmp_path).steps()
    assert Counter((s["run_key"], s["step"]) for s in steps).most_common(1)[0][1] == 1


def test_default_command_is_the_embedded_main_job():
    from scripts.benchmark import build_parser, specs_from_args

    specs = specs_from_args(build_parser().parse_args([]))
    assert {s.policy for s in specs} == {"gome", "greedy"}
    assert {s.model for s in specs} == {"smollm2"}
    assert len({s.task for s in specs}) == 2 and len(specs) == 4


def _in_progress(out: Path, runs: list[dict]) -> bool:
    """Whether a run not yet committed has streamed a step (a finished run's partial file can
    linger for a moment while it is committed: that one does not count)."""
    committed = {(r.get("run_key"), r.get("attempt")) for r in runs}
    for path in (out / "partial").glob("*.jsonl"):
        try:
            first = next(read_jsonl(path), None)
        except OSError:  # committed and deleted meanwhile
            continue
        if first and (first.get("run_key"), first.get("attempt")) not in committed:
            return True
    return False


@pytest.mark.timeout(120)
def test_resume_after_sigkill(tmp_path):
    """Kill the benchmark with SIGKILL after its first run finished and while the next one is part-way;
    the rerun ends with the same runs as an uninterrupted benchmark and no step twice."""
    out = tmp_path / "out"
    diffs = json.dumps([edit_diff("import time\ntime.sleep(0.8)\n")] * 3)  # steps long enough that a loaded machine still sees the 2nd run part-way
    args = [sys.executable, "-m", "scripts.benchmark", "--envs-dir", str(FIXTURE_ENVS), "--tasks", "tiny",
            "--models", "scripted", "--policies", "replay", "--seeds", "3", "--steps", "3",
            "--set", f"diffs={diffs}", "--set", "parents=[0,0,0]", "--out", str(out), "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            runs = list(read_jsonl(out / "runs.jsonl"))
            if runs and _in_progress(out, runs):
                break
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            time.sleep(0.05)
        else:
            pytest.fail("the benchmark did not reach its second run in time")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    first = list(read_jsonl(out / "runs.jsonl"))
    assert 1 <= len(first) < 3

    again = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "set aside" in again.stderr

    listed = subprocess.run([*args, "--dry-run"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    expected = {line.split()[1] for line in listed.stdout.splitlines() if line.strip()}
    assert len(expected) == 3 and all(line.startswith("done") for line in listed.stdout.splitlines() if line.strip())

    store = RunStore(out)
    lines = store.run_lines()
    assert {l["run_key"] for l in lines} == expected
    assert len(lines) == 3  # the run finished before the kill was not run again
    assert all(l["status"] == "ok" for l in lines)
    assert lines[0]["attempt"] == first[0]["attempt"]
    raw_steps = list(read_jsonl(out / "steps.jsonl"))
    assert len(raw_steps) == 9
    assert Counter((s["run_key"], s["step"]) for s in raw_steps).most_common(1)[0][1] == 1
    assert {(l["run_key"], l["attempt"]) for l in lines} == {(s["run_key"], s["attempt"]) for s in raw_steps}
    assert list((out / "partial").glob("*.abandoned"))  # the interrupted attempt, set aside
    assert not list((out / "partial").glob("*.jsonl"))
    assert len(pd.read_csv(out / "results.csv")) == 3



def test_a_name_given_twice_is_one_run():
    specs = make_specs(["gome", "gome"], ["m", "m"], ["t1"], seeds=1, steps=3)
    assert len(specs) == 1
