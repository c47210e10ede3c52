"""Whole memories, trimmed only to fit the model's context window.

Memories, histories and journals (GOME's experiment history, AIDE's journal summary, AIRA's
memories) are kept whole, as their references keep them: no fixed character cap. Only when a
prompt would not fit the model's context window (``ModelBackend.context_window``, read from the
backend: vLLM's ``max_model_len``, the HF config's ``max_position_embeddings``, llama.cpp's
``n_ctx``, an OpenAI-compatible server's ``max_model_len`` where it lists one, a setting for the
scripted backend) are the **oldest entries left out first**, whole, with a marker saying how many
(:data:`LEFT_OUT`). An entry is never cut mid-way.

Two ways to use it:

- ``fit_prompt(model, build, entries, max_tokens=...)``: ``build(memory_text)`` makes the whole
  conversation; the newest entries that let it (and ``max_tokens`` of answer) fit the window are
  kept. Exact: it counts with the backend's own ``count_tokens``.
- ``fit_entries(entries, fits)``: the same with any test ``fits(text) -> bool``.

When the window is unknown (``None``) nothing is left out. When not even the prompt without any
entry fits, every entry is left out (marked) and the episode's retry with a shrunk prompt
(``policies.episode.shrink``) is what is left.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["LEFT_OUT", "left_out_marker", "context_window", "fit_entries", "fit_prompt", "prompt_fits"]

LEFT_OUT = "[... {n} earlier {noun} left out to fit the model's context window ...]"
Conversation = list[dict]


def left_out_marker(n: int, noun: str = "entries") -> str:
    """The line that stands where ``n`` oldest entries were left out."""
    return LEFT_OUT.format(n=n, noun=noun)


def context_window(model: Any) -> int | None:
    """The model's context window in tokens (prompt + answer), or None when unknown."""
    window = getattr(model, "context_window", None)
    return int(window) if isinstance(window, (int, float)) and window > 0 else None


def join_entries(entries: list[str], dropped: int, noun: str = "entries", sep: str = "\n") -> str:
    """``entries`` without the ``dropped`` oldest, the marker first when any were dropped."""
    kept = entries[dropped:]
    return sep.join(([left_out_marker(dropped, noun)] if dropped else []) + kept)


def fit_entries(entries: list[str], fits: Callable[[str], bool], noun: str = "entries", sep: str = "\n") -> tuple[str, int]:
    """``(text, dropped)``: the entries (oldest first) joined by ``sep``, with as few of the
    oldest left out as make ``fits(text)`` true (all of them when none does; then the marker
    alone). ``fits`` must be monotone: fewer entries never fit worse."""
    if not entries or fits(join_entries(entries, 0, noun, sep)):
        return join_entries(entries, 0, noun, sep), 0
    lo, hi = 1, len(entries)  # the answer is in [lo, hi]: hi (all dropped) is the fallback
    while lo < hi:
        mid = (lo + hi) // 2
        if fits(join_entries(entries, mid, noun, sep)):
            hi = mid
        else:
            lo = mid + 1
    return join_entries(entries, lo, noun, sep), lo


def prompt_fits(model: Any, conversation: Conversation, max_tokens: int) -> bool:
    """Whether ``conversation`` plus ``max_tokens`` of answer fits the model's window (True when
    the window is unknown)."""
    window = context_window(model)
    if window is None:
        return True
    return model.count_tokens(conversation) + max_tokens <= window


def fit_prompt(model: Any, build: Callable[[str], Conversation], entries: list[str], *, max_tokens: int,
               noun: str = "entries", sep: str = "\n") -> tuple[Conversation, int]:
    """``(conversation, dropped)``: ``build(memory)`` with the memory made of the newest of
    ``entries`` that let the conversation plus ``max_tokens`` of answer fit ``model``'s context
    window (all of them when it fits or the window is unknown)."""
    if context_window(model) is None:
        return build(join_entries(entries, 0, noun, sep)), 0
    text, dropped = fit_entries(entries, lambda memory: prompt_fits(model, build(memory), max_tokens), noun, sep)
    return build(text), dropped
