"""The warm worker preloads what the solution imports, and is replaced when imports grow."""

from __future__ import annotations

from gome_env.isolation.executor import preload_for

from helpers import append, edit


def test_preload_follows_the_solutions_imports():
    assert preload_for({"solution.py": "import csv\nprint(1)\n"}) == ()
    wanted = preload_for({"solution.py": "import pandas as pd\nfrom sklearn.linear_model import Ridge\n", "notes.txt": "import scipy"})
    assert "pandas" in wanted and "sklearn.linear_model" in wanted and "sklearn" in wanted
    assert not any(name.startswith("scipy") for name in wanted)
    assert preload_for({"solution.py": "def broken(:\n"}) == ()


def test_a_new_import_replaces_the_worker(make_tiny_env):
    env = make_tiny_env(sandbox="subprocess", memory_limit_mb=2048)
    env.reset()
    assert env.unwrapped.executor.wait_ready(60)
    assert env.unwrapped.executor_status().worker_pid is not None
    starts = env.unwrapped.executor_status().starts
    _, _, _, _, info = env.step(edit(env, append("import numpy\nprint(numpy.__name__)")))
    assert info["diagnostics"]["status"] == "ok"
    assert env.unwrapped.executor_status().starts == starts + 1  # a worker that preloads numpy took over
    assert "numpy" in env.unwrapped.executor_status().preload
