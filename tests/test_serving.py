"""One served model for many runs (``policies.models.serving``, ``--serve``).

The lifecycle tests (health polling, restart on death, stop at the end, on an exception) run a
tiny real HTTP server process standing in for vLLM: they are about the lifecycle, not the model.
The slow test runs two benchmark runs at once against one real vLLM server (the bundled model on
vLLM's CPU build) and counts both runs' requests in that server's own metrics.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from models_fixtures import require_vllm, smollm2_dir, vllm_server  # noqa: F401 (fixtures)
from policies.models import ModelError
from policies.models.serving import LocalLauncher, ModelServers, ServeConfig, ServedEndpoint, servable, served_name
from policies.models.serving_ray import actor_resources
from policies.models.vllm_server import ChildServer, VLLMServer, http_ok
from scripts._executors import ray_resources
from scripts._runs import RunSpec, make_specs, read_jsonl
from scripts._serve import add_serve_args, route, serve_config

FIXTURE_ENVS = Path(__file__).parent / "fixtures" / "envs"

# A stand-in server: /health answers 200 once it listens; it starts listening after DELAY s.
STAND_IN = """
import http.server, sys, time
time.sleep(float(sys.argv[2]))
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


class StandInLauncher:
    """A Launcher running the stand-in (what ModelServers sees of a vLLM server's process)."""

    def __init__(self, model: str, config: ServeConfig, tmp: Path, delay: float = 0.3) -> None:
        self.model = model
        self.server = ChildServer([], startup_timeout_s=config.startup_timeout_s, poll_s=0.05,
                                  log_path=tmp / f"{served_name(model)}.log")
        self.server.argv = [sys.executable, "-c", STAND_IN, str(self.server.port), str(delay)]
        self.launches = 0

    def launch(self) -> None:
        self.launches += 1
        self.server.launch()

    def wait_ready(self) -> ServedEndpoint:
        self.server.wait_ready()
        return ServedEndpoint(self.model, served_name(self.model), f"http://127.0.0.1:{self.server.port}/v1", "local",
                              self.server.pid, self.server.startup_s)

    def alive(self) -> bool:
        return self.server.alive(timeout_s=0.5)

    def running(self) -> bool:
        return self.server.running()

    def stop(self) -> None:
        self.server.stop(grace_s=1)


def _servers(tmp_path: Path, models=("vllm:/m/a", "vllm:/m/b"), **config) -> ModelServers:
    made: dict[str, StandInLauncher] = {}

    def launcher(model: str, cfg: ServeConfig) -> StandInLauncher:
        made[model] = StandInLauncher(model, cfg, tmp_path)
        return made[model]

    servers = ModelServers(list(models), ServeConfig(**config), launcher=launcher, log=lambda msg: None)
    servers.made = made  # type: ignore[attr-defined]
    return servers


def _wait_for(condition, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_child_server_polls_health_until_it_answers(tmp_path):
    server = ChildServer([], log_path=tmp_path / "s.log", poll_s=0.05, startup_timeout_s=20)
    server.argv = [sys.executable, "-c", STAND_IN, str(server.port), "0.5"]
    with server:
        assert server.alive() and server.startup_s is not None and server.startup_s >= 0.5
        pid = server.pid
    assert not server.running()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_server_started_long_ago_is_ready_not_timed_out(tmp_path):
    """A session's shared server, healthy for longer than the start-up timeout, is taken as ready by
    the next user (the served-model tests once stopped it: the deadline had passed before a first poll)."""
    server = ChildServer([], log_path=tmp_path / "s.log", poll_s=0.05, startup_timeout_s=20)
    server.argv = [sys.executable, "-c", STAND_IN, str(server.port), "0"]
    with server:
        first = server.startup_s
        server._launched -= 3600  # launched an hour ago, as far as the deadline knows
        assert server.wait_ready() is server and server.running() and server.startup_s == first


def test_child_server_that_exits_early_fails_with_its_log(tmp_path):
    server = ChildServer([sys.executable, "-c", "print('no model here'); raise SystemExit(3)"],
                         log_path=tmp_path / "s.log", poll_s=0.05)
    with pytest.raises(ModelError, match="exited with code 3.*\n.*no model here"):
        server.start()


def test_servers_start_hand_out_endpoints_and_stop_at_the_end(tmp_path):
    servers = _servers(tmp_path)
    with servers:
        specs = {m: servers.spec_for(m) for m in ("vllm:/m/a", "vllm:/m/b")}
        assert len(set(specs.values())) == 2 and all(s.startswith("openai:http://127.0.0.1:") for s in specs.values())
        assert specs["vllm:/m/a"].endswith("#a") and servers.spec_for("smollm2") is None
        assert all(servers.check(m) for m in specs)
        record = servers.to_dict()
        json.dumps(record)
        assert [e["spec"] for e in record["endpoints"]] == list(specs.values())
        pids = [launcher.server.pid for launcher in servers.made.values()]
    assert not any(launcher.server.running() for launcher in servers.made.values())
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_dead_server_is_restarted_on_its_port_until_max_restarts(tmp_path):
    with _servers(tmp_path, models=("vllm:/m/a",), max_restarts=1, check_every_s=3600) as servers:
        launcher = servers.made["vllm:/m/a"]
        before = servers.spec_for("vllm:/m/a")
        launcher.server.process.send_signal(signal.SIGKILL)
        launcher.server.process.wait()
        assert servers.check("vllm:/m/a")  # restarted
        assert launcher.launches == 2 and launcher.alive()
        assert servers.spec_for("vllm:/m/a") == before and servers.endpoints["vllm:/m/a"].restarts == 1
        launcher.server.process.send_signal(signal.SIGKILL)
        launcher.server.process.wait()
        assert not servers.check("vllm:/m/a")  # no restarts left
        assert "max_restarts=1" in servers.failed["vllm:/m/a"] and launcher.launches == 2


def test_a_server_that_runs_but_does_not_answer_is_restarted_after_some_checks(tmp_path):
    with _servers(tmp_path, models=("vllm:/m/a",), unhealthy_checks=2, check_every_s=3600) as servers:
        launcher = servers.made["vllm:/m/a"]
        hung = launcher.server.pid
        os.kill(hung, signal.SIGSTOP)  # hung: the process exists, /health is silent
        try:
            assert not servers.check("vllm:/m/a") and launcher.launches == 1  # one miss: not yet
            assert servers.check("vllm:/m/a") and launcher.launches == 2  # two in a row: restarted
        finally:
            try:
                os.kill(hung, signal.SIGCONT)
            except ProcessLookupError:  # restarted: the hung one was killed
                pass
        assert servers.endpoints["vllm:/m/a"].restarts == 1 and launcher.alive()


def test_the_watcher_restarts_a_server_that_died(tmp_path):
    with _servers(tmp_path, models=("vllm:/m/a",), check_every_s=0.1) as servers:
        launcher = servers.made["vllm:/m/a"]
        launcher.server.process.send_signal(signal.SIGKILL)
        assert _wait_for(lambda: servers.endpoints["vllm:/m/a"].restarts == 1 and launcher.alive())


def test_servers_stop_when_the_block_raises(tmp_path):
    servers = _servers(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        with servers:
            raise KeyboardInterrupt
    assert not any(launcher.server.running() for launcher in servers.made.values())


def test_a_server_that_fails_to_start_stops_the_others(tmp_path):
    servers = _servers(tmp_path)
    broken = servers.made["vllm:/m/b"].server
    broken.argv = [sys.executable, "-c", "raise SystemExit(1)"]
    with pytest.raises(ModelError, match="exited with code 1"):
        servers.start()
    assert not servers.made["vllm:/m/a"].server.running()


def test_only_vllm_specs_are_served_and_named():
    assert servable("vllm:smollm2") and servable("vllm:/models/qwen") and not servable("smollm2")
    assert not servable("openai:http://x/v1#m") and not servable("vllm:")
    assert served_name("vllm:/models/qwen-7b/") == "qwen-7b" and served_name("vllm:Qwen/Qwen2.5-7B") == "Qwen/Qwen2.5-7B"
    with pytest.raises(ModelError, match="only vllm: specs"):
        ModelServers(["smollm2"])


def test_runs_of_a_served_model_carry_the_endpoint_and_ask_ray_for_cpus_only(tmp_path):
    spec = RunSpec("greedy", "vllm:/m/a", "tiny", 0, steps=1)
    assert route(spec, None) is spec
    with _servers(tmp_path, models=("vllm:/m/a",)) as servers:
        routed = route(spec, servers)
        other = route(RunSpec("greedy", "smollm2", "tiny", 0, steps=1), servers)
    assert routed.backend == servers.spec_for("vllm:/m/a") and routed.key == spec.key  # same run key
    assert other.backend is None
    assert RunSpec.from_dict(routed.to_dict()) == routed
    assert ray_resources("vllm:/m/a", 8, None, 1.0) == {"num_cpus": 1.0, "num_gpus": 1.0}
    assert ray_resources("vllm:/m/a", 8, None, 1.0, served=True) == {"num_cpus": 1.0, "num_gpus": 0.0}
    assert ray_resources("vllm:/m/a", 8, 2.0, 1.0, served=True)["num_gpus"] == 0.0
    assert actor_resources(8, ServeConfig(tensor_parallel_size=4)) == {"num_gpus": 4.0, "num_cpus": 1.0}
    assert actor_resources(0, ServeConfig(actor_cpus=2)) == {"num_gpus": 0.0, "num_cpus": 2.0}


def test_serve_options_make_a_config():
    parser = argparse.ArgumentParser()
    add_serve_args(parser)
    assert serve_config(parser.parse_args([])) is None
    config = serve_config(parser.parse_args(["--serve", "--serve-max-seqs", "32", "--serve-tp", "2",
                                             "--serve-args", "--gpu-memory-utilization 0.8"]))
    assert config == ServeConfig(tensor_parallel_size=2, max_num_seqs=32,
                                 extra_args=("--gpu-memory-utilization", "0.8"))
    assert config.to_dict()["extra_args"] == ["--gpu-memory-utilization", "0.8"]
    with pytest.raises(SystemExit):
        serve_config(parser.parse_args(["--serve", "--serve-tp", "0"]))


def test_the_vllm_server_command_carries_the_settings():
    server = VLLMServer("/m/a", name="a", port=1234, max_num_seqs=32, tensor_parallel_size=2, extra_args=("--x",))
    argv = server.command()
    assert argv[argv.index("--max-num-seqs") + 1] == "32" and argv[argv.index("--tensor-parallel-size") + 1] == "2"
    assert argv[-1] == "--x" and server.spec == "openai:http://127.0.0.1:1234/v1#a"
    assert "--max-num-seqs" not in VLLMServer("/m/a", port=1234).command()


# --- slow: the real model on vLLM's CPU server ---------------------------------------------------


def _requests_served(base_url: str) -> float:
    """Finished requests in the vLLM server's Prometheus metrics (all finish reasons)."""
    text = urllib.request.urlopen(base_url.removesuffix("/v1") + "/metrics", timeout=10).read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("vllm:request_success_total"))


@pytest.fixture(scope="session")
def served_smollm2(vllm_server):  # noqa: F811 - the session's shared vLLM server
    """``vllm:smollm2`` as ModelServers around the session's one vLLM server (no second copy)."""
    servers = ModelServers(["vllm:smollm2"], launcher=lambda m, c: LocalLauncher(m, c, server=vllm_server))
    yield servers.start()
    servers.stop()


@pytest.mark.slow
def test_concurrent_long_seeded_prompts_keep_the_cpu_server_alive(served_smollm2):
    """Runs sharing a server send long seeded prompts at once; on a CPU that once killed vLLM's
    engine (a partly prefilled seeded request: "CPU Generator does not use offset")."""
    from policies.models import load_model

    spec = served_smollm2.spec_for("vllm:smollm2")
    model = load_model(spec, concurrency=4)
    text = " ".join(f"row {i}: the value is {i * 7 % 13}." for i in range(160))  # about 1,500 tokens
    answers = model.chat([[{"role": "user", "content": f"{text}\nQuestion {k}: sum the values."}] for k in range(4)],
                         max_tokens=8, seed=100, temperature=0.7)
    assert len(answers) == 4 and all(a.completion_tokens >= 1 for a in answers)
    assert min(a.prompt_tokens for a in answers) > 1200  # long enough that four do not fit one prefill
    assert served_smollm2.check("vllm:smollm2") and served_smollm2.endpoints["vllm:smollm2"].restarts == 0


@pytest.mark.slow
def test_a_served_model_counts_prompt_tokens_as_the_engine_does(served_smollm2, smollm2_dir):  # noqa: F811
    """Prompts are fitted to the window with ``count_tokens``: served and in-process must agree, or
    a served run builds other prompts (and the server then cuts its answers shorter)."""
    from transformers import AutoTokenizer

    from policies.models import load_model

    model = load_model(served_smollm2.spec_for("vllm:smollm2"))
    conversation = [{"role": "system", "content": "You write Python."},
                    {"role": "user", "content": "0,0,5,13,9,1,0,0,0,0,13,15,10,15,5,0\n" * 40}]
    ids = AutoTokenizer.from_pretrained(smollm2_dir).apply_chat_template(conversation, add_generation_prompt=True)
    expected = len(ids["input_ids"] if hasattr(ids, "keys") else ids)
    assert model.count_tokens(conversation) == expected
    assert expected > 1.5 * (sum(len(m["content"]) for m in conversation) // 3 + 16)  # the estimate was far off


@pytest.mark.slow
def test_two_concurrent_runs_share_one_served_model(served_smollm2, tmp_path):
    from scripts._bench import run_benchmark

    endpoint = served_smollm2.endpoints["vllm:smollm2"]
    before = _requests_served(endpoint.base_url)
    specs = make_specs(["greedy"], ["vllm:smollm2"], ["tiny"], seeds=2, steps=1, time_budget_s=None,
                       policy_config={"*": {"max_tokens": 24, "max_parse_retries": 0}}, envs_dir=str(FIXTURE_ENVS))
    store = run_benchmark(specs, tmp_path / "out", workers=2, progress=False, serve=served_smollm2)
    lines = list(read_jsonl(store.out / "runs.jsonl"))
    assert len(lines) == 2 and {line["status"] for line in lines} == {"ok"}, [line["error"] for line in lines]
    assert {line["model"] for line in lines} == {"vllm:smollm2"}  # the run key keeps the model spec
    assert {line["backend"] for line in lines} == {endpoint.spec}
    calls = [line["record"]["usage"]["calls"] for line in lines]
    assert all(c >= 1 for c in calls)
    assert _requests_served(endpoint.base_url) - before == sum(calls)  # every call of both runs, one server
    assert served_smollm2.endpoints["vllm:smollm2"].pid == endpoint.pid and served_smollm2.check("vllm:smollm2")


@pytest.mark.slow
def test_served_model_on_ray_is_an_actor_and_stops_at_the_end(tmp_path, smollm2_dir):  # noqa: F811
    """``--ray local --serve``: the server runs as a Ray actor, the runs reach it, it is gone after."""
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install -e '.[ray]')")
    require_vllm()
    from scripts._bench import run_benchmark

    specs = make_specs(["greedy"], ["vllm:smollm2"], ["tiny"], seeds=2, steps=1, time_budget_s=None,
                       policy_config={"*": {"max_tokens": 16, "max_parse_retries": 0}}, envs_dir=str(FIXTURE_ENVS))
    logged: list[str] = []
    try:
        store = run_benchmark(specs, tmp_path / "out", workers=2, ray="local", progress=False, log=logged.append,
                              serve=ServeConfig())
        lines = list(read_jsonl(store.out / "runs.jsonl"))
        backends = {line["backend"] for line in lines}
        base_url = next(iter(backends)).removeprefix("openai:").partition("#")[0]
        still_up = http_ok(base_url.removesuffix("/v1") + "/health")  # before Ray itself shuts down
    finally:
        ray.shutdown()
    assert {line["status"] for line in lines} == {"ok"}, [line["error"] for line in lines]
    assert len(backends) == 1 and next(iter(backends)).startswith("openai:http://")
    assert any("(ray:" in msg for msg in logged), logged  # placed by Ray, not a child of this process
    assert not still_up  # stopped at the end of the benchmark
