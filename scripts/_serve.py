"""``--serve``: the benchmark's and the scaling study's options for one served model per ``vllm:``
spec (the lifecycle itself is ``policies.models.serving``)."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
from typing import Callable

from policies.models.serving import ModelServers, ServeConfig, servable
from scripts._runs import RunSpec

__all__ = ["add_serve_args", "serve_config", "start_servers", "route"]

_DEFAULT = ServeConfig()


def add_serve_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--serve", action="store_true",
                   help="start ONE OpenAI-compatible vLLM server per vllm: model for the whole command and send "
                        "every run of that model there, so vLLM batches across runs (runs then load no model "
                        "themselves). Locally a child process; with --ray a Ray actor holding --serve-tp GPUs "
                        "(CPUs on a cluster without GPUs), and the runs ask for CPUs only. Other specs run as "
                        "without it. The run keys are the same as without --serve")
    p.add_argument("--serve-max-seqs", type=int, default=_DEFAULT.max_num_seqs, metavar="N",
                   help="the most sequences one server batches at once (its --max-num-seqs; None: vLLM's "
                        "default, 128 on a CPU); more requests wait in its queue")
    p.add_argument("--serve-tp", type=int, default=_DEFAULT.tensor_parallel_size, metavar="N",
                   help="tensor-parallel size of each served model: the GPUs its server holds")
    p.add_argument("--serve-cpus", type=float, default=_DEFAULT.actor_cpus, metavar="N",
                   help="Ray, cluster without GPUs: CPUs the server's actor asks for")
    p.add_argument("--serve-args", default="", metavar="'ARGS'",
                   help="more arguments for vLLM's server, as one quoted string, e.g. '--gpu-memory-utilization 0.8'")
    p.add_argument("--serve-timeout", type=float, default=_DEFAULT.startup_timeout_s, metavar="SECONDS",
                   help="how long a server may take to become healthy")


def serve_config(args: argparse.Namespace) -> ServeConfig | None:
    """The ServeConfig of ``--serve`` (None without it)."""
    if not getattr(args, "serve", False):
        return None
    if args.serve_tp < 1 or (args.serve_max_seqs is not None and args.serve_max_seqs < 1):
        raise SystemExit("--serve-tp and --serve-max-seqs must be >= 1")
    return ServeConfig(tensor_parallel_size=args.serve_tp, max_num_seqs=args.serve_max_seqs,
                       startup_timeout_s=args.serve_timeout, actor_cpus=args.serve_cpus,
                       extra_args=tuple(shlex.split(args.serve_args)))


def start_servers(specs: list[RunSpec], config: ServeConfig, ray: str | None, workers: int,
                  log: Callable[[str], None]) -> ModelServers | None:
    """Start one server per servable model of ``specs`` (on the Ray cluster named by ``ray``, else
    here); None when none of them is servable."""
    models = sorted({s.model for s in specs if servable(s.model)})
    others = sorted({s.model for s in specs if not servable(s.model)})
    if others:
        log(f"serve: not served (only vllm: specs are), each run loads its own: {', '.join(others)}")
    if not models:
        return None
    launcher = None
    if ray:
        from policies.models.serving_ray import ray_launcher
        from scripts._executors import init_ray

        launcher = ray_launcher(init_ray(ray, workers if workers > 1 else None))
    return ModelServers(models, config, launcher=launcher, log=log).start()


def route(spec: RunSpec, servers: ModelServers | None) -> RunSpec:
    """``spec`` with ``backend`` set to its model's served endpoint (unchanged when not served)."""
    backend = servers.spec_for(spec.model) if servers is not None else None
    return dataclasses.replace(spec, backend=backend) if backend else spec
