"""`scripted`: a deterministic backend for testing policy logic without a model.

It answers from a list of canned answers (in order, one per sample) or with a callable
`(messages) -> str`; by default it echoes the last user message. It records every batch:
`.calls` holds the batch sizes (so a test can assert "one batched call per round") and
`.conversations` what was asked. Tokens are counted by whitespace split (the `context_window`
setting, in those tokens, is what it reports as its window); `max_tokens` keeps
that many words (finish reason "length") and `stop` strings cut the answer as in real backends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from .base import Completion, Conversation, ModelBackend, ModelError, Sampling, truncate_at_stop

Answerer = Callable[[Conversation], str]


def echo_last_user(messages: Conversation) -> str:
    """The default answer: the content of the last user message."""
    return next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")


class ScriptedBackend(ModelBackend):
    """Answers from `answers` (an iterable of strings, consumed in order) or a callable."""

    name = "scripted"
    supports_json_schema = True  # the canned answers are returned as they are

    def __init__(self, answers: Iterable[str] | Answerer | None = None, *, spec: str = "scripted",
                 context_window: int | None = None) -> None:
        """`context_window`: the window to report, in this backend's tokens (words); None: unknown."""
        super().__init__(spec)
        self.context_window = context_window
        self._answer: Answerer
        if answers is None:
            self._answer = echo_last_user
        elif callable(answers):
            self._answer = answers
        else:
            queue = iter(list(answers))
            self._answer = lambda messages: self._next(queue)
        self.calls: list[int] = []
        self.conversations: list[Conversation] = []

    @staticmethod
    def _next(queue: Iterable[str]) -> str:
        try:
            return next(iter(queue))
        except StopIteration:
            raise ModelError("ScriptedBackend ran out of canned answers") from None

    def _chat(self, conversations: list[Conversation], params: Sampling) -> list[Completion]:
        start = time.perf_counter()
        self.calls.append(len(conversations))
        self.conversations.extend(conversations)
        completions = []
        for messages in conversations:
            texts, tokens, reasons = [], 0, []
            for _ in range(params.n):
                text, reason = self._shape(self._answer(messages), params)
                texts.append(text)
                tokens += len(text.split())
                reasons.append(reason)
            prompt_tokens = sum(len(m["content"].split()) for m in messages)
            completions.append(Completion(texts[0], prompt_tokens, tokens, time.perf_counter() - start, reasons[0], texts))
        return completions

    def count_tokens(self, conversation: Conversation) -> int:
        """Exactly the prompt tokens `_chat` reports (words)."""
        return sum(len(m["content"].split()) for m in conversation)

    @staticmethod
    def _shape(text: str, params: Sampling) -> tuple[str, str]:
        text, _ = truncate_at_stop(text, params.stop)
        words = text.split()
        if len(words) > params.max_tokens:
            return " ".join(words[: params.max_tokens]), "length"
        return text, "stop"
