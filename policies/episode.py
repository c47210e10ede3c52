"""One episode in progress: the environment, the model, the budget and the growing record.

A policy talks to the environment and to the model only through its :class:`Episode`:

- ``episode.chat(conversations, kind=..., max_tokens=...)`` sends one *batch* of conversations to
  the model and returns one :class:`Exchange` per conversation (prompt, answer, tokens, seconds,
  ``finish_reason``). Every call is counted, whether or not it leads to a step.
- ``episode.apply(outcome, parent_id, kind=...)`` runs a usable edit as one environment step and
  returns the new node; an unusable one (``outcome.ok`` False: no parse within the retries, a
  truncated answer) runs nothing: it is recorded as an unusable edit and ``None`` comes back.
- ``episode.step(diff, parent_id, ...)`` runs a diff the policy made itself.
- ``episode.tree``, ``episode.files(node_id)``, ``episode.task_text`` (the task brief with a data
  preview, ``policies.taskinfo``), ``episode.direction`` read the public state.

Budgets (checked before every call and step; :class:`Stop` is raised when one is spent): steps
(every batched member is a step of its own), wall-clock seconds, tokens and unusable edits. The
token check is made *before* a call: it does not start when ``used + estimated prompt tokens +
n * max_tokens`` would pass the budget, so an episode ends within one call's ``max_tokens`` of it
(within it exactly where the backend counts prompt tokens exactly). At most as many unusable edits
as the step budget allows steps are tolerated (then ``Stop("parse_failures")``), so a model that
never writes code cannot loop for ever.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

from gome_env.grading.direction import Direction
from gome_env.records import deprecated_as_dict

from policies.models import SAMPLING, ModelBackend
from policies.models.base import Conversation

__all__ = ["Budget", "Episode", "Exchange", "UnusableEdit", "Stop", "STOP_REASONS", "shrink"]

STOP_REASONS = ("steps", "time", "tokens", "parse_failures", "submit", "error")


class Stop(Exception):
    """Raised inside a policy's ``run`` when the episode must end; ``reason`` is one of STOP_REASONS."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Budget:
    """The runner's limits, on top of the environment's own ``max_steps`` / ``time_budget_s``.
    ``max_unusable``: unusable edits tolerated (None: as many as the episode may take steps)."""

    max_steps: int | None = None
    time_budget_s: float | None = None
    token_budget: int | None = None
    max_unusable: int | None = None


@dataclass
class Exchange:
    """One prompt sent to the model and the answer that came back.

    ``error`` says why the answer could not be used (a parse failure), ``None`` when it could.
    ``model_s`` is this conversation's share of its batched call's seconds.
    """

    kind: str
    prompt: Conversation
    answer: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    finish_reason: str
    error: str | None = None
    model_s: float = 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict:
        return asdict(self)

    as_dict = deprecated_as_dict


@dataclass
class UnusableEdit:
    """An edit that ran nothing: no usable answer within the parse retries, an answer cut at
    ``max_tokens`` or with an unclosed fence. ``calls``: how many exchanges it cost (they are in
    the record's ``unstepped_calls``)."""

    parent_id: int
    kind: str
    trace: int = 0
    error: str | None = None
    calls: int = 0
    note: dict | None = None

    def to_dict(self) -> dict:
        return {**asdict(self), "note": self.note or {}}


def plain_final(info: dict) -> dict | None:
    """``info["final"]`` (a dict-like ``FinalReport``) as a plain dict, or None before the end."""
    return dict(info["final"]) if info.get("final") is not None else None


class Episode:
    """One episode in progress: the environment, the model, the budget and the growing record."""

    def __init__(self, env: Any, model: ModelBackend | None, budget: Budget, seed: int | None = None,
                 on_step: Callable[[dict], None] | None = None) -> None:
        self.env = env
        self.unwrapped = env.unwrapped
        self.model = model
        self.budget = budget
        self.seed = seed
        self.rng = random.Random(seed)
        self.on_step = on_step
        self.steps: list[dict] = []
        self.unusable: list[UnusableEdit] = []  # edits that ran nothing (no parse, truncated answer)
        self.parse_failures = 0
        self.calls = 0  # batched model calls
        self.requests = 0  # conversations answered (a batch of 5 is 5)
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.model_seconds = 0.0
        self.env_seconds = 0.0
        self.started = time.monotonic()
        self.final: dict | None = None
        self.done = False
        self.stop_reason: str | None = None  # set when the environment ends the episode itself
        self.model_errors: list[str] = []  # failed model calls that were retried with shorter prompts
        self._unstepped: dict[int, Exchange] = {}  # exchanges not (yet) attached to a step
        self._brief: str | None = None
        self._step_cap = min(self.unwrapped.steps_left, budget.max_steps if budget.max_steps is not None else 10**9)

    # ------------------------------------------------------------------ read-only views

    @property
    def tree(self):
        return self.unwrapped.tree

    @property
    def task_text(self) -> str:
        """The task brief: the env's task text, a data preview, the runtime limit and the packages."""
        if self._brief is None:
            from policies.taskinfo import task_brief

            self._brief = task_brief(self.unwrapped)
        return self._brief

    @property
    def higher_is_better(self) -> bool:
        return self.unwrapped.spec_task.higher_is_better

    @property
    def direction(self) -> Direction:
        return Direction(self.higher_is_better)

    @property
    def metric_name(self) -> str:
        return self.unwrapped.spec_task.metric_name

    def files(self, node_id: int | None = None) -> dict[str, str]:
        return self.unwrapped.files(node_id)

    def best_node(self):
        return self.unwrapped.best_node()

    @property
    def tokens_used(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    @property
    def steps_left(self) -> int:
        """Steps the environment and the runner's budget both still allow."""
        left = self.unwrapped.steps_left
        if self.budget.max_steps is not None:
            left = min(left, self.budget.max_steps - len(self.steps))
        return max(0, left)

    def better(self, a: float | None, b: float | None) -> bool:
        """Whether dev score ``a`` beats ``b`` in the task's direction (None never wins)."""
        return self.direction.better(a, b)

    def gain(self, new: float | None, old: float | None) -> float:
        """How much ``new`` improves on ``old`` in the task's direction (0 when either is missing)."""
        return self.direction.gain(new, old)

    # ------------------------------------------------------------------ budget

    def check_budget(self, before: str) -> None:
        """Raise Stop when a limit is reached; ``before`` is ``"chat"`` or ``"step"``."""
        if self.done:
            raise Stop(self.stop_reason or "submit")
        if self.steps_left <= 0:
            raise Stop("steps")
        if self.budget.time_budget_s is not None and self.elapsed_s >= self.budget.time_budget_s:
            raise Stop("time")
        if self.unwrapped.time_left_s() <= 0:
            raise Stop("time")

    def call_cost(self, conversations: list[Conversation], max_tokens: int) -> int:
        """The most a call may cost: estimated prompt tokens + ``max_tokens`` per conversation."""
        count = getattr(self.model, "count_tokens", None)
        prompt = sum(count(c) if count else sum(len(m["content"]) for m in c) // 3 + 8 for c in conversations)
        return prompt + max_tokens * len(conversations)

    def affordable(self, conversations: list[Conversation], max_tokens: int) -> int:
        """How many of ``conversations`` (from the first) one call may send within the step and
        token budgets (0 when not even one fits)."""
        n = min(len(conversations), self.steps_left)
        if self.budget.token_budget is None:
            return n
        while n > 0 and self.tokens_used + self.call_cost(conversations[:n], max_tokens) > self.budget.token_budget:
            n -= 1
        return n

    # ------------------------------------------------------------------ model calls

    def chat(self, conversations: list[Conversation], *, kind: str, temperature: float = SAMPLING.temperature,
             top_p: float = SAMPLING.top_p, max_tokens: int = SAMPLING.max_tokens, stop: list[str] | None = None,
             json_schema: dict | None = None) -> list[Exchange]:
        """Send a batch of conversations in one model call; one Exchange per conversation, in order.
        Raises Stop("tokens") instead when the call could pass the token budget."""
        if self.model is None:
            raise RuntimeError("this policy was made without a model but asked one")
        self.check_budget("chat")
        if self.budget.token_budget is not None and self.tokens_used + self.call_cost(conversations, max_tokens) > self.budget.token_budget:
            raise Stop("tokens")
        if json_schema is not None and not self.model.supports_json_schema:
            json_schema = None
        seed = None if self.seed is None else self.seed * 100_003 + self.calls
        sampling = dict(temperature=temperature, top_p=top_p, max_tokens=max_tokens, stop=stop, seed=seed, json_schema=json_schema)
        start = time.perf_counter()
        try:
            completions = self.model.chat(conversations, **sampling)
        except Exception as exc:  # noqa: BLE001 - most often a prompt longer than the model's context
            self.model_errors.append(f"{type(exc).__name__}: {exc}"[:500])
            conversations = [shrink(conv) for conv in conversations]
            completions = self.model.chat(conversations, **sampling)  # a second failure ends the episode
        seconds = time.perf_counter() - start
        self.model_seconds += seconds
        self.calls += 1
        self.requests += len(conversations)
        out = []
        for conv, c in zip(conversations, completions):
            self.prompt_tokens += c.prompt_tokens
            self.completion_tokens += c.completion_tokens
            out.append(Exchange(kind, conv, c.text, c.prompt_tokens, c.completion_tokens, c.latency_s, c.finish_reason,
                                model_s=seconds / max(1, len(conversations))))
        self._unstepped.update((id(ex), ex) for ex in out)
        return out

    @property
    def unstepped_calls(self) -> list[Exchange]:
        """Exchanges that led to no step (unusable answers, or the budget ran out first)."""
        return list(self._unstepped.values())

    # ------------------------------------------------------------------ environment steps

    def apply(self, outcome: Any, parent_id: int, *, kind: str, trace: int = 0, calls: list[Exchange] | tuple = (),
              note: dict | None = None):
        """Run ``outcome`` (an ``EditOutcome``) from ``parent_id``: its edit as one step (the new
        node is returned), or, when it holds no usable edit, nothing: it is recorded as unusable
        and None is returned. ``calls`` are earlier exchanges behind it (e.g. a diagnosis)."""
        if getattr(outcome, "stopped", None):  # never asked for: the budget could not take it
            raise Stop(outcome.stopped)
        every = list(calls) + list(outcome.calls)
        if outcome.edit is None:
            self.skip(every, parent_id, kind=kind, trace=trace, error=outcome.error, note=note)
            return None
        return self.step(outcome.edit.diff, parent_id, kind=kind, trace=trace, calls=every, parse_ok=True, note=note)

    def skip(self, calls: list[Exchange] | tuple, parent_id: int, *, kind: str, trace: int = 0,
             error: str | None = None, note: dict | None = None) -> None:
        """Record an edit that runs nothing (its exchanges stay unstepped); raise
        Stop("parse_failures") once ``budget.max_unusable`` (default: the step budget) is reached."""
        self.unusable.append(UnusableEdit(parent_id, kind, trace, error, len(calls), note))
        limit = self.budget.max_unusable if self.budget.max_unusable is not None else self._step_cap
        if len(self.unusable) >= max(1, limit):
            raise Stop("parse_failures")

    def step(self, diff: str, parent_id: int, *, kind: str, trace: int = 0, calls: list[Exchange] | tuple = (),
             parse_ok: bool = True, note: dict | None = None):
        """Check out ``parent_id``, send ``diff``, record the step; return the new node.

        ``calls`` are the model exchanges that led to this diff (all of them: diagnosis, edit,
        retries); the record's ``prompt``/``answer`` are those of the last one. ``parse_ok=False``
        is refused: an unusable answer never runs (use ``apply`` or ``skip``).
        """
        if not parse_ok:
            raise ValueError("an unusable edit never runs: call episode.apply(outcome, ...) or episode.skip(...)")
        self.check_budget("step")
        for c in calls:
            self._unstepped.pop(id(c), None)
        start = time.monotonic()
        if self.unwrapped.current_id != parent_id:
            self.unwrapped.checkout(parent_id)
        _, reward, terminated, truncated, info = self.env.step(diff)
        wall = time.monotonic() - start
        self.env_seconds += wall
        node = self.tree[info["node_id"]]
        best = self.unwrapped.tree.best()
        last = calls[-1] if calls else None
        record = {
            "step": len(self.steps) + 1, "node_id": node.id, "parent_id": node.parent_id, "trace": trace, "kind": kind,
            "prompt": last.prompt if last else None, "answer": last.answer if last else None, "diff": diff,
            "status": node.status, "dev_score": node.dev_score, "best_dev_score": best.dev_score if best else None,
            "reward": float(reward),
            "prompt_tokens": sum(c.prompt_tokens for c in calls),
            "completion_tokens": sum(c.completion_tokens for c in calls),
            "model_calls": len(calls),
            "model_s": round(sum(c.model_s for c in calls), 4),
            "wall_s": round(wall, 4),
            "diagnostics": dict(info["diagnostics"]),
            "parse_ok": parse_ok,
            "calls": [c.to_dict() for c in calls],
            "note": note or {},
        }
        self.steps.append(record)
        if self.on_step is not None:
            self.on_step(record)
        if terminated or truncated:  # the environment ended the episode: the next chat/step raises Stop
            self.done = True
            self.final = plain_final(info)
            self.stop_reason = "submit" if terminated else "steps" if self.unwrapped.steps_left <= 0 else "time"
        return node

    def submit(self, node_id: int | None = None) -> None:
        """End the episode with ``node_id`` (default: the best dev score)."""
        if self.done:
            return
        action = "submit" if node_id is None else f"submit {node_id}"
        start = time.monotonic()
        _, _, _, _, info = self.env.step(action)
        self.env_seconds += time.monotonic() - start
        self.done = True
        self.final = plain_final(info)

    @property
    def usage(self) -> dict:
        """Every model call of the episode, those that made no step included."""
        return {"calls": self.calls, "requests": self.requests, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "seconds": round(self.model_seconds, 4)}


def shrink(conversation: Conversation, factor: float = 0.5) -> Conversation:
    """The conversation with its longest message cut to ``factor`` of its length (whole lines
    from its start and end kept): the retry after a model call fails, usually because the prompt
    overflowed the context."""
    from policies.prompts import clip

    longest = max(range(len(conversation)), key=lambda i: len(conversation[i]["content"]))
    out = [dict(m) for m in conversation]
    out[longest]["content"] = clip(out[longest]["content"], int(len(out[longest]["content"]) * factor))
    return out
