"""Hostile actions against the environment (issue 7): each gets a clear status, changes nothing it
should not, and leaves the env working for the next step. Programs run under every backend that
works here, with small limits (256 MB, a few seconds); every test is bounded in time."""

from __future__ import annotations

import dataclasses
import os
import socket
from pathlib import Path

import pytest

from gome_env.patching.diffs import MAX_DIFF_BYTES
from gome_env.isolation.sandbox import bwrap_works, cgroup_support
from helpers import WARM_ONLY_WAIT, append, edit, improve, kill_worker_once_started, processes_with, wait_until

pytestmark = pytest.mark.timeout(90)

HAS_CGROUP = cgroup_support()[0] is not None


def _tree_state(env) -> dict:
    return {n.id: env.tree.files(n.id) for n in env.tree}


def _works(env) -> None:
    """The env still takes a normal step and scores it."""
    env.checkout(0)
    _, _, _, _, info = env.step(edit(env, improve))
    assert info["diagnostics"]["status"] == "ok", info["diagnostics"]["reason"]


def _cache_state(env) -> dict:
    root = env.prepared.root
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- hostile diffs

HOSTILE_DIFFS = {
    "dotdot": "--- a/../escape.py\n+++ b/../escape.py\n@@ -0,0 +1 @@\n+x = 1\n",
    "dotdot_inside": "--- /dev/null\n+++ b/sub/../../escape.py\n@@ -0,0 +1 @@\n+x = 1\n",
    "absolute": "--- /dev/null\n+++ /etc/gome-escape\n@@ -0,0 +1 @@\n+x = 1\n",
    "symlink_created": "diff --git a/link b/link\nnew file mode 120000\n--- /dev/null\n+++ b/link\n@@ -0,0 +1 @@\n+/etc/passwd\n",
    "symlink_changed": "diff --git a/solution.py b/solution.py\nold mode 100644\nnew mode 120000\n--- a/solution.py\n+++ b/solution.py\n@@ -1 +1 @@\n-x\n+/etc/passwd\n",
    "protected_data": "--- /dev/null\n+++ b/data/train.csv\n@@ -0,0 +1 @@\n+id,label\n",
    "protected_submission": "--- /dev/null\n+++ b/submission/test.csv\n@@ -0,0 +1 @@\n+id,label\n",
    "binary": "diff --git a/model.bin b/model.bin\nnew file mode 100644\nGIT binary patch\nliteral 4\nLcmZ?l\n\nliteral 0\n",
    "binary_files_differ": "diff --git a/a.bin b/a.bin\nBinary files a/a.bin and b/a.bin differ\n",
    "oversize": "--- /dev/null\n+++ b/big.py\n@@ -0,0 +1 @@\n+" + "x" * (MAX_DIFF_BYTES + 10) + "\n",
    "non_utf8": b"--- /dev/null\n+++ b/s.py\n@@ -0,0 +1 @@\n+x = '\xff\xfe'\n",
    "empty": "",
    "whitespace": " \n\t\n  ",
    "empty_bytes": b"",
    "file_over_folder": "--- /dev/null\n+++ b/solution.py/evil.py\n@@ -0,0 +1 @@\n+x = 1\n",
    "dot_path": "--- /dev/null\n+++ b/.\n@@ -0,0 +1 @@\n+x = 1\n",
}


@pytest.mark.parametrize("case", sorted(HOSTILE_DIFFS))
def test_hostile_diff_is_patch_failed_and_changes_nothing(make_tiny_env, case, tmp_path):
    env = make_tiny_env(sandbox="subprocess", executor="cold")
    env.reset()
    before, tree_before = env.files(), _tree_state(env)
    outside = sorted(p.name for p in env.workdir.parent.iterdir())
    _, reward, terminated, _, info = env.step(HOSTILE_DIFFS[case])
    d = info["diagnostics"]
    assert d["status"] == "patch_failed", (case, d["reason"])
    assert d["reason"], case
    assert not terminated and reward < 0
    assert env.files() == before and {k: v for k, v in _tree_state(env).items() if k in tree_before} == tree_before
    assert env.files(info["node_id"]) == before  # the failed node is a copy of its parent
    assert sorted(p.name for p in env.workdir.parent.iterdir()) == outside
    assert not Path("/etc/gome-escape").exists()
    _works(env)


# --------------------------------------------------------------------------- hostile programs


def test_endless_loop_is_a_timeout(make_tiny_env, sandbox):
    env = make_tiny_env(sandbox=sandbox, step_timeout_s=2, memory_limit_mb=256)
    env.reset()
    _, _, _, _, info = env.step(edit(env, append("while True:\n    pass")))
    d = info["diagnostics"]
    assert d["status"] == "timeout" and "stopped after" in d["reason"]
    assert d["execution"]["runtime_s"] < 10
    _works(env)


@pytest.mark.skipif(not HAS_CGROUP and os.getuid() == 0,
                    reason="root without a writable pids cgroup: a fork bomb would be unbounded (RLIMIT_NPROC does not bind root)")
def test_fork_bomb_is_contained(make_tiny_env, sandbox):
    # cold: the per-run cgroup belongs to sandbox.run (a warm worker's children have none yet)
    env = make_tiny_env(sandbox=sandbox, step_timeout_s=3, memory_limit_mb=256, executor="cold")
    env.limits = dataclasses.replace(env.limits, max_processes=32)
    env.reset()
    marker = f"gome-hardening-bomb-{os.getpid()}-{sandbox}"
    bomb = f"import os, sys, time\nsys.argv.append({marker!r})\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        time.sleep(0.01)"
    _, _, _, _, info = env.step(edit(env, append(bomb)))
    d = info["diagnostics"]
    assert d["status"] == "timeout", d["reason"]  # it catches every failed fork and tries again
    if HAS_CGROUP:
        assert "process limit" in d["reason"]
    wait_until(lambda: processes_with(marker) == [], 5, "the end of the step's processes")
    _works(env)


@pytest.mark.skipif(not HAS_CGROUP, reason="no writable pids cgroup: the warm worker's process cap needs one")
@pytest.mark.timeout(90)
def test_fork_bomb_in_a_warm_step_is_contained(make_tiny_env, sandbox):
    # The warm worker and the steps it forks share one cgroup whose process cap holds for root too.
    env = make_tiny_env(sandbox=sandbox, step_timeout_s=3, memory_limit_mb=1024, executor="warm")
    env.limits = dataclasses.replace(env.limits, max_processes=32)
    env.reset()
    assert env.unwrapped.executor.wait_ready(60), env.unwrapped.executor_status().last_error
    marker = f"gome-hardening-warm-bomb-{os.getpid()}-{sandbox}"
    bomb = f"import os, sys, time\nsys.argv.append({marker!r})\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        time.sleep(0.01)"
    _, _, _, _, info = env.step(edit(env, append(bomb)))
    d = info["diagnostics"]
    assert env.unwrapped.executor_status().warm == 1, env.unwrapped.executor_status().last_error
    assert d["status"] == "timeout", d["reason"]  # it catches every failed fork and tries again
    wait_until(lambda: processes_with(marker) == [], 5, "the end of the step's processes")
    _works(env)


def test_memory_beyond_the_limit(make_tiny_env, sandbox):
    env = make_tiny_env(sandbox=sandbox, memory_limit_mb=256)
    env.reset()
    _, _, _, _, info = env.step(edit(env, append("hog = b'x' * (1024 * 1024 * 1024)")))
    d = info["diagnostics"]
    assert d["status"] == "memory_exceeded", d["reason"]
    assert "256 MB" in d["reason"] and d["resources"]["memory_limit_mb"] == 256
    _works(env)


def test_file_larger_than_the_limit(make_tiny_env, sandbox):
    env = make_tiny_env(sandbox=sandbox, memory_limit_mb=256, executor="cold")
    env.limits = dataclasses.replace(env.limits, file_size_mb=4)
    env.reset()
    _, _, _, _, info = env.step(edit(env, append("open('big.bin', 'wb').write(b'x' * (16 * 1024 * 1024))")))
    d = info["diagnostics"]
    assert d["status"] == "runtime_error", d["reason"]
    assert "File too large" in d["reason"] or "SIGXFSZ" in d["reason"], d["reason"]
    assert not (env.workspace / "big.bin").exists() or (env.workspace / "big.bin").stat().st_size <= 4 * 1024 * 1024
    _works(env)


def test_gigabytes_to_stdout_are_cut(make_tiny_env, sandbox):
    env = make_tiny_env(sandbox=sandbox, memory_limit_mb=256, step_timeout_s=20)
    env.limits = dataclasses.replace(env.limits, output_bytes=4_000_000)
    env.reset()
    flood = "import sys\nchunk = 'z' * (1 << 20)\nfor _ in range(4096):  # 4 GB if nothing stopped it\n    sys.stdout.write(chunk)"
    _, _, _, _, info = env.step(edit(env, append(flood)))
    d = info["diagnostics"]
    assert d["status"] == "runtime_error" and "printed more than 4000000 bytes" in d["reason"], d["reason"]
    assert d["execution"]["output_limited"] and d["execution"]["runtime_s"] < 15
    assert len(d["execution"]["stdout_head"]) + len(d["execution"]["stdout_tail"]) < 20_000
    _works(env)


def test_background_processes_do_not_outlive_the_step(make_tiny_env, sandbox):
    env = make_tiny_env(sandbox=sandbox, memory_limit_mb=256)
    env.reset()
    marker = f"gome-hardening-daemon-{os.getpid()}-{sandbox}"
    code = (
        "import os, subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', {marker!r}], start_new_session=True)\n"
        f"subprocess.Popen(['sh', '-c', 'sleep 300 & sleep 300', {marker!r}], start_new_session=True)\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        f"    os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(300)', {marker!r}])\n"
    )
    _, _, _, _, info = env.step(edit(env, append(code)))
    d = info["diagnostics"]
    assert d["status"] == "ok", d["reason"]
    if sandbox == "subprocess":  # under bwrap the kernel may end them first, with the PID namespace
        assert d["execution"]["leftover_processes_killed"] >= 1
    wait_until(lambda: processes_with(marker) == [], 5, "the end of the step's processes")
    _works(env)


def test_reading_the_private_answers_cannot_raise_the_test_score(make_tiny_env, sandbox):
    env = make_tiny_env(sandbox=sandbox, memory_limit_mb=256)
    env.reset()
    private = env.prepared.private
    code = f"""
import os, shutil
found = []
for split in ("dev", "test"):
    for path in ({str(private)!r} + f"/{{split}}.csv", os.path.realpath("data") + f"/../private/{{split}}.csv"):
        try:
            shutil.copyfile(path, f"submission/{{split}}.csv")
            found.append(split)
            break
        except OSError:
            pass
print("FOUND" if found else "NOTFOUND", found)
"""
    _, _, _, _, info = env.step(edit(env, append(code)))
    d = info["diagnostics"]
    _works(env)
    final = env.step(f"submit {info['node_id']}")[4]["final"]
    # bwrap: the answers are not mounted at all; subprocess under a root env: the program runs as
    # nobody, who may not open them (gome_env.isolation.confine)
    if env.sandbox.confinement(env.workspace).confined:
        assert "NOTFOUND" in d["execution"]["stdout_head"]
        assert d["status"] == "ok" and final["test_score"] is not None and final["test_score"] < 0.7
    else:  # readable by the program (same uid), but noticed: the step's scores are void
        assert d["status"] == "runtime_error" and "private answers" in d["reason"], d["reason"]
        assert d["dev_score"] is None and final["test_score"] is None and not final["valid_submission"]


def test_symlinked_submission_to_the_answers_is_refused(make_tiny_env, sandbox):
    env = make_tiny_env(sandbox=sandbox, memory_limit_mb=256)
    env.reset()
    private = env.prepared.private
    code = (
        "import os\n"
        "for split in ('dev', 'test'):\n"
        "    os.remove(f'submission/{split}.csv')\n"
        f"    os.symlink({str(private)!r} + f'/{{split}}.csv', f'submission/{{split}}.csv')\n"
    )
    _, _, _, _, info = env.step(edit(env, append(code)))
    d = info["diagnostics"]
    assert d["status"] == "invalid_submission" and "symbolic link" in d["reason"], d["reason"]
    _works(env)
    assert d["dev_score"] is None and env.step(f"submit {info['node_id']}")[4]["final"]["test_score"] is None


def test_symlinks_left_by_a_run_never_reach_a_snapshot_or_the_next_step(make_tiny_env, sandbox):
    env = make_tiny_env(sandbox=sandbox, memory_limit_mb=256)
    env.reset()
    target = env.workdir.parent / "outside.txt"
    target.write_text("untouched\n")
    code = (
        "import os\n"
        f"os.symlink({str(target)!r}, 'helper.py')\n"
        f"os.symlink({str(env.workdir.parent)!r}, 'escape_dir')\n"
        "os.symlink('/etc/passwd', 'notes.txt')\n"
    )
    _, _, _, _, info = env.step(edit(env, append(code)))
    assert info["diagnostics"]["status"] == "ok", info["diagnostics"]["reason"]
    node = info["node_id"]
    assert set(env.files(node)) == {"solution.py"}  # snapshots hold the diff's files, never the run's
    # the next step (from the root, whose program makes no links) writes "through" the names the
    # links had: they are gone, so nothing escapes
    env.checkout(0)
    diff = "--- /dev/null\n+++ b/helper.py\n@@ -0,0 +1 @@\n+x = 1\n"
    diff += "--- /dev/null\n+++ b/escape_dir/owned.py\n@@ -0,0 +1 @@\n+x = 2\n"
    _, _, _, _, info = env.step(diff)
    assert info["diagnostics"]["status"] == "ok", info["diagnostics"]["reason"]
    assert target.read_text() == "untouched\n" and not (env.workdir.parent / "owned.py").exists()
    assert not any(p.is_symlink() for p in env.workspace.rglob("*") if p.name != "data")
    assert (env.workspace / "helper.py").read_text() == "x = 1\n"


def test_network_connections_are_blocked(make_tiny_env, sandbox):
    if sandbox == "subprocess":
        pytest.skip("the subprocess backend has no network isolation (documented in the threat table, docs/SANDBOXES.md)")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        env = make_tiny_env(sandbox=sandbox, memory_limit_mb=256)
        env.reset()
        code = (
            "import socket\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
            "    print('CONNECTED')\n"
            "except OSError as exc:\n"
            "    print('BLOCKED', exc)\n"
        )
        _, _, _, _, info = env.step(edit(env, append(code)))
        d = info["diagnostics"]
        assert "BLOCKED" in d["execution"]["stdout_head"], d["execution"]["stdout_head"]
        _works(env)
    finally:
        server.close()


def test_deleting_its_own_data_spares_the_cache(make_tiny_env, sandbox):
    env = make_tiny_env(sandbox=sandbox, memory_limit_mb=256)
    env.reset()
    cache = _cache_state(env)
    code = (
        "import os, shutil\n"
        "for name in sorted(os.listdir('data')):\n"
        "    try:\n"
        "        os.remove(os.path.join('data', name))\n"
        "    except OSError as exc:\n"
        "        print('kept', name, exc.errno)\n"
        "shutil.rmtree('data', ignore_errors=True)\n"
    )
    _, _, _, _, info = env.step(edit(env, append(code)))
    assert info["diagnostics"]["status"] == "ok", info["diagnostics"]["reason"]
    assert _cache_state(env) == cache
    _works(env)


def test_rewriting_its_own_data_in_place_is_voided_and_repaired(make_tiny_env, sandbox):
    env = make_tiny_env(sandbox=sandbox, memory_limit_mb=256)
    env.reset()
    cache = _cache_state(env)
    code = (
        "try:\n"
        "    with open('data/train.csv', 'r+') as handle:\n"
        "        handle.write('poisoned')\n"
        "except OSError as exc:\n"
        "    print('read-only', exc.errno)\n"
    )
    _, _, _, _, info = env.step(edit(env, append(code)))
    d = info["diagnostics"]
    if sandbox == "bwrap" or env.sandbox.confinement(env.workspace).confined:  # a read-only mount, or root's files
        assert "read-only" in d["execution"]["stdout_head"] and d["status"] == "ok"
    else:
        assert d["status"] == "runtime_error" and "read-only data" in d["reason"], d["reason"]
    assert _cache_state(env) == cache
    _works(env)


def test_killing_its_parent_process(make_tiny_env, sandbox):
    env = make_tiny_env(sandbox=sandbox, memory_limit_mb=256, step_timeout_s=3)
    env.reset()
    code = "import os, signal, time\nos.kill(os.getppid(), signal.SIGKILL)\ntime.sleep(1)\nos.kill(os.getppid(), signal.SIGKILL)\ntime.sleep(30)"
    _, _, _, _, info = env.step(edit(env, append(code)))
    d = info["diagnostics"]
    # Its parent is the supervising sh (subprocess: the step ends, killed) or the PID namespace's
    # init, which ignores the signal (bwrap: the program sleeps on until the timeout).
    assert d["status"] == {"subprocess": "runtime_error", "bwrap": "timeout"}[sandbox], d["reason"]
    assert d["execution"]["runtime_s"] < 15
    _works(env)  # we are still here: the env's process was not the program's parent


def test_other_nodes_snapshots_survive_a_hostile_step(make_tiny_env, sandbox):
    env = make_tiny_env(sandbox=sandbox, memory_limit_mb=256)
    env.reset()
    env.step(edit(env, improve))
    before = _tree_state(env)
    code = "import os, shutil\nfor name in os.listdir('.'):\n    shutil.rmtree(name, ignore_errors=True) if os.path.isdir(name) else os.remove(name)\n"
    env.step(edit(env, append(code)))
    assert {k: v for k, v in _tree_state(env).items() if k in before} == before


def test_bytes_actions_are_handled(make_tiny_env):
    env = make_tiny_env(sandbox="subprocess", executor="cold")
    env.reset()
    diff = edit(env, improve)
    _, _, _, _, info = env.step(diff.encode("utf-8"))
    assert info["diagnostics"]["status"] == "ok", info["diagnostics"]["reason"]
    _, _, _, _, info = env.step(b"\xff\xfe\x00garbage")
    assert info["diagnostics"]["status"] == "patch_failed" and "UTF-8" in info["diagnostics"]["reason"]


# --------------------------------------------------------------------------- the warm worker


def _warm_env(make_tiny_env, sandbox):
    env = make_tiny_env(sandbox=sandbox, memory_limit_mb=3072, step_timeout_s=10, executor="warm")
    env.reset()
    if not env.unwrapped.executor.wait_ready(60):
        pytest.skip(f"the warm worker did not start here: {env.unwrapped.executor_status().last_error}")
    return env


def test_warm_worker_killed_mid_step_is_reported_and_replaced(make_tiny_env, sandbox):
    env = _warm_env(make_tiny_env, sandbox)
    starts = env.unwrapped.executor_status().starts
    killer = kill_worker_once_started(env)
    _, _, _, _, info = env.step(edit(env, append(WARM_ONLY_WAIT)))
    killer.join(5)
    d = info["diagnostics"]
    assert d["status"] == "ok", d["reason"]  # the step was re-run cold
    status = env.unwrapped.executor_status()
    assert status.lost == 1 and "died" in (status.last_error or "")
    lost = [w for w in d["warnings"] if w["category"] == "WorkerLost"]
    assert lost and "died" in lost[0]["message"]  # the policy sees it too
    assert d["execution"]["executor"] == "cold"
    assert env.unwrapped.executor.wait_ready(60) and env.unwrapped.executor_status().starts == starts + 1
    warm = env.unwrapped.executor_status().warm
    _works(env)
    assert env.unwrapped.executor_status().warm == warm + 1  # the next step ran on the fresh worker


def test_warm_step_killing_its_parent_and_leaving_daemons(make_tiny_env, sandbox):
    env = _warm_env(make_tiny_env, sandbox)
    marker = f"gome-hardening-warm-{os.getpid()}-{sandbox}"
    code = (
        "import os, signal, subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', {marker!r}], start_new_session=True)\n"
        "os.kill(os.getppid(), signal.SIGKILL)\n"
    )
    _, _, _, _, info = env.step(edit(env, append(code)))
    d = info["diagnostics"]
    # The warm child's parent is the worker: it dies, and the step is re-run cold, where the
    # parent is the supervising sh (killed: runtime_error) or bwrap's init (immune: ok).
    assert d["status"] == {"subprocess": "runtime_error", "bwrap": "ok"}[sandbox], d["reason"]
    assert d["execution"]["executor"] == "cold"
    wait_until(lambda: processes_with(marker) == [], 5, "the end of the step's processes")
    _works(env)


def test_packaged_datasets_are_hidden_under_bwrap(make_tiny_env):
    # With the source data, a solution could rebuild the test labels (load_digits(), match rows).
    if not bwrap_works()[0]:
        pytest.skip(f"bubblewrap does not work here: {bwrap_works()[1]}")
    env = make_tiny_env(sandbox="bwrap", memory_limit_mb=2048)
    env.reset()
    probe = (
        "import sklearn, statsmodels.api\n"  # the libraries themselves still import
        "from sklearn.datasets import load_digits, make_classification\n"
        "make_classification(n_samples=10)\n"
        "try:\n"
        "    load_digits()\n"
        "    print('DIGITS-LOADED')\n"
        "except Exception as exc:\n"
        "    print('DIGITS-HIDDEN', type(exc).__name__)\n"
    )
    _, _, _, _, info = env.step(edit(env, append(probe)))
    d = info["diagnostics"]
    assert d["status"] == "ok", d["reason"]
    assert "DIGITS-HIDDEN" in d["execution"]["stdout_head"]
