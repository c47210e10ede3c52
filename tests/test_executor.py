"""The warm executor: same results as a cold run, no state between steps, cold fallback."""

from __future__ import annotations

import os
import signal

import pytest

from gome_env.isolation.executor import Executor, layout_workspace
from gome_env.isolation.sandbox import make_sandbox
from helpers import WARM_ONLY_WAIT, append, edit, improve, kill_worker_once_started, wait_until

COMPARED = ("status", "reason", "dev_score")
EXECUTION = ("returncode", "signal", "timed_out", "memory_exceeded", "output_limited", "exception")


@pytest.fixture(autouse=True)
def _light_preload(monkeypatch):
    """The worker imports json only here: it is ready in a fraction of a second."""
    monkeypatch.setenv("GOME_WARM_PRELOAD", "json")


def _warm(make_tiny_env, **kwargs):
    env = make_tiny_env(executor="warm", **kwargs)
    env.reset()
    assert env.unwrapped.executor.wait_ready(30), env.unwrapped.executor_status().last_error
    return env


def _same(warm: dict, cold: dict) -> None:
    for key in COMPARED:
        assert warm[key] == cold[key], (key, warm[key], cold[key])
    assert warm["execution"] == cold["execution"] or "returncode" in cold["execution"]
    if cold["execution"] and "returncode" in cold["execution"]:
        for key in EXECUTION:
            assert warm["execution"][key] == cold["execution"][key], (key, warm["execution"][key], cold["execution"][key])


CASES = {
    "ok": improve,
    "runtime_error": append("values = {}\nprint(values['missing'])"),
    "exit_code": append("raise SystemExit(3)"),
    "exit_message": append("import sys\nsys.exit('bye')"),
    "syntax_error": append("def broken(:\n    pass"),
    "memory": append("hog = bytearray(1024 * 1024 * 1024)"),
    "timeout": append("while True:\n    pass"),
}


def test_warm_matches_cold(make_tiny_env, sandbox):
    warm = _warm(make_tiny_env, sandbox=sandbox, memory_limit_mb=512, step_timeout_s=1.5)
    cold = make_tiny_env(sandbox=sandbox, memory_limit_mb=512, step_timeout_s=1.5, executor="cold")
    cold.reset()
    for name, transform in CASES.items():
        warm.checkout(0)
        cold.checkout(0)
        runs = warm.unwrapped.executor_status().warm
        *_, w = warm.step(edit(warm, transform))
        *_, c = cold.step(edit(cold, transform))
        w, c = w["diagnostics"], c["diagnostics"]
        assert w["status"] == {"ok": "ok", "syntax_error": "syntax_error", "memory": "memory_exceeded",
                               "timeout": "timeout"}.get(name, "runtime_error"), (name, w["reason"])
        _same(w, c)
        if name != "syntax_error":
            assert warm.unwrapped.executor_status().warm == runs + 1, (name, warm.unwrapped.executor_status().last_error)
        if name == "runtime_error":
            assert w["execution"]["stderr_head"] == c["execution"]["stderr_head"].replace(str(cold.workspace), str(warm.workspace))
        if name == "exit_message":
            assert w["execution"]["stderr_head"] == "bye\n"
    assert cold.unwrapped.executor_status().warm == 0


def test_module_and_file_state_do_not_leak_between_steps(make_tiny_env, sandbox):
    env = _warm(make_tiny_env, sandbox=sandbox)
    setter = "import json, os\njson.LEAKED = 1\nos.environ['LEAKED'] = '1'\nLEAKED_GLOBAL = 1\nopen('/tmp/leaked', 'w').write('x')"
    env.step(edit(env, append(setter)))
    env.checkout(0)
    probe = ("import json, os\nprint('state', hasattr(json, 'LEAKED'), 'LEAKED' in os.environ, 'LEAKED_GLOBAL' in globals(), "
             "os.path.exists('/tmp/leaked'), os.path.exists('leftover.txt'))")
    env.step(edit(env, append("open('leftover.txt', 'w').write('x')")))
    env.checkout(0)
    *_, info = env.step(edit(env, append(probe)))
    d = info["diagnostics"]
    assert d["status"] == "ok", d["reason"]
    tmp_isolated = sandbox == "bwrap"  # the subprocess backend shares the host's /tmp, warm or cold
    assert f"state False False False {not tmp_isolated} False" in d["execution"]["stdout_head"]
    assert env.unwrapped.executor_status().warm == 3
    if not tmp_isolated:
        os.unlink("/tmp/leaked")


def test_dead_worker_falls_back_cold_and_is_replaced(make_tiny_env, sandbox):
    env = _warm(make_tiny_env, sandbox=sandbox)
    os.killpg(env.unwrapped.executor_status().worker_pid, signal.SIGKILL)
    wait_until(lambda: not env.unwrapped.executor_status().ready, 5, "the worker's death")
    cold = env.unwrapped.executor_status().cold
    *_, info = env.step(edit(env, improve))
    assert info["diagnostics"]["status"] == "ok"
    assert env.unwrapped.executor_status().cold == cold + 1
    assert env.unwrapped.executor.wait_ready(30)
    *_, info = env.step(edit(env, append("print('again')")))
    assert info["diagnostics"]["status"] == "ok"
    assert env.unwrapped.executor_status().warm == 1 and env.unwrapped.executor_status().starts == 2


def test_worker_dying_mid_step_reruns_the_step_cold(make_tiny_env):
    env = _warm(make_tiny_env, sandbox="subprocess")
    killer = kill_worker_once_started(env)
    *_, info = env.step(edit(env, lambda s: WARM_ONLY_WAIT + improve(s)))
    killer.join(5)
    assert info["diagnostics"]["status"] == "ok", info["diagnostics"]["reason"]
    status = env.unwrapped.executor_status()
    assert status.lost == 1 and status.warm == 0 and info["diagnostics"]["execution"]["executor"] == "cold"


def test_leftover_processes_are_swept(make_tiny_env, sandbox):
    env = _warm(make_tiny_env, sandbox=sandbox)
    code = "import subprocess\nsubprocess.Popen(['sleep', '60'], start_new_session=True)"
    *_, info = env.step(edit(env, append(code)))
    d = info["diagnostics"]
    assert d["status"] == "ok" and d["execution"]["leftover_processes_killed"] >= 1
    assert env.unwrapped.executor_status().warm == 1


def test_small_memory_limit_runs_cold(make_tiny_env, monkeypatch):
    monkeypatch.setattr("gome_env.isolation.executor.MEMORY_HEADROOM_MB", 10_000)
    env = _warm(make_tiny_env, sandbox="subprocess")
    *_, info = env.step(edit(env, improve))
    assert info["diagnostics"]["status"] == "ok"
    assert env.unwrapped.executor_status().warm == 0 and "memory limit" in env.unwrapped.executor_status().last_error


def test_bad_executor_name(tiny_spec):
    from gome_env.env import MLEEnv

    with pytest.raises(ValueError, match="valid executors"):
        MLEEnv(tiny_spec, executor="lukewarm")


def test_layout_keeps_the_folder_and_removes_leftovers(tmp_path):
    sandbox, _ = make_sandbox("subprocess")
    data = tmp_path / "public"
    data.mkdir()
    (data / "train.csv").write_text("id\n1\n")
    ws = tmp_path / "ws"
    layout_workspace(ws, {"solution.py": "a", "lib/util.py": "b"}, sandbox, data)
    (ws / "submission").mkdir()
    (ws / "submission" / "dev.csv").write_text("x")
    (ws / "lib" / "ro").mkdir()
    (ws / "lib" / "ro").chmod(0o500)
    inode = ws.stat().st_ino
    layout_workspace(ws, {"solution.py": "c"}, sandbox, data)
    assert sorted(p.name for p in ws.iterdir()) == ["data", "solution.py"]
    assert (ws / "solution.py").read_text() == "c" and ws.stat().st_ino == inode
    assert (ws / "data" / "train.csv").read_text() == "id\n1\n"


def test_executor_without_env(tmp_path):
    sandbox, _ = make_sandbox("subprocess")
    data = tmp_path / "public"
    data.mkdir()
    (data / "a.txt").write_text("hello")
    from gome_env.isolation.sandbox import Limits

    ex = Executor(sandbox, tmp_path / "ws", data, Limits(timeout_s=5), preload=("json",))
    try:
        assert ex.wait_ready(30)
        r = ex.run({"solution.py": "import sys\nprint(open('data/a.txt').read(), sys.argv)"}, Limits(timeout_s=5))
        assert r.ok and r.stdout == "hello ['solution.py']\n" and ex.stats["warm"] == 1
    finally:
        ex.close()


def test_worker_program_helpers(tmp_path):
    from gome_env.isolation import warm_worker

    assert warm_worker.exit_code(SystemExit()) == 0
    assert warm_worker.exit_code(SystemExit(3)) == 3 and warm_worker.exit_code(SystemExit(256 + 2)) == 2
    assert warm_worker.exit_code(SystemExit("bye")) == 1
    (tmp_path / "ws" / "data").mkdir(parents=True)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "f").write_text("x")
    (tmp_path / "file").write_text("x")
    warm_worker.clear(str(tmp_path), str(tmp_path / "ws"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ws"] and (tmp_path / "ws" / "data").is_dir()
    state, group = warm_worker.proc_state(os.getpid())
    assert state in "RS" and group == os.getpgid(0)
    assert warm_worker.proc_state(2**22 + 1) == ("?", 0)
    assert warm_worker.vm_kb() > 0
    import subprocess

    stray = subprocess.Popen(["sleep", "60"], start_new_session=True)
    assert warm_worker.kill_listed(lambda: [stray.pid], pgid=os.getpgid(0)) == 1  # another group: counted
    assert stray.wait(5) == -signal.SIGKILL
    assert warm_worker.own_cgroup_procs(prefix="no-such-cgroup-") is None  # never a shared cgroup


def test_gome_env_itself_is_not_importable_in_a_warm_step(make_tiny_env, sandbox):
    env = _warm(make_tiny_env, sandbox=sandbox)
    probe = "try:\n    import warm_worker, procio\n    print('IMPORTABLE')\nexcept ImportError:\n    print('HIDDEN')"
    *_, info = env.step(edit(env, append(probe)))
    d = info["diagnostics"]
    assert d["status"] == "ok" and "HIDDEN" in d["execution"]["stdout_head"], d["execution"]["stdout_head"]
    assert env.unwrapped.executor_status().warm == 1
