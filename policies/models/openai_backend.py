"""`openai:<base_url>#<model>`: any OpenAI-compatible chat server (vllm serve, llama.cpp server,
SGLang, Ollama) through the `openai` client.

A batch is sent as concurrent requests (at most `concurrency` at a time); each request has a
timeout and is retried a bounded number of times with exponential backoff on connection
errors, timeouts, 429 and 5xx. Without `#<model>` the server's first listed model is used.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .base import Completion, Conversation, ModelBackend, ModelError, Sampling


class OpenAIBackend(ModelBackend):
    """Chat with an OpenAI-compatible server; JSON schemas go as `response_format`."""

    name = "openai"
    supports_json_schema = True

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        *,
        spec: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        concurrency: int = 8,
        context_window: int | None = None,
    ) -> None:
        """`api_key` defaults to $OPENAI_API_KEY or "EMPTY" (local servers ignore it).
        A request is tried `1 + max_retries` times, waiting backoff_s, 2*backoff_s, ... between.
        `context_window`: the model's window in tokens; None (default): the `max_model_len` the
        server's model list gives for the model (vLLM's server lists it), else unknown."""
        super().__init__(spec or f"openai:{base_url}#{model or ''}")
        try:
            import openai
        except ImportError as exc:
            raise ModelError(f"the openai: backend needs the `openai` package (`pip install openai`): {exc}") from exc
        self._openai = openai
        self.base_url = base_url
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.concurrency = max(1, concurrency)
        self.client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY",
            timeout=timeout,
            max_retries=0,  # retries are ours, bounded and reported
        )
        self._tokenize_url = base_url.rstrip("/").removesuffix("/v1") + "/tokenize"
        self._tokenize: bool | None = None  # whether the server answers /tokenize (None: not asked yet)
        self.model = model or self._first_model()
        self.context_window = context_window if context_window is not None else self._listed_window()

    def _first_model(self) -> str:
        models = self._retry(lambda: self.client.models.list().data, "model list")
        if not models:
            raise ModelError(f"the server at {self.base_url} lists no models: name one, openai:<url>#<model>")
        return models[0].id

    def _listed_window(self) -> int | None:
        """The served model's ``max_model_len`` from ``/v1/models`` (None when not listed or the
        list cannot be read)."""
        try:
            models = self.client.models.list().data
        except Exception:  # noqa: BLE001 - the window is then unknown, not an error
            return None
        for entry in models:
            if entry.id == self.model:
                extra = getattr(entry, "model_extra", None) or {}
                value = extra.get("max_model_len", getattr(entry, "max_model_len", None))
                return int(value) if isinstance(value, (int, float)) and value > 0 else None
        return None

    def count_tokens(self, conversation: Conversation) -> int:
        """The prompt's length in the served model's tokens, chat template included, where the
        server tokenizes (vLLM's ``/tokenize``), so a served model fits prompts to its window as
        the in-process engine does; else (another server, or it fails) the base class's estimate."""
        if self._tokenize is not False:
            body = json.dumps({"model": self.model, "messages": conversation, "add_generation_prompt": True}).encode()
            request = urllib.request.Request(self._tokenize_url, data=body, headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    count = int(json.loads(response.read())["count"])
                self._tokenize = True
                return count
            except (OSError, ValueError, KeyError, TypeError):
                if self._tokenize is None:  # never answered: this server does not tokenize
                    self._tokenize = False
        return super().count_tokens(conversation)

    def _chat(self, conversations: list[Conversation], params: Sampling) -> list[Completion]:
        jobs = [lambda c=c, i=i: self._one(c, params, i) for i, c in enumerate(conversations)]
        if len(jobs) == 1:
            return [jobs[0]()]
        with ThreadPoolExecutor(min(self.concurrency, len(jobs))) as pool:
            return list(pool.map(lambda job: job(), jobs))  # map keeps input order

    def _one(self, messages: Conversation, params: Sampling, index: int) -> Completion:
        request: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": max(params.temperature, 0.0),
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
            "n": params.n,
        }
        if params.stop:
            request["stop"] = list(params.stop)
        if params.seed is not None:
            request["seed"] = params.seed + index
        if params.json_schema is not None:
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": params.json_schema},
            }
        start = time.perf_counter()
        response = self._retry(lambda: self.client.chat.completions.create(**request), "chat completion")
        latency = time.perf_counter() - start
        texts = [choice.message.content or "" for choice in response.choices]
        usage = response.usage
        return Completion(
            text=texts[0],
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            latency_s=latency,
            finish_reason=response.choices[0].finish_reason or "stop",
            texts=texts,
        )

    def _retry(self, call: Any, what: str) -> Any:
        """Run `call`, retrying transient failures; raise ModelError naming the server after that."""
        openai = self._openai
        transient = (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError)
        error: Exception | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                return call()
            except transient as exc:  # APITimeoutError is an APIConnectionError
                error = exc
            except openai.APIError as exc:
                raise ModelError(f"OpenAI-compatible server at {self.base_url} rejected the {what}: {exc}") from exc
        raise ModelError(
            f"OpenAI-compatible server at {self.base_url} failed the {what} after {self.max_retries + 1} "
            f"attempts: {type(error).__name__}: {error}. Is it running?"
        ) from error

    def close(self) -> None:
        self.client.close()
