"""A real two-node Ray cluster on this machine (tests/raycluster.py): EnvPool's workers as actors
spread over both nodes, and a benchmark that loses a node mid-run and still ends every run ``ok``
in the same command, with no step counted twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from helpers import improve
from raycluster import LocalCluster

ray = pytest.importorskip("ray", reason="ray is not installed (pip install -e '.[ray]')")

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_ENVS = Path(__file__).parent / "fixtures" / "envs"


@pytest.fixture(scope="session")
def ray_cluster():
    """A head node and a worker node, one CPU each (see tests/raycluster.py), shared by the tests here."""
    cluster = LocalCluster().start()  # the nodes inherit this environment: GOME_DATA_DIR, PYTHONPATH
    yield cluster
    cluster.stop()


@pytest.fixture
def two_nodes(ray_cluster):
    """The cluster with both nodes up (a test that killed the worker node leaves a new one)."""
    if "worker" not in ray_cluster.groups:
        ray_cluster.start_worker()
    return ray_cluster


def _diff(files: dict, transform) -> str:
    from gome_env.patching.diffs import make_diff

    return make_diff(files, {**files, "solution.py": transform(files["solution.py"])})


def _batch(pool) -> list[tuple]:
    pool.reset(seed=0)
    files = pool.files(0)
    results = pool.step_many([(0, _diff(files, improve)), (0, "not a diff"),
                              (0, _diff(files, lambda s: s + "\nraise ValueError('boom')\n")),
                              (0, _diff(files, lambda s: s + "\n# a comment\n"))])
    return [(i["node_id"], i["parent_id"], i["diagnostics"]["status"], i["diagnostics"].get("dev_score"), reward)
            for _, reward, i in results]


@pytest.mark.timeout(180)
def test_env_pool_workers_as_ray_actors_on_both_nodes(two_nodes, tiny_spec):
    from gome_env.pool import EnvPool

    with EnvPool(tiny_spec, size=2) as local:
        expected = _batch(local)
    try:
        with EnvPool(tiny_spec, size=2, ray=two_nodes.address) as pool:
            nodes = pool.worker_nodes()
            assert None not in nodes and len(set(nodes)) == 2  # SPREAD: one actor on each node
            assert {n["NodeID"] for n in ray.nodes() if n["Alive"]} == set(nodes)
            assert pool.wait_ready(120) and pool.parallel
            assert _batch(pool) == expected  # the same statuses, scores, rewards and tree as the local pool
            runs = [s.cold + s.warm for s in pool.executor_status()]
            assert sum(runs) == 3 and min(runs) >= 1  # 3 programs ran (a diff that does not apply runs none), on both actors
            assert pool.env.runner.executor.status().worker_pid is None  # the trainer's side holds no warm worker
            ray.kill(pool._runners[0].handle, no_restart=False)  # an actor dies: Ray restarts it, its step is sent again
            again = pool.step_many([(1, _diff(pool.files(1), lambda s: s + "\n# b\n"))] * 2)
            assert [i["diagnostics"]["status"] for _, _, i in again] == ["ok", "ok"]
        assert ray.is_initialized()  # close() keeps the connection (other pools may share it)
    finally:
        ray.shutdown()


def _bench_command(address: str, out: Path) -> list[str]:
    from gome_env.patching.diffs import make_diff

    old = (FIXTURE_ENVS / "tiny" / "baseline.py").read_text()
    slow = make_diff({"solution.py": old}, {"solution.py": "import time\ntime.sleep(0.5)\n" + old})
    return [sys.executable, "-m", "scripts.benchmark", "--envs-dir", str(FIXTURE_ENVS), "--tasks", "tiny",
            "--models", "scripted", "--policies", "replay", "--seeds", "2", "--steps", "3",
            "--set", f"diffs={json.dumps([slow] * 3)}", "--ray", address, "--retries", "2",
            "--out", str(out), "--no-progress"]


def _streamed_on_worker(cluster: LocalCluster, out: Path) -> bool:
    """Whether a run executing on the worker node (its programs run in ``gome-bench-<run_id>-*``)
    has streamed a step to its partial file."""
    for pid in cluster.running_task_pids("worker", "_ray_run"):
        for cwd in cluster.descendant_cwds(pid):
            run_id = next((part[len("gome-bench-"):].rsplit("-", 1)[0] for part in Path(cwd).parts
                           if part.startswith("gome-bench-")), None)
            if run_id and any(path.stat().st_size for path in (out / "partial").glob(f"{run_id}.*.jsonl")):
                return True
    return False


@pytest.mark.timeout(240)
def test_a_lost_node_costs_a_retry_not_the_command(two_nodes, tmp_path):
    """Kill the worker node while a run is on it: the run is retried on the head node in the same
    command, every run ends ok, and only the finishing attempts' steps count. Then: a run that no
    live node can take is not retried."""
    from scripts._executors import RayExecutor
    from scripts._runs import RunSpec, RunStore

    out = tmp_path / "out"
    env = {**two_nodes.env, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    proc = subprocess.Popen(_bench_command(two_nodes.address, out), cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not _streamed_on_worker(two_nodes, out):  # a run on the worker node has streamed a step
            assert proc.poll() is None, proc.communicate()[0][-3000:]
            assert time.monotonic() < deadline, "no run on the worker node streamed a step"
            time.sleep(0.02)
        two_nodes.kill("worker")
        output, _ = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, output[-3000:]
    assert "run lost, retrying (1/2)" in output

    store = RunStore(out)
    lines = store.run_lines()
    latest = store.latest_runs()
    assert len(latest) == 2 and {line["status"] for line in latest.values()} == {"ok"}
    lost = [line for line in lines if line["lost"]]
    assert len(lost) == 1 and lost[0]["status"] == "failed" and len(lines) == 3  # one lost attempt, recorded
    assert any(name in lost[0]["error"] for name in ("NodeDiedError", "WorkerCrashedError", "ActorDiedError"))
    assert lost[0]["n_steps"] >= 1  # with the steps it had streamed, kept in steps.jsonl ...
    assert sum(s["attempt"] == lost[0]["attempt"] for s in store.steps(committed_only=False)) == lost[0]["n_steps"]
    steps = store.steps()  # ... and never counted
    assert Counter((s["run_key"], s["step"]) for s in steps) == {(k, n): 1 for k in latest for n in (1, 2, 3)}
    assert {(s["run_key"], s["attempt"]) for s in steps} == {(k, line["attempt"]) for k, line in latest.items()}
    table = pd.read_csv(out / "results.csv")
    assert sorted(table["status"]) == ["ok", "ok"] and set(table["steps"]) == {3}

    spec = RunSpec.from_dict({k: latest[next(iter(latest))][k] for k in ("policy", "model", "task", "seed")} | {"steps": 3})
    try:
        assert RayExecutor(lambda *a: None, two_nodes.address).no_capacity(spec) is None  # the head has its CPU
        reason = RayExecutor(lambda *a: None, two_nodes.address, cpus_per_run=2).no_capacity(spec)
        assert reason == "no live node in the Ray cluster has 2 CPU and 0 GPU for it (1 node(s) alive)"
    finally:
        ray.shutdown()
