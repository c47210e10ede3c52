"""`hf:<path or id>`: transformers AutoModelForCausalLM, batched generation with left padding.

Accepts a local folder, a hub id already in the local cache, or a .gguf file (de-quantised at
load time, which takes tens of seconds: convert once for repeated use). Never downloads.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from .base import Completion, Conversation, ModelBackend, ModelError, Sampling, go_offline, resolve_local_model, truncate_at_stop


class HFBackend(ModelBackend):
    """Chat with a transformers causal LM; one `generate` call per `chat` batch."""

    name = "hf"
    supports_json_schema = False

    def __init__(
        self,
        model: str | Path,
        *,
        spec: str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        threads: int | None = None,
    ) -> None:
        """`device`: "auto" (cuda when available, else cpu), "cpu", "cuda", "cuda:1"...
        `dtype`: "auto" (bfloat16 on cuda, float32 on cpu) or a torch dtype name.
        `threads`: torch CPU threads (default: torch's choice)."""
        super().__init__(spec or f"hf:{model}")
        go_offline()
        # Spinning OpenMP threads slow generation ~10x when another process shares the cores;
        # this only takes effect if torch is not imported yet (set it in the environment to be sure).
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if threads:
            torch.set_num_threads(threads)
        path = resolve_local_model(str(model))
        self.device = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
        if dtype == "auto":
            dtype = "bfloat16" if self.device.startswith("cuda") else "float32"
        kwargs: dict[str, Any] = {"local_files_only": True}
        if path.is_file():  # a GGUF file
            kwargs["gguf_file"] = path.name
            path = path.parent
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left", **kwargs)
            self.model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype), **kwargs)
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load a transformers model from {path}: {exc}") from exc
        self.model.to(self.device).eval()
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if self.tokenizer.chat_template is None:
            raise ModelError(f"{path} has no chat template in its tokenizer: not an instruction/chat model")
        self._torch = torch
        self.context_window = _window(self.model.config, self.tokenizer)

    def _chat(self, conversations: list[Conversation], params: Sampling) -> list[Completion]:
        torch, tok = self._torch, self.tokenizer
        prompts = [tok.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in conversations]
        batch = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        greedy = params.temperature <= 0
        gen: dict[str, Any] = {"max_new_tokens": params.max_tokens, "num_return_sequences": params.n}
        if greedy:
            gen.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            gen.update(do_sample=True, temperature=params.temperature, top_p=params.top_p, top_k=None)
        if params.stop:
            gen.update(stop_strings=list(params.stop), tokenizer=tok)
        if params.seed is not None:
            torch.manual_seed(params.seed)
        start = time.perf_counter()
        with torch.inference_mode():
            out = self.model.generate(**batch, **gen, pad_token_id=tok.pad_token_id)
        latency = time.perf_counter() - start
        new = out[:, batch["input_ids"].shape[1] :].tolist()
        prompt_lens = batch["attention_mask"].sum(dim=1).tolist()
        eos = _eos_ids(self.model, tok)
        completions = []
        for i, prompt_len in enumerate(prompt_lens):
            texts, tokens, reasons = [], 0, []
            for ids in new[i * params.n : (i + 1) * params.n]:
                ended = next((k for k, t in enumerate(ids) if t in eos), None)
                ids = ids if ended is None else ids[:ended]
                text, stopped = truncate_at_stop(tok.decode(ids, skip_special_tokens=True), params.stop)
                if stopped:
                    ids = tok.encode(text, add_special_tokens=False)
                texts.append(text)
                tokens += len(ids)
                reasons.append("stop" if ended is not None or stopped else "length")
            completions.append(Completion(texts[0], int(prompt_len), tokens, latency, reasons[0], texts))
        return completions

    def count_tokens(self, conversation: Conversation) -> int:
        """The prompt's length in this model's tokens, chat template included."""
        text = self.tokenizer.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def close(self) -> None:
        del self.model
        if self.device.startswith("cuda"):
            self._torch.cuda.empty_cache()


def _window(config: Any, tokenizer: Any) -> int | None:
    """The context window: the config's ``max_position_embeddings`` (or its other names), else the
    tokenizer's ``model_max_length`` when it is a real figure."""
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    value = getattr(tokenizer, "model_max_length", None)
    return value if isinstance(value, int) and 0 < value < 10**7 else None


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    """Token ids that end a generation (generation config's eos ids, the tokenizer's eos, pad)."""
    ids = model.generation_config.eos_token_id
    ids = set(ids if isinstance(ids, list) else [ids] if ids is not None else [])
    ids |= {t for t in (tokenizer.eos_token_id, tokenizer.pad_token_id) if t is not None}
    return ids
