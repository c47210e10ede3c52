"""A real two-node Ray cluster on this machine, for the slow cluster tests.

Each node is its own ``ray start`` (its own raylet) in its own process group, under a private temp
dir, on free ports, with Ray's node health checks tightened so a killed node is declared dead in
about a second. Teardown kills only the processes this cluster started (its process groups and
anything whose command line names its temp dir): never ``ray stop``, which would end every Ray
instance on the machine, other sessions' included.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from helpers import processes_with

RAY = str(Path(sys.executable).with_name("ray"))
# Declare a node dead after ~1.5 s of failed health checks (defaults: tens of seconds).
HEALTH = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 500, "health_check_timeout_ms": 500,
          "health_check_failure_threshold": 3}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node_ports() -> list[str]:
    names = ("--node-manager-port", "--object-manager-port", "--dashboard-agent-listen-port",
             "--dashboard-agent-grpc-port", "--metrics-export-port", "--runtime-env-agent-port")
    out: list[str] = []
    for name in names:
        out += [name, str(free_port())]
    return out


class LocalCluster:
    """``start()``: a head node and a worker node, one CPU each; ``address``; ``kill(name)``;
    ``start_worker()``; ``stop()``."""

    def __init__(self, cpus_per_node: int = 1) -> None:
        self.cpus = cpus_per_node
        # Ray's socket paths must stay short: a temp dir right under /tmp.
        self.temp_dir = tempfile.mkdtemp(prefix="gomeray", dir="/tmp")
        self.port = 0
        self.address = ""  # HOST:PORT of the head's GCS, once started
        # No token auth (tests/conftest.py sets the same for the tests' own Ray connections).
        self.env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
        self.groups: dict[str, int] = {}  # node name -> process group id

    def _start(self, name: str, args) -> None:
        """``ray start`` one node (``args()``: its options, fresh ports each try). Tried twice: on a
        loaded machine Ray's fixed 30 s wait for a new raylet to register can run out; the failed
        try's processes (its own process group) are killed first."""
        for attempt in (1, 2):
            proc = subprocess.Popen([RAY, "start", "--num-cpus", str(self.cpus), "--node-ip-address", "127.0.0.1",
                                     "--temp-dir", self.temp_dir, "--disable-usage-stats", "--include-log-monitor",
                                     "false", "--object-store-memory", str(80 * 1024 * 1024), *args()],
                                    env=self.env, start_new_session=True, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
            self.groups[name] = proc.pid  # a new session: its daemons keep this process group
            out, _ = proc.communicate(timeout=180)
            if proc.returncode == 0:
                return
            self.kill(name)
            if attempt == 2:
                raise RuntimeError(f"ray start ({name}) failed twice:\n{out[-3000:]}")

    def _head_args(self) -> list[str]:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        return ["--head", "--port", str(self.port), "--include-dashboard", "false", "--dashboard-port",
                str(free_port()), "--ray-client-server-port", str(free_port()), "--system-config",
                json.dumps(HEALTH), *_node_ports()]

    def start(self) -> "LocalCluster":
        """The head node, then the worker node."""
        try:
            self._start("head", self._head_args)
            self.start_worker()
        except BaseException:
            self.stop()
            raise
        return self

    def start_worker(self) -> None:
        """(Re)start the worker node."""
        self._start("worker", lambda: ["--address", self.address, *_node_ports()])

    def raylet_pid(self, name: str = "worker") -> int:
        """The pid of a node's raylet."""
        for pid in processes_with(self.temp_dir):
            try:
                if os.getpgid(pid) == self.groups[name] and b"/raylet/raylet" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return pid
            except OSError:
                continue
        raise LookupError(f"no raylet for the {name} node")

    def running_task_pids(self, name: str, task: str) -> list[int]:
        """Worker processes of a node (children of its raylet) now running the Ray task ``task``
        (Ray names a busy worker's process ``ray::<task>``)."""
        raylet = self.raylet_pid(name)
        found = []
        for pid in processes_with(f"ray::{task}"):
            try:
                ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == raylet:
                found.append(pid)
        return found

    @staticmethod
    def descendant_cwds(pid: int) -> list[str]:
        """The working directories of ``pid``'s descendants (where a task's programs run)."""
        parents: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    parents[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    pass
        out = []
        for child in parents:
            up, hops = parents.get(child), 0
            while up and up != pid and hops < 20:
                up, hops = parents.get(up), hops + 1
            if up == pid:
                try:
                    out.append(os.readlink(f"/proc/{child}/cwd"))
                except OSError:
                    pass
        return out

    def kill(self, name: str = "worker") -> None:
        """SIGKILL a node: its process group (raylet, agents and their workers)."""
        group = self.groups.pop(name, None)
        if group is not None:
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def stop(self) -> None:
        for name in list(self.groups):
            self.kill(name)
        deadline = time.monotonic() + 10
        while (left := processes_with(self.temp_dir)) and time.monotonic() < deadline:
            for pid in left:  # workers that left the group: still ours (their command line names our temp dir)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        shutil.rmtree(self.temp_dir, ignore_errors=True)
