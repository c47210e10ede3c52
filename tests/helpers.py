"""Small helpers shared by tests."""

from __future__ import annotations

import os
from pathlib import Path

from gome_env.diffs import make_diff

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
