"""The backend contract: Completion, Usage, ModelError and the ModelBackend base class.

Every backend takes a *batch* of chat conversations in one `chat` call and returns one
`Completion` per conversation, in input order. The base class validates the arguments, times
the call and adds its token counts to `backend.usage`; a backend only implements `_chat`.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gome_env.records import deprecated_as_dict

Message = dict[str, str]
Conversation = list[Message]


class ModelError(RuntimeError):
    """A model could not be loaded or did not answer (bad spec, missing file, server down)."""


@dataclass
class Completion:
    """The answer to one conversation.

    `texts` holds all `n` samples; `text` is the first one. Token counts cover all samples.
    `latency_s` is the wall time of the request that produced it (for backends that generate
    a whole batch at once, the time of the batch). `finish_reason` is every backend's own:
    "stop" (the model ended, or a stop string was met) or "length" (cut at `max_tokens`: the
    policies treat such an answer as unusable, `policies.edits.request_edits`).
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    finish_reason: str
    texts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.texts:
            self.texts = [self.text]


@dataclass
class Usage:
    """Tokens and seconds spent, summed over calls. `a + b` adds, `a - b` gives the usage between
    two snapshots (e.g. one episode)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.calls + other.calls,
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.seconds + other.seconds,
        )

    def __sub__(self, other: Usage) -> Usage:
        return Usage(
            self.calls - other.calls,
            self.prompt_tokens - other.prompt_tokens,
            self.completion_tokens - other.completion_tokens,
            self.seconds - other.seconds,
        )

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def tokens_per_s(self) -> float:
        """Completion tokens per second of call time (0 when no time was spent)."""
        return self.completion_tokens / self.seconds if self.seconds > 0 else 0.0

    def snapshot(self) -> Usage:
        """A copy, so that `backend.usage - before` gives what was spent since."""
        return Usage(**asdict(self))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "total_tokens": self.total_tokens, "tokens_per_s": self.tokens_per_s}

    as_dict = deprecated_as_dict


@dataclass(frozen=True)
class Sampling:
    """Sampling settings of one `chat` call, as passed to `ModelBackend._chat`.

    `seed`: conversation i of a batch is sampled with `seed + i` where the backend seeds each
    request, so identical prompts in one batch still give different samples.
    """

    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 512
    stop: tuple[str, ...] = ()
    seed: int | None = None
    n: int = 1
    json_schema: dict[str, Any] | None = None


SAMPLING = Sampling()
"""THE sampling defaults (temperature 0.7, top-p 1.0, 512 new tokens) of every backend's ``chat``
and of ``Episode.chat``; a policy's config starts from them too."""
EDIT_MAX_TOKENS = 1536
"""The default ``max_tokens`` of an answer that holds a whole program (``PolicyConfig.max_tokens``)."""


def truncate_at_stop(text: str, stop: tuple[str, ...]) -> tuple[str, bool]:
    """Cut `text` before the earliest stop string; return (text, whether a stop string was found)."""
    cuts = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)


class ModelBackend:
    """Base class of all backends. Subclasses set `name`, `spec`, `supports_json_schema` and
    implement `_chat`; they may override `close`.

    `context_window`: the model's context window in tokens (prompt + answer), read from the
    backend (vLLM's `max_model_len`, the HF config's `max_position_embeddings`, llama.cpp's
    `n_ctx`, an OpenAI-compatible server's `max_model_len` where its model list gives one), or
    None when unknown. Prompts keep memories whole and leave out their oldest entries only to fit
    it (`policies.context`)."""

    name: str = "base"
    supports_json_schema: bool = False
    context_window: int | None = None

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.usage = Usage()

    def chat(
        self,
        conversations: list[Conversation],
        *,
        temperature: float = SAMPLING.temperature,
        top_p: float = SAMPLING.top_p,
        max_tokens: int = SAMPLING.max_tokens,
        stop: str | list[str] | None = None,
        seed: int | None = None,
        n: int = 1,
        json_schema: dict[str, Any] | None = None,
    ) -> list[Completion]:
        """Answer a batch of conversations (lists of {"role", "content"} messages), in input order.

        `temperature=0` is greedy decoding. `json_schema` constrains the output to JSON matching
        the schema; it raises ModelError where `supports_json_schema` is False.
        """
        _check_conversations(conversations)
        if n < 1 or max_tokens < 1:
            raise ModelError(f"n and max_tokens must be >= 1, got n={n}, max_tokens={max_tokens}")
        if json_schema is not None and not self.supports_json_schema:
            raise ModelError(
                f"backend {self.spec!r} cannot constrain output to a JSON schema "
                "(check backend.supports_json_schema; the vllm:, openai: and llamacpp: backends can)"
            )
        if not conversations:
            return []
        stops = (stop,) if isinstance(stop, str) else tuple(stop or ())
        params = Sampling(temperature, top_p, max_tokens, stops, seed, n, json_schema)
        start = time.perf_counter()
        completions = self._chat(conversations, params)
        elapsed = time.perf_counter() - start
        if len(completions) != len(conversations):
            raise ModelError(f"{self.spec}: {len(completions)} completions for {len(conversations)} conversations")
        self.usage = self.usage + Usage(
            1,
            sum(c.prompt_tokens for c in completions),
            sum(c.completion_tokens for c in completions),
            elapsed,
        )
        return completions

    def _chat(self, conversations: list[Conversation], params: Sampling) -> list[Completion]:
        raise NotImplementedError

    def count_tokens(self, conversation: Conversation) -> int:
        """Prompt tokens of ``conversation`` as this backend counts them; the base class's estimate
        (a token per 3 characters, plus 8 per message) errs on the high side for English and code.
        Budgets use it to decide whether a call still fits (``Episode.chat``)."""
        return sum(len(m["content"]) // 3 + 8 for m in conversation)

    def reset_usage(self) -> Usage:
        """Start a new usage count; return the one so far (e.g. at the end of an episode)."""
        previous, self.usage = self.usage, Usage()
        return previous

    def close(self) -> None:
        """Free the model (memory, connections). The backend must not be used afterwards."""

    def __enter__(self) -> ModelBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec!r}>"


def _check_conversations(conversations: Any) -> None:
    if not isinstance(conversations, (list, tuple)):
        raise ModelError("chat() takes a list of conversations, each a list of {'role', 'content'} dicts")
    for i, conv in enumerate(conversations):
        if isinstance(conv, dict):
            raise ModelError(
                "chat() takes a list of conversations, not one conversation: wrap it, chat([messages])"
            )
        if not conv or not all(isinstance(m, dict) and "role" in m and "content" in m for m in conv):
            raise ModelError(f"conversation {i} must be a non-empty list of {{'role', 'content'}} dicts")


def go_offline() -> None:
    """Forbid model-hub downloads in this process (set before transformers/vllm are imported)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def resolve_local_model(ref: str) -> Path:
    """A local model folder or file for `ref` (a path, or a hub id already in the local cache).

    Never downloads: an id that is not cached raises ModelError that says how to point at a
    local folder or file instead.
    """
    path = Path(ref).expanduser()
    if path.exists():
        return path.resolve()
    go_offline()
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(ref, local_files_only=True))
    except Exception as exc:  # not an id, not cached, or huggingface_hub missing
        raise ModelError(
            f"model {ref!r} is neither a local path nor in the local Hugging Face cache, and models "
            "are never downloaded at run time. Point the spec at a local folder (config.json + "
            "weights) or file (.gguf), e.g. 'hf:/models/my-model', or use the bundled default "
            f"'smollm2' ({type(exc).__name__}: {exc})"
        ) from exc
