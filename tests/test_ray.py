"""The benchmark's Ray executor in local mode: two runs, the same record format as local runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts._executors import ray_resources

ray = pytest.importorskip("ray", reason="ray is not installed (pip install -e '.[ray]')")

FIXTURE_ENVS = Path(__file__).parent / "fixtures" / "envs"


def _diff() -> str:
    from gome_env.patching.diffs import make_diff

    old = (FIXTURE_ENVS / "tiny" / "baseline.py").read_text()
    return make_diff({"solution.py": old}, {"solution.py": "# edited\n" + old})


def _bench(out: Path, *extra: str) -> int:
    from scripts.benchmark import main

    return main(["--envs-dir", str(FIXTURE_ENVS), "--tasks", "tiny", "--models", "scripted", "--policies", "replay",
                 "--seeds", "2", "--steps", "2", "--set", f"diffs={json.dumps([_diff(), _diff()])}",
                 "--out", str(out), "--no-progress", *extra])


def _shape(out: Path) -> tuple[set, set, set, list]:
    from scripts._runs import RunStore

    store = RunStore(out)
    runs = store.run_lines()
    steps = store.steps()
    return (
        {r["run_key"] for r in runs},
        set().union(*(r.keys() for r in runs)) | {f"record.{k}" for r in runs for k in (r["record"] or {})},
        set().union(*(s.keys() for s in steps)),
        sorted((s["run_key"], s["step"], s["status"]) for s in steps),
    )


@pytest.mark.timeout(120)
def test_ray_local_runs_two_runs_with_the_same_records(tmp_path):
    assert _bench(tmp_path / "local") == 0
    try:
        assert _bench(tmp_path / "ray", "--ray", "local", "--workers", "2") == 0
        hosts = {json.loads(line)["host"] for line in (tmp_path / "ray" / "runs.jsonl").read_text().splitlines()}
        assert ray.is_initialized() and hosts
    finally:
        ray.shutdown()
    local, on_ray = _shape(tmp_path / "local"), _shape(tmp_path / "ray")
    assert len(on_ray[0]) == 2 and all(r["status"] == "ok" for r in map(json.loads, (tmp_path / "ray" / "runs.jsonl").read_text().splitlines()))
    assert local == on_ray  # same run keys, same fields, same steps
    assert (tmp_path / "ray" / "results.csv").exists()


def test_resource_hints():
    assert ray_resources("vllm:/models/qwen", cluster_gpus=4, gpus_per_run=None, cpus_per_run=1) == {"num_cpus": 1, "num_gpus": 1.0}
    assert ray_resources("vllm:/models/qwen", cluster_gpus=0, gpus_per_run=None, cpus_per_run=1)["num_gpus"] == 0
    assert ray_resources("smollm2", cluster_gpus=4, gpus_per_run=None, cpus_per_run=2) == {"num_cpus": 2, "num_gpus": 0.0}
    assert ray_resources("hf:/m", cluster_gpus=4, gpus_per_run=0.5, cpus_per_run=1)["num_gpus"] == 0.5
