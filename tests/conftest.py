"""Shared fixtures: offline settings, a private data cache, and the tiny fixture task."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
# Busy-waiting OpenMP threads slow CPU generation up to 10x when another process shares the cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Every Ray instance the tests start or join is private to them: no token auth, the same for all (a
# process keeps the auth mode of its first ray.init, and a later cluster with another mode refuses its actors).
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

FIXTURE_ENVS = Path(__file__).parent / "fixtures" / "envs"


@pytest.fixture(scope="session", autouse=True)
def _data_dir(tmp_path_factory):
    """Prepared task data goes to a per-session folder unless GOME_DATA_DIR is set already."""
    if "GOME_DATA_DIR" not in os.environ:
        os.environ["GOME_DATA_DIR"] = str(tmp_path_factory.mktemp("gome-data"))
    yield Path(os.environ["GOME_DATA_DIR"])


@pytest.fixture(scope="session")
def tiny_spec():
    from gome_env.tasks.task import load_spec

    return load_spec("tiny", FIXTURE_ENVS)


def _sandboxes() -> list[str]:
    from gome_env.isolation.sandbox import bwrap_works

    return ["subprocess", "bwrap"] if bwrap_works()[0] else ["subprocess"]


SANDBOXES = _sandboxes()


@pytest.fixture(params=SANDBOXES)
def sandbox(request) -> str:
    """Each test using this runs under every sandbox backend that works here."""
    return request.param


@pytest.fixture
def make_tiny_env(tiny_spec, tmp_path):
    """Factory for envs on the tiny task; closes them after the test."""
    from gome_env.env import MLEEnv

    made = []

    def make(**kwargs):
        kwargs.setdefault("max_steps", 10)
        kwargs.setdefault("workdir", tmp_path / f"env{len(made)}")
        env = MLEEnv(tiny_spec, **kwargs)
        made.append(env)
        return env

    yield make
    for env in made:
        env.close()
