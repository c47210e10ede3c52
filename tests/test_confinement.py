"""Confinement under the subprocess sandbox (``gome_env.isolation.confine``): a root environment runs
solutions as ``nobody``, who cannot open the private answers; where that user cannot reach the
interpreter the runs stay unconfined, say why, and the benchmark leaves them out of its figures
unless ``--count-unconfined``.

Every run here is real: the sandbox, the user change, the permission check of the kernel. The
machine's own interpreter may live where ``nobody`` cannot go (``/root/.pyenv``); the tests then use
the system's ``/usr/bin/python3`` (with this project and its packages on ``PYTHONPATH``) to run an
environment whose interpreter ``nobody`` can reach, and skip where there is none."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from gome_env.isolation import confine
from gome_env.isolation.procio import Limits
from gome_env.isolation.sandbox import SubprocessSandbox

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_PYTHON = "/usr/bin/python3"
FIXTURE_ENVS = Path(__file__).parent / "fixtures" / "envs"

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="only a root environment changes the solution's user")


def _probe_task(tmp_path: Path) -> tuple[Path, Path]:
    """A prepared-task layout: public/ readable, private/ mode 0700 owned by root."""
    task = tmp_path / "task"
    (task / "public").mkdir(parents=True)
    (task / "private").mkdir()
    (task / "public" / "train.csv").write_text("id,y\n1,0\n")
    (task / "private" / "test.csv").write_text("id,y\n1,1\n")
    os.chmod(task / "private", 0o700)
    return task / "public", task / "private" / "test.csv"


PROBE = """\
import os
print("uid", os.getuid())
print("data", open("data/train.csv").read().splitlines()[0])
for what, act in (("answers", lambda: open({answers!r}).read()), ("public data", lambda: open("data/train.csv", "a"))):
    try:
        act()
        print(what, "OPEN")
    except PermissionError:
        print(what, "refused")
os.makedirs("submission", exist_ok=True)
open("submission/dev.csv", "w").write("id,y\\n")
"""


def _system_python_confined(tmp_path: Path) -> bool:
    (tmp_path / "wd" / "workspace").mkdir(parents=True, exist_ok=True)
    return (os.path.exists(SYSTEM_PYTHON)
            and SubprocessSandbox().confinement(tmp_path / "wd" / "workspace", SYSTEM_PYTHON).confined)


@root_only
def test_a_root_sandbox_runs_the_solution_as_nobody_who_cannot_open_the_answers(tmp_path):
    if not _system_python_confined(tmp_path):
        pytest.skip(f"{SYSTEM_PYTHON} is missing or unreachable by nobody")
    public, answers = _probe_task(tmp_path)
    workspace = tmp_path / "wd" / "workspace"
    (workspace / "solution.py").write_text(PROBE.format(answers=str(answers)))
    sandbox = SubprocessSandbox()
    sandbox.prepare_workspace(workspace, public)
    result = sandbox.run([SYSTEM_PYTHON, "solution.py"], workspace, public, Limits(timeout_s=30))
    assert result.returncode == 0, result.stderr
    assert result.confined and result.run_as == "nobody"
    assert f"uid {confine.run_user()[1]}" in result.stdout and "data id,y" in result.stdout
    assert "answers refused" in result.stdout and "public data refused" in result.stdout
    assert (workspace / "submission" / "dev.csv").stat().st_uid == confine.run_user()[1]


@root_only
def test_an_interpreter_nobody_cannot_reach_leaves_the_run_unconfined_and_says_why(tmp_path):
    if not os.path.exists(SYSTEM_PYTHON):
        pytest.skip(f"no {SYSTEM_PYTHON}")
    hidden = tmp_path / "hidden"
    hidden.mkdir(mode=0o700)
    os.chmod(hidden, 0o700)
    (hidden / "python").symlink_to(os.path.realpath(SYSTEM_PYTHON))
    public, answers = _probe_task(tmp_path)
    workspace = tmp_path / "wd" / "workspace"
    workspace.mkdir(parents=True)
    (workspace / "solution.py").write_text(PROBE.format(answers=str(answers)))
    sandbox = SubprocessSandbox()
    sandbox.prepare_workspace(workspace, public)
    result = sandbox.run([str(hidden / "python"), "solution.py"], workspace, public, Limits(timeout_s=30))
    plan = sandbox.confinement(workspace, str(hidden / "python"))
    assert not plan.confined and f"blocked at {hidden} (mode 0700, owner root)" in plan.reason
    assert plan.note().startswith("NOT confined: nobody")
    assert not result.confined and result.run_as is None
    assert "uid 0" in result.stdout and "answers OPEN" in result.stdout  # what the figures then leave out


def test_a_non_root_environment_cannot_confine(monkeypatch, tmp_path):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    plan = confine.plan(tmp_path / "workspace")
    assert not plan.confined and plan.how == "none" and "not root" in plan.reason


def test_the_run_user_is_configurable_and_never_root(monkeypatch):
    monkeypatch.setenv(confine.RUN_USER_VAR, "root")
    with pytest.raises(ValueError, match="is root"):
        confine.run_user()
    monkeypatch.setenv(confine.RUN_USER_VAR, "no-such-user-here")
    with pytest.raises(ValueError, match="no such user"):
        confine.run_user()
    monkeypatch.setenv(confine.RUN_USER_VAR, "54321")
    assert confine.run_user() == ("54321", 54321, 54321)


ENV_PROBE = """\
import json, sys
from gome_env.env import MLEEnv
from gome_env.patching.diffs import make_diff

env = MLEEnv(sys.argv[1], max_steps=2, sandbox="subprocess", executor=sys.argv[2])
try:
    env.reset(seed=0)
    answers = env.prepared.private / "test.csv"
    source = (
        "import os\\n"
        "try:\\n"
        f"    open({str(answers)!r}).read()\\n"
        "    print('answers OPEN')\\n"
        "except PermissionError:\\n"
        "    print('answers refused', os.getuid())\\n"
    )
    env.executor.wait_ready(120)
    _, _, _, _, info = env.step(make_diff(env.files(), {"solution.py": source}))
    d = info["diagnostics"]
    print(json.dumps({"stdout": d["execution"]["stdout_head"], "executor": d["execution"]["executor"],
                      "note": env.tree.root.diagnostics["sandbox_note"],
                      "confinement": env.sandbox.confinement(env.workspace).to_dict()}))
finally:
    env.close()
"""


def _env_python() -> tuple[str, dict] | None:
    """An interpreter nobody can reach that imports the project: this one, or the system's with
    this one's packages on PYTHONPATH (clean_environment keeps it from the solutions)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GOME_ENVS_DIR": str(FIXTURE_ENVS)}
    probe = Path(tempfile.gettempdir()) / "gome-probe-workspace"
    if SubprocessSandbox().confinement(probe).confined:
        return sys.executable, env
    if not os.path.exists(SYSTEM_PYTHON):
        return None
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), sysconfig.get_paths()["purelib"]])
    check = subprocess.run([SYSTEM_PYTHON, "-c", "import gome_env.env, numpy, pandas, gymnasium; "
                            "from gome_env.isolation.sandbox import SubprocessSandbox as S; from pathlib import Path; "
                            f"raise SystemExit(0 if S().confinement(Path({str(probe)!r})).confined else 1)"],
                           env=env, capture_output=True, timeout=120)
    return (SYSTEM_PYTHON, env) if check.returncode == 0 else None


@root_only
@pytest.mark.parametrize("executor", ["warm", "cold"])
def test_an_environment_step_under_the_subprocess_sandbox_cannot_open_the_answers(executor, tmp_path):
    found = _env_python()
    if found is None:
        pytest.skip("no interpreter nobody can reach imports this project here")
    python, env = found
    env["GOME_DATA_DIR"] = str(tmp_path / "data")
    script = tmp_path / "probe.py"
    script.write_text(ENV_PROBE)
    import json

    # a real task (its preparation makes private/ mode 0700, owned by root)
    done = subprocess.run([python, str(script), "digits", executor], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["confinement"]["confined"] and out["confinement"]["user"] == confine.run_user()[0]
    assert f"answers refused {confine.run_user()[1]}" in out["stdout"]
    assert out["executor"] == executor and "cannot read the private answers" in out["note"]


def test_the_benchmark_leaves_unconfined_runs_out_unless_counted(tmp_path, capsys):
    """The same subprocess-sandbox run is counted when it was confined, and left out (with a line
    saying so) when it was not, unless --count-unconfined."""
    from scripts.benchmark import main

    confined = SubprocessSandbox().confinement(Path(tempfile.gettempdir()) / "gome-x" / "workspace").confined
    args = ["--envs-dir", str(FIXTURE_ENVS), "--tasks", "tiny", "--models", "scripted", "--policies", "replay",
            "--steps", "1", "--set", "diffs=[]", "--sandbox", "subprocess", "--no-progress", "--out", str(tmp_path)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    results, summary = pd.read_csv(tmp_path / "results.csv"), pd.read_csv(tmp_path / "summary.csv")
    assert len(results) == 1 and bool(results.loc[0, "unconfined"]) == (not confined)
    if confined:
        assert len(summary) == 1 and summary.loc[0, "runs"] == 1 and "left out" not in printed
        assert results.loc[0, "run_as"] == confine.run_user()[0]
    else:
        assert summary.empty or summary.loc[0, "runs"] == 0
        assert "1 unconfined run(s) left out of these figures (replay / scripted: 1)" in printed
        assert main([*args, "--count-unconfined"]) == 0
        printed = capsys.readouterr().out
        summary = pd.read_csv(tmp_path / "summary.csv")
        assert summary.loc[0, "runs"] == 1 and "WARNING: replay / scripted: 1 unconfined run(s) counted" in printed
