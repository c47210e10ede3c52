"""`llamacpp:<file.gguf>`: llama-cpp-python (optional: source-only on PyPI, a long build).

`llamacpp:smollm2` runs the bundled default GGUF as it is. Conversations of a batch are answered
one after another (llama.cpp's Python binding has no batched chat); JSON schemas are enforced
through its grammar-based `response_format`.
"""

from __future__ import annotations

import time
from pathlib import Path

from .base import Completion, Conversation, ModelBackend, ModelError, Sampling


class LlamaCppBackend(ModelBackend):
    """Chat through `llama_cpp.Llama.create_chat_completion`."""

    name = "llamacpp"
    supports_json_schema = True

    def __init__(
        self,
        model_path: str | Path,
        *,
        spec: str | None = None,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(spec or f"llamacpp:{model_path}")
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise ModelError(
                f"the llamacpp: backend needs llama-cpp-python (`pip install llama-cpp-python`, "
                f"a source build of about 20 minutes on 2 cores): {exc}"
            ) from exc
        path = Path(model_path).expanduser()
        if not path.is_file():
            raise ModelError(f"llamacpp: needs a local .gguf file; {path} does not exist")
        self.llm = Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=n_threads,
            n_gpu_layers=n_gpu_layers,
            seed=seed,
            verbose=False,
        )
        try:
            self.context_window = int(self.llm.n_ctx())
        except Exception:  # noqa: BLE001 - the setting it was started with
            self.context_window = n_ctx

    def _chat(self, conversations: list[Conversation], params: Sampling) -> list[Completion]:
        return [self._one(c, params, i) for i, c in enumerate(conversations)]

    def _one(self, messages: Conversation, params: Sampling, index: int) -> Completion:
        texts, prompt_tokens, completion_tokens, reasons = [], 0, 0, []
        start = time.perf_counter()
        for sample in range(params.n):
            seed = None if params.seed is None else params.seed + index * params.n + sample
            out = self.llm.create_chat_completion(
                messages=messages,
                temperature=max(params.temperature, 0.0),
                top_p=params.top_p,
                max_tokens=params.max_tokens,
                stop=list(params.stop) or None,
                seed=seed,
                response_format=(
                    {"type": "json_object", "schema": params.json_schema} if params.json_schema is not None else None
                ),
            )
            choice = out["choices"][0]
            texts.append(choice["message"]["content"] or "")
            reasons.append(choice.get("finish_reason") or "stop")
            prompt_tokens = out["usage"]["prompt_tokens"]
            completion_tokens += out["usage"]["completion_tokens"]
        return Completion(texts[0], prompt_tokens, completion_tokens, time.perf_counter() - start, reasons[0], texts)

    def count_tokens(self, conversation: Conversation) -> int:
        """The messages' length in this model's tokens plus a few per message for the chat
        template (the base class's estimate when the tokenizer cannot tell)."""
        try:
            return sum(len(self.llm.tokenize(m["content"].encode(), add_bos=False)) + 6 for m in conversation) + 1
        except Exception:  # noqa: BLE001 - an estimate is enough for a budget check
            return super().count_tokens(conversation)

    def close(self) -> None:
        self.llm.close()
