"""Token budgets of tool-calling RL: one definition of the completion budget and of the share of it
that one tool reply may take.

TRL's ``GRPOTrainer`` counts a rollout's tool replies inside ``max_completion_length`` (the model's
calls, the replies and the model's later turns together) and *drops* a reply that would overflow it,
after the tool has run: the model would never see the result its reward credits. So a tool reply
must be a small share of the completion budget, and that share is derived here from the budget the
trainer is given, never set on its own:

- ``COMPLETION_TOKENS``: the default completion budget (``cpu_grpo_config``'s
  ``max_completion_length`` and ``GomeEnvironment.completion_tokens``);
- ``REPLY_SHARE``: the share of it one tool reply may take;
- ``reply_tokens(completion_tokens)``: the reply budget in tokens;
- ``estimate_tokens(text)`` and ``clip_tokens(text, tokens)``: an upper bound on a text's token
  count that needs no tokenizer (each digit or punctuation mark a token, letters and spaces
  ``CHARS_PER_TOKEN`` to a token: SmolLM2's tokenizer gives 2.8-3.3 characters per token on the
  tasks' code and prose but splits numbers into single digits), and a clip (head and tail kept)
  within it.
"""

from __future__ import annotations

import math

__all__ = ["COMPLETION_TOKENS", "REPLY_SHARE", "CHARS_PER_TOKEN", "reply_tokens", "estimate_tokens", "clip_tokens"]

COMPLETION_TOKENS = 1536
"""The default ``max_completion_length`` of ``cpu_grpo_config`` and the completion budget a
``GomeEnvironment`` sizes its replies for (384 tokens each: a short solution.py fits whole).
Single-turn runs (``GomeReward``) usually ask for less; the tool form needs room for a diff."""

REPLY_SHARE = 0.25
"""One tool reply takes at most this share of the completion budget (the rest: the model's calls
and answers, and the other replies)."""

CHARS_PER_TOKEN = 2.5
"""Letters and spaces per token assumed by ``estimate_tokens`` (digits and punctuation count one
token each). On the tasks' code and prose the estimate is 1.0-1.6 times the bundled model's real
count, and above it on number-heavy feedback too (``tests/test_rl_tools.py``)."""

_MARK = "\n[... cut ...]\n"


def reply_tokens(completion_tokens: int, share: float = REPLY_SHARE) -> int:
    """The most tokens one tool reply may take in a completion budget of ``completion_tokens``."""
    if completion_tokens < 1:
        raise ValueError(f"the completion budget must be >= 1 token, got {completion_tokens!r}")
    return max(1, int(completion_tokens * share))


def _whole(c: str) -> bool:
    """Characters counted as a token each: digits and punctuation."""
    return c.isdigit() or not (c.isalpha() or c.isspace())


def estimate_tokens(text: str) -> int:
    """An upper bound on ``text``'s token count: each digit or punctuation mark one token, letters
    and spaces ``CHARS_PER_TOKEN`` to a token."""
    whole = sum(_whole(c) for c in text)
    return whole + math.ceil((len(text) - whole) / CHARS_PER_TOKEN)


def _prefix_within(text: str, tokens: float) -> int:
    """The length of the longest prefix of ``text`` whose estimate stays within ``tokens``."""
    used = 0.0
    for i, c in enumerate(text):
        used += 1.0 if _whole(c) else 1.0 / CHARS_PER_TOKEN
        if used > tokens:
            return i
    return len(text)


def clip_tokens(text: str, tokens: int) -> str:
    """``text`` if its estimate fits ``tokens``, else its head and tail around a cut mark, the
    whole within ``tokens`` (estimated)."""
    if estimate_tokens(text) <= tokens:
        return text
    room = tokens - estimate_tokens(_MARK) - 2  # the rounding of two halves
    if room <= 0:
        return text[: _prefix_within(text, max(0, tokens - 1))]
    head = _prefix_within(text, room / 2)
    tail = _prefix_within(text[::-1], room / 2)
    return text[:head] + _MARK + (text[len(text) - tail:] if tail else "")
