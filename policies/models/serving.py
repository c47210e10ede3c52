"""One served model for many runs: an OpenAI-compatible vLLM server per model, shared by every
run of that model, so vLLM batches the requests of runs that go on at the same time.

    with ModelServers(["vllm:/models/qwen"], ServeConfig()) as servers:
        backend_spec = servers.spec_for("vllm:/models/qwen")   # openai:http://host:port/v1#qwen

`ModelServers.start()` launches every server side by side, then polls each one's ``/health``
until it answers (never a fixed sleep). A watcher thread checks them every
``ServeConfig.check_every_s`` seconds and restarts one that died (at most ``max_restarts`` times;
requests in flight meanwhile see the ``openai:`` backend's own retries). `stop()` (also on
leaving the ``with`` block through an exception or Ctrl-C) stops them all.

Where a server runs is a *launcher*'s job: `LocalLauncher` (the default) runs it as a child
process of this one (`vllm_server.VLLMServer`, same port after a restart);
`serving_ray.RayLauncher` places it on a Ray cluster as an actor holding the GPUs of its
tensor-parallel size (CPUs on a cluster without GPUs). Only ``vllm:`` specs are served
(`servable`); any other spec is loaded by each run as before.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable, Protocol

from .base import ModelError, resolve_local_model

__all__ = ["ServeConfig", "ServedEndpoint", "ModelServers", "LocalLauncher", "Launcher", "servable",
           "served_name", "model_path"]

SERVED_KIND = "vllm"


@dataclass(frozen=True)
class ServeConfig:
    """How each served model runs.

    `max_num_seqs`: the most sequences one server batches at once, the concurrency per served
    model (None: vLLM's own default, 128 on a CPU and 256 or more on a GPU); requests beyond it
    wait in the server's queue. How many runs go on at once is still ``--workers`` (or the Ray
    cluster's CPUs). `max_model_len` is the in-process ``vllm:`` backend's default, so a served
    model has the same context window. `actor_cpus`: CPUs a Ray actor asks for on a cluster
    without GPUs (with GPUs it asks for `tensor_parallel_size` GPUs and one CPU). A server whose
    process is gone is restarted at the next check; one whose process runs but does not answer
    its health check is restarted after `unhealthy_checks` checks in a row (a busy server may be
    slow to answer)."""

    tensor_parallel_size: int = 1
    max_num_seqs: int | None = None
    max_model_len: int = 2048
    startup_timeout_s: float = 900.0
    check_every_s: float = 5.0
    unhealthy_checks: int = 3
    max_restarts: int = 3
    actor_cpus: float = 1.0
    extra_args: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "extra_args": list(self.extra_args)}


@dataclass(frozen=True)
class ServedEndpoint:
    """Where a served model answers: the run's model spec, the server's name for it, its URL."""

    model: str
    name: str
    base_url: str
    placement: str  # "local" or "ray:<node address>"
    pid: int | None = None
    startup_s: float | None = None
    restarts: int = 0

    @property
    def spec(self) -> str:
        """The ``openai:`` spec a run loads to reach this server."""
        return f"openai:{self.base_url}#{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "spec": self.spec}


class Launcher(Protocol):
    """Runs one server: `launch` starts it without waiting, `wait_ready` polls it healthy,
    `alive` says whether it runs and answers, `running` whether its process still exists,
    `stop` ends it (and may be called on one never launched)."""

    def launch(self) -> None: ...

    def wait_ready(self) -> ServedEndpoint: ...

    def alive(self) -> bool: ...

    def running(self) -> bool: ...

    def stop(self) -> None: ...


def servable(model: str) -> bool:
    """Whether `--serve` serves this model spec (``vllm:<folder | cached id | smollm2>``)."""
    kind, sep, target = model.strip().partition(":")
    return kind == SERVED_KIND and bool(sep and target)


def served_name(model: str) -> str:
    """The name the server gives the model: ``smollm2``, a folder's name, or a hub id."""
    target = model.strip().partition(":")[2].rstrip("/")
    return target.rsplit("/", 1)[-1] if target.startswith(("/", ".", "~")) else target


def model_path(model: str) -> str:
    """The local folder a ``vllm:`` spec names (`vllm:smollm2`: the converted bundled model)."""
    target = model.strip().partition(":")[2]
    if target == "smollm2":
        from . import smollm2

        return str(smollm2.converted_dir())
    return str(resolve_local_model(target))


class LocalLauncher:
    """The server as a child process of this one; a restart keeps its port. `server`: an
    already built (even already running) `vllm_server.VLLMServer` to use instead of a new one."""

    def __init__(self, model: str, config: ServeConfig, server: Any = None) -> None:
        self.model = model
        if server is None:
            from .vllm_server import VLLMServer

            server = VLLMServer(model_path(model), name=served_name(model), max_model_len=config.max_model_len,
                                max_num_seqs=config.max_num_seqs, tensor_parallel_size=config.tensor_parallel_size,
                                extra_args=config.extra_args, startup_timeout_s=config.startup_timeout_s)
        self.server = server

    def launch(self) -> None:
        if not self.server.running():
            self.server.launch()

    def wait_ready(self) -> ServedEndpoint:
        self.server.wait_ready()
        return ServedEndpoint(self.model, self.server.name, self.server.base_url, "local", self.server.pid,
                              self.server.startup_s)

    def alive(self) -> bool:
        return self.server.alive()

    def running(self) -> bool:
        return self.server.running()

    def stop(self) -> None:
        self.server.stop()


LauncherFactory = Callable[[str, ServeConfig], Launcher]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class ModelServers:
    """One server per model spec, started together, watched, restarted, stopped together.

    `launcher(model, config)` builds each model's launcher (default `LocalLauncher`). `log`
    receives one line per start, restart and stop."""

    def __init__(self, models: list[str], config: ServeConfig | None = None, *,
                 launcher: LauncherFactory | None = None, log: Callable[[str], None] = _stderr) -> None:
        unservable = [m for m in models if not servable(m)]
        if unservable:
            raise ModelError(f"only vllm: specs can be served, not {', '.join(unservable)}")
        self.config = config or ServeConfig()
        self.log = log
        make = launcher or LocalLauncher
        self.launchers: dict[str, Launcher] = {m: make(m, self.config) for m in dict.fromkeys(models)}
        self.endpoints: dict[str, ServedEndpoint] = {}
        self.failed: dict[str, str] = {}  # model -> why it is no longer restarted
        self._misses: dict[str, int] = dict.fromkeys(self.launchers, 0)  # failed health checks in a row
        self._lock = threading.Lock()  # guards endpoints
        self._restart_lock = threading.Lock()  # one restart at a time
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(self) -> ModelServers:
        """Launch every server, then wait until each is healthy; on any failure stop them all
        and raise ModelError."""
        try:
            for launcher in self.launchers.values():
                launcher.launch()
            for model, launcher in self.launchers.items():
                self.log(f"serve: starting {model} ...")
                endpoint = launcher.wait_ready()
                self.endpoints[model] = endpoint
                self.log(f"serve: {model} healthy at {endpoint.base_url} ({endpoint.placement}, "
                         f"{endpoint.startup_s or 0:.0f} s to start)")
        except BaseException:
            self.stop()
            raise
        self._watcher = threading.Thread(target=self._watch, name="model-servers-watch", daemon=True)
        self._watcher.start()
        return self

    def spec_for(self, model: str) -> str | None:
        """The ``openai:`` spec that reaches `model`'s server now (None: `model` is not served)."""
        with self._lock:
            endpoint = self.endpoints.get(model)
        return endpoint.spec if endpoint else None

    def check(self, model: str) -> bool:
        """Whether `model`'s server is healthy, restarting it first if it is not (and it has
        restarts left). The watcher calls this for every model; runs keep being handed the
        endpoint meanwhile (a local server keeps its address)."""
        launcher = self.launchers[model]
        if self._stopping.is_set() or model in self.failed:
            return False
        if launcher.alive():
            self._misses[model] = 0
            return True
        if launcher.running():
            self._misses[model] += 1
            if self._misses[model] < self.config.unhealthy_checks:
                self.log(f"serve: {model} runs but did not answer its health check "
                         f"({self._misses[model]} of {self.config.unhealthy_checks} in a row before a restart)")
                return False
        self._misses[model] = 0
        with self._restart_lock:
            done = self.endpoints[model].restarts if model in self.endpoints else 0
            if done >= self.config.max_restarts:
                self.failed[model] = f"died after {done} restart(s) (max_restarts={self.config.max_restarts})"
                self.log(f"serve: {model} {self.failed[model]}; runs of it will fail")
                return False
            self.log(f"serve: {model} is down; restarting it (restart {done + 1} of at most "
                     f"{self.config.max_restarts})")
            launcher.stop()
            if self._stopping.is_set():
                return False
            try:
                launcher.launch()
                endpoint = launcher.wait_ready()
            except ModelError as exc:
                endpoint = None
                why = "cut short: the servers are stopping" if self._stopping.is_set() else str(exc).splitlines()[0]
                self.log(f"serve: restarting {model} failed: {why}")
            finally:
                if self._stopping.is_set():  # stop() ran meanwhile: this server must not outlive it
                    launcher.stop()
            with self._lock:
                old = self.endpoints[model]
                self.endpoints[model] = replace(endpoint or old, restarts=done + 1)
            if endpoint is None or self._stopping.is_set():
                return False
            self.log(f"serve: {model} healthy again at {endpoint.base_url}")
            return True

    def _watch(self) -> None:
        while not self._stopping.wait(self.config.check_every_s):
            for model in self.launchers:
                if self._stopping.is_set():
                    return
                try:
                    self.check(model)
                except Exception as exc:  # noqa: BLE001 - the watcher must outlive one bad check
                    self.log(f"serve: checking {model} failed: {type(exc).__name__}: {exc}")

    def stop(self) -> None:
        """Stop the watcher and every server (idempotent; a restart under way is cut short)."""
        first = not self._stopping.is_set()
        self._stopping.set()
        for _ in range(2):  # again after the watcher ended, in case it launched one meanwhile
            for model, launcher in self.launchers.items():
                try:
                    launcher.stop()
                except Exception as exc:  # noqa: BLE001 - stop the others regardless
                    self.log(f"serve: stopping {model} failed: {type(exc).__name__}: {exc}")
            if self._watcher is not None and self._watcher is not threading.current_thread():
                self._watcher.join()
        if first and self.endpoints:
            self.log(f"serve: stopped {len(self.launchers)} server(s)")

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.config.to_dict(), "endpoints": [e.to_dict() for e in self.endpoints.values()],
                "failed": dict(self.failed)}

    def __enter__(self) -> ModelServers:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
