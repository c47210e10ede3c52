"""Small helpers shared by tests."""

from __future__ import annotations

import os
from pathlib import Path

from gome_env.patching.diffs import make_diff

GOOD_RULE = '''
def predict(row):
    return 1 if float(row["x0"]) + float(row["x1"]) > 0 else 0
'''


def edit(env, transform) -> str:
    """A diff that applies ``transform`` to the current node's solution.py."""
    files = env.unwrapped.files()
    new = dict(files)
    new["solution.py"] = transform(files["solution.py"])
    return make_diff(files, new)


def improve(source: str) -> str:
    """Turn the tiny task's majority-class baseline into a linear rule (a real improvement)."""
    source = source.replace("os.makedirs(", GOOD_RULE + "\n\nos.makedirs(", 1)
    return source.replace("{majority}\\n", "{predict(row)}\\n")


def append(code: str):
    return lambda source: source + "\n" + code + "\n"


def processes_with(marker: str) -> list[int]:
    """Pids of the processes whose command line contains ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
            except OSError:
                pass
    return found


def wait_until(condition, timeout: float = 10.0, what: str = "the condition") -> None:
    """Poll ``condition()`` until it is true; fail after ``timeout`` seconds (no fixed sleeps)."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        time.sleep(0.01)


# A step that waits in the warm worker (until the worker is killed) and runs straight through when
# re-run cold: the warm child's parent is the worker program.
WARM_ONLY_WAIT = (
    "import os, time\n"
    "if b'gome_env/isolation/warm_worker.py\\0' in open(f'/proc/{os.getppid()}/cmdline', 'rb').read():\n"
    "    open('started', 'w').close()\n"
    "    time.sleep(60)\n"
)


def kill_worker_once_started(env):
    """A thread that kills ``env``'s warm worker as soon as a ``WARM_ONLY_WAIT`` step has started."""
    import signal
    import threading

    pid = env.unwrapped.executor_status().worker_pid
    started = env.unwrapped.workspace / "started"

    def kill() -> None:
        wait_until(started.exists, 30, "the warm step's start")
        os.killpg(pid, signal.SIGKILL)

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread
