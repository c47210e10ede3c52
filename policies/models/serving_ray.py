"""A served model on a Ray cluster: the vLLM server runs as a child of a Ray actor placed on a
node with the GPUs its tensor-parallel size needs (on a cluster without GPUs the actor asks for
``ServeConfig.actor_cpus`` CPUs). The actor binds the server to its node's address, so runs on
any node reach it; the actor polls the server's health on its own node.

    ray.init(address=...)
    servers = ModelServers(models, config, launcher=ray_launcher(ray)).start()

A restart (`ModelServers.check`) kills the actor and places a new one, which may land on another
node: the endpoint's address then changes, and runs started afterwards get the new one.
Every node needs the project installed and the model on local disk (nothing is downloaded).
"""

from __future__ import annotations

from typing import Any, Callable

from .base import ModelError
from .serving import ServeConfig, ServedEndpoint, model_path, served_name

__all__ = ["ServerActor", "RayLauncher", "ray_launcher", "actor_resources"]


def actor_resources(cluster_gpus: float, config: ServeConfig) -> dict[str, float]:
    """What the server's actor asks Ray for: `tensor_parallel_size` GPUs (and one CPU) where the
    cluster has GPUs, else `actor_cpus` CPUs."""
    if cluster_gpus > 0:
        return {"num_gpus": float(config.tensor_parallel_size), "num_cpus": 1.0}
    return {"num_gpus": 0.0, "num_cpus": float(config.actor_cpus)}


class ServerActor:
    """The Ray actor (created through ``ray.remote``) that holds one vLLM server on its node."""

    def __init__(self, model: str, config: dict) -> None:
        self.model = model
        self.config = ServeConfig(**{**config, "extra_args": tuple(config.get("extra_args", ()))})
        self.server: Any = None

    def start(self) -> dict:
        """Start the server on this node's address; the endpoint as a dict once it is healthy."""
        import ray

        from .vllm_server import VLLMServer

        host = ray.util.get_node_ip_address()
        config = self.config
        self.server = VLLMServer(model_path(self.model), name=served_name(self.model), host=host,
                                 max_model_len=config.max_model_len, max_num_seqs=config.max_num_seqs,
                                 tensor_parallel_size=config.tensor_parallel_size, extra_args=config.extra_args,
                                 startup_timeout_s=config.startup_timeout_s)
        self.server.start()
        endpoint = ServedEndpoint(self.model, self.server.name, self.server.base_url, f"ray:{host}",
                                  self.server.pid, self.server.startup_s)
        return endpoint.to_dict()

    def alive(self) -> bool:
        return self.server is not None and self.server.alive()

    def running(self) -> bool:
        return self.server is not None and self.server.running()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


class RayLauncher:
    """Launches `ServerActor` on the cluster `ray` is connected to."""

    def __init__(self, model: str, config: ServeConfig, ray: Any) -> None:
        self.model, self.config, self.ray = model, config, ray
        self.resources = actor_resources(float(ray.cluster_resources().get("GPU", 0)), config)
        self.actor: Any = None
        self._ready: Any = None

    def launch(self) -> None:
        remote = self.ray.remote(max_restarts=0, max_concurrency=1)(ServerActor)
        self.actor = remote.options(**self.resources).remote(self.model, self.config.to_dict())
        self._ready = self.actor.start.remote()

    def wait_ready(self) -> ServedEndpoint:
        try:
            info = self.ray.get(self._ready, timeout=self.config.startup_timeout_s + 120)
        except Exception as exc:  # noqa: BLE001 - actor died, not placeable, server failed
            raise ModelError(f"the Ray actor serving {self.model} did not start ({self.resources}): "
                             f"{type(exc).__name__}: {exc}") from exc
        info.pop("spec", None)
        return ServedEndpoint(**info)

    def alive(self) -> bool:
        if self.actor is None:
            return False
        try:
            return bool(self.ray.get(self.actor.alive.remote(), timeout=60))
        except Exception:  # noqa: BLE001 - actor or node gone
            return False

    def running(self) -> bool:
        if self.actor is None:
            return False
        try:
            return bool(self.ray.get(self.actor.running.remote(), timeout=60))
        except Exception:  # noqa: BLE001 - actor or node gone
            return False

    def stop(self) -> None:
        if self.actor is None:
            return
        try:
            self.ray.get(self.actor.stop.remote(), timeout=60)
        except Exception:  # noqa: BLE001 - already gone: killing it below is enough
            pass
        try:
            self.ray.kill(self.actor)
        except Exception:  # noqa: BLE001
            pass
        self.actor = None


def ray_launcher(ray: Any) -> Callable[[str, ServeConfig], RayLauncher]:
    """A launcher factory for `ModelServers` that places each server on the cluster `ray` is on."""
    return lambda model, config: RayLauncher(model, config, ray)
