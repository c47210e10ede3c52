"""Batched model calls whose answers must be JSON (GOME's diagnosis and feedback).

``request_json`` sends every conversation in one call (constrained to a JSON schema where the
backend can), parses each answer, and re-asks the unusable ones together, with the reason, up
to ``cfg.max_parse_retries`` times. An answer cut off at ``max_tokens`` is a parse failure
even when its start happens to parse. Every unusable answer counts in
``episode.parse_failures``; every call goes through ``episode.chat`` (so it is budgeted and
counted).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from policies import prompts

__all__ = ["json_objects", "JSONOutcome", "request_json"]


@dataclass
class JSONOutcome:
    """The parsed value (None when every attempt failed), the exchanges and the last error."""

    value: Any = None
    calls: list = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.value is not None


def request_json(episode, conversations: list[list[dict]], cfg, *, parse: Callable[[str], Any] | list[Callable[[str], Any]],
                 kind: str, max_tokens: int, schema: dict | None = None) -> list[JSONOutcome]:
    """One batched call for all ``conversations``; ``parse(text)`` (one for all, or one per
    conversation) raises ValueError with a message for the model when an answer is unusable."""
    parsers = list(parse) if isinstance(parse, (list, tuple)) else [parse] * len(conversations)
    outcomes = [JSONOutcome() for _ in conversations]
    convs = [list(c) for c in conversations]
    pending = list(range(len(convs)))
    for attempt in range(cfg.max_parse_retries + 1):
        if attempt and pending:  # retries only as far as the token budget goes
            pending = pending[: episode.affordable([convs[i] for i in pending], max_tokens)]
        if not pending:
            break
        exchanges = episode.chat(
            [convs[i] for i in pending], kind=kind if attempt == 0 else f"{kind}_retry",
            temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=max_tokens, json_schema=schema,
        )
        still = []
        for i, ex in zip(pending, exchanges):
            outcomes[i].calls.append(ex)
            try:
                if ex.finish_reason == "length":
                    raise ValueError(f"the answer was cut off at {max_tokens} tokens; answer shorter")
                outcomes[i].value = parsers[i](ex.answer)
            except ValueError as exc:
                ex.error = outcomes[i].error = str(exc)
                episode.parse_failures += 1
                convs[i] = list(conversations[i]) + [
                    {"role": "assistant", "content": prompts.clip(ex.answer, 1500)},
                    {"role": "user", "content": f"Your answer could not be used: {exc}"},
                ]
                still.append(i)
        pending = still
    return outcomes


def json_objects(text: str):
    """Every JSON object in ``text``, in order: each ``{`` where a JSON value can be decoded and
    is an object (models wrap their JSON in prose and fences)."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text or ""):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            yield value
