"""The common runner: one episode of any policy on any environment, within a budget, recorded.

A policy is an object with a ``run(episode)`` method. It talks to the environment and to the
model only through the :class:`Episode` it is given:

- ``episode.chat(conversations, kind=...)`` sends one *batch* of conversations to the model
  backend and returns one :class:`Exchange` per conversation (prompt, answer, token counts);
- ``episode.step(diff, parent_id, kind=..., calls=...)`` checks out ``parent_id``, sends the diff
  to the environment and records the step (with the exchanges that produced it);
- ``episode.tree``, ``episode.files(node_id)``, ``episode.task_text`` ... read the environment's
  public state.

Both ``chat`` and ``step`` check the budget (steps, wall clock, tokens) first and raise
:class:`Stop` when it is spent (after the environment truncates the episode, the next call raises
it). ``run_episode``
catches it, ends the episode with ``submit`` and returns the record described in
docs/CONTRACTS.md.
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
import traceback
from dataclasses import asdict, dataclass
from typing import Any, Callable

from policies.models import DEFAULT_SPEC, ModelBackend, load_model
from policies.models.base import Conversation

__all__ = ["Budget", "Episode", "Exchange", "Policy", "PolicyConfig", "Stop", "run_episode", "ConfigError"]

STOP_REASONS = ("steps", "time", "tokens", "submit", "error")
DETAILS = ("full", "standard", "minimal")  # richness of the feedback shown (render_feedback)


class Stop(Exception):
    """Raised inside a policy's ``run`` when the episode must end; ``reason`` is one of STOP_REASONS."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ConfigError(ValueError):
    """A policy was configured with an unknown option or a bad value."""


@dataclass
class Budget:
    """The runner's limits, on top of the environment's own ``max_steps`` / ``time_budget_s``."""

    max_steps: int | None = None
    time_budget_s: float | None = None
    token_budget: int | None = None


@dataclass
class Exchange:
    """One prompt sent to the model and the answer that came back.

    ``error`` says why the answer could not be used (a parse failure), ``None`` when it could.
    """

    kind: str
    prompt: Conversation
    answer: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    finish_reason: str
    error: str | None = None

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class PolicyConfig:
    """Options every model-driven policy shares: sampling, the edit form and prompt sizes.

    ``edit_form``: how the model is asked to write edits: ``whole`` (the complete new file),
    ``search_replace`` (SEARCH/REPLACE blocks), ``diff`` (a unified diff) or ``auto`` (accept any).
    ``max_parse_retries``: how many times an unusable answer is sent back with the reason.
    The ``max_*_chars`` options cut prompt sections (small models have small contexts);
    ``max_output_chars`` is how much execution output is shown at each end (AIDE: 2,500).
    ``diagnostics``: how rich the feedback in prompts is: ``full``, ``standard`` or ``minimal``.
    """

    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 1536
    edit_form: str = "whole"
    max_parse_retries: int = 2
    max_task_chars: int = 3000
    max_code_chars: int = 8000
    max_feedback_chars: int = 2000
    max_output_chars: int = 2500
    max_memory_chars: int = 1500
    diagnostics: str = "full"

    def __post_init__(self) -> None:
        from policies.edits import FORMS

        if self.edit_form not in FORMS:
            raise ConfigError(f"unknown edit_form {self.edit_form!r}; valid forms: {', '.join(FORMS)}")
        if self.diagnostics not in DETAILS:
            raise ConfigError(f"unknown diagnostics level {self.diagnostics!r}; valid levels: {', '.join(DETAILS)}")
        if self.max_parse_retries < 0 or self.max_tokens < 1:
            raise ConfigError("max_parse_retries must be >= 0 and max_tokens >= 1")


def _plain_final(info: dict) -> dict | None:
    """``info["final"]`` (a dict-like ``Record``) as a plain dict, or None before the end."""
    return dict(info["final"]) if info.get("final") is not None else None


class Episode:
    """One episode in progress: the environment, the model, the budget and the growing record."""

    def __init__(
        self,
        env: Any,
        model: ModelBackend | None,
        budget: Budget,
        seed: int | None = None,
        on_step: Callable[[dict], None] | None = None,
    ) -> None:
        self.env = env
        self.unwrapped = env.unwrapped
        self.model = model
        self.budget = budget
        self.seed = seed
        self.rng = random.Random(seed)
        self.on_step = on_step
        self.steps: list[dict] = []
        self.parse_failures = 0
        self.calls = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.model_seconds = 0.0
        self.started = time.monotonic()
        self.final: dict | None = None
        self.done = False
        self.stop_reason: str | None = None  # set when the environment ends the episode itself
        self.model_errors: list[str] = []  # failed model calls that were retried with shorter prompts
        self._unstepped: dict[int, Exchange] = {}  # exchanges not (yet) attached to a step

    # ------------------------------------------------------------------ read-only views

    @property
    def tree(self):
        return self.unwrapped.tree

    @property
    def task_text(self) -> str:
        return self.unwrapped.task_text

    @property
    def higher_is_better(self) -> bool:
        return self.unwrapped.spec_task.higher_is_better

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
        if a is None:
            return False
        if b is None:
            return True
        return a > b if self.higher_is_better else a < b

    def gain(self, new: float | None, old: float | None) -> float:
        """How much ``new`` improves on ``old`` in the task's direction (0 when either is missing)."""
        if new is None or old is None:
            return 0.0
        return (new - old) if self.higher_is_better else (old - new)

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
        if before == "chat" and self.budget.token_budget is not None and self.tokens_used >= self.budget.token_budget:
            raise Stop("tokens")

    # ------------------------------------------------------------------ model calls

    def chat(
        self,
        conversations: list[Conversation],
        *,
        kind: str,
        temperature: float = 0.7,
        top_p: float = 1.0,
        max_tokens: int = 512,
        stop: list[str] | None = None,
        json_schema: dict | None = None,
    ) -> list[Exchange]:
        """Send a batch of conversations in one model call; one Exchange per conversation, in order."""
        if self.model is None:
            raise RuntimeError("this policy was made without a model but asked one")
        self.check_budget("chat")
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
        self.model_seconds += time.perf_counter() - start
        self.calls += 1
        out = []
        for conv, c in zip(conversations, completions):
            self.prompt_tokens += c.prompt_tokens
            self.completion_tokens += c.completion_tokens
            out.append(Exchange(kind, conv, c.text, c.prompt_tokens, c.completion_tokens, c.latency_s, c.finish_reason))
        self._unstepped.update((id(ex), ex) for ex in out)
        return out

    @property
    def unstepped_calls(self) -> list[Exchange]:
        """Exchanges that led to no step (e.g. the budget ran out before their edit was run)."""
        return list(self._unstepped.values())

    # ------------------------------------------------------------------ environment steps

    def step(
        self,
        diff: str,
        parent_id: int,
        *,
        kind: str,
        trace: int = 0,
        calls: list[Exchange] | tuple = (),
        parse_ok: bool = True,
        note: dict | None = None,
    ):
        """Check out ``parent_id``, send ``diff``, record the step; return the new node.

        ``calls`` are the model exchanges that led to this diff (all of them: diagnosis, edit,
        retries); the record's ``prompt``/``answer`` are those of the last one.
        """
        self.check_budget("step")
        for c in calls:
            self._unstepped.pop(id(c), None)
        if self.unwrapped.current_id != parent_id:
            self.unwrapped.checkout(parent_id)
        start = time.monotonic()
        _, reward, terminated, truncated, info = self.env.step(diff)
        node = self.tree[info["node_id"]]
        best = self.unwrapped.tree.best()
        last = calls[-1] if calls else None
        record = {
            "step": len(self.steps) + 1,
            "node_id": node.id,
            "parent_id": node.parent_id,
            "trace": trace,
            "kind": kind,
            "prompt": last.prompt if last else None,
            "answer": last.answer if last else None,
            "diff": diff,
            "status": node.status,
            "dev_score": node.dev_score,
            "best_dev_score": best.dev_score if best else None,
            "reward": float(reward),
            "prompt_tokens": sum(c.prompt_tokens for c in calls),
            "completion_tokens": sum(c.completion_tokens for c in calls),
            "wall_s": round(time.monotonic() - start, 4),
            "diagnostics": dict(info["diagnostics"]),
            "parse_ok": parse_ok,
            "calls": [c.as_dict() for c in calls],
            "note": note or {},
        }
        self.steps.append(record)
        if self.on_step is not None:
            self.on_step(record)
        if terminated or truncated:  # the environment ended the episode: the next chat/step raises Stop
            self.done = True
            self.final = _plain_final(info)
            self.stop_reason = "submit" if terminated else "steps" if self.unwrapped.steps_left <= 0 else "time"
        return node

    def submit(self, node_id: int | None = None) -> None:
        """End the episode with ``node_id`` (default: the best dev score)."""
        if self.done:
            return
        action = "submit" if node_id is None else f"submit {node_id}"
        _, _, _, _, info = self.env.step(action)
        self.done = True
        self.final = _plain_final(info)

    @property
    def usage(self) -> dict:
        return {
            "calls": self.calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "seconds": round(self.model_seconds, 4),
        }


def shrink(conversation: Conversation, factor: float = 0.5) -> Conversation:
    """The conversation with its longest message cut to ``factor`` of its length (start and end
    kept): the retry after a model call fails, usually because the prompt overflowed the context."""
    from policies.prompts import clip

    longest = max(range(len(conversation)), key=lambda i: len(conversation[i]["content"]))
    out = [dict(m) for m in conversation]
    out[longest]["content"] = clip(out[longest]["content"], int(len(out[longest]["content"]) * factor))
    return out


class Policy:
    """Base class: a named search strategy with a config dataclass and (usually) a model.

    Subclasses set ``name``, ``Config`` (a dataclass, usually extending PolicyConfig) and
    implement ``run(episode)``, which plays until it is done (then the runner submits the best
    node, or ``self.submit_node`` when set) or until the budget raises Stop.
    """

    name = "base"
    Config: type = PolicyConfig
    needs_model = True

    def __init__(self, model: str | ModelBackend | None = None, **config: Any) -> None:
        self.config = make_config(self.Config, config, self.name)
        if model is None and self.needs_model:
            model = DEFAULT_SPEC
        self.model: ModelBackend | None = load_model(model) if model is not None else None
        self.submit_node: int | None = None

    def run(self, episode: Episode) -> None:
        raise NotImplementedError

    @property
    def model_name(self) -> str:
        return self.model.spec if self.model is not None else "none"

    def summary(self) -> dict:
        """Policy-specific state worth keeping in the record (e.g. GOME's traces and memories)."""
        return {}

    def describe(self) -> dict:
        return {"policy": self.name, "policy_config": _jsonable(asdict(self.config)), "model": self.model_name}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} model={self.model_name}>"


def make_config(cls: type, options: dict, policy: str):
    """``cls(**options)`` with an error that lists the valid options."""
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(options) - set(names))
    if unknown:
        raise ConfigError(f"policy {policy!r} has no option(s) {', '.join(unknown)}; valid options: {', '.join(names)}")
    return cls(**options)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    return repr(value)


def run_episode(
    env: Any,
    policy: Policy,
    max_steps: int | None = None,
    time_budget_s: float | None = None,
    token_budget: int | None = None,
    seed: int | None = None,
    on_step: Callable[[dict], None] | None = None,
) -> dict:
    """Reset ``env``, let ``policy`` play until it is done or the budget is spent, submit, and
    return the episode record (JSON-serialisable; format in docs/CONTRACTS.md).

    ``max_steps`` / ``time_budget_s`` / ``token_budget`` limit environment steps, wall-clock
    seconds (from the reset) and model tokens (prompt + completion: no model call starts once it
    is spent; an answer already paid for is still run); the environment's own limits apply too. A policy error ends the episode with ``stopped_by="error"`` and the traceback.
    """
    start = time.monotonic()
    env.reset(seed=seed)
    episode = Episode(env, policy.model, Budget(max_steps, time_budget_s, token_budget), seed=seed, on_step=on_step)
    stopped_by, error = "submit", None
    try:
        policy.run(episode)
        stopped_by = episode.stop_reason or "submit"
    except Stop as stop:
        stopped_by = stop.reason
    except Exception:  # noqa: BLE001 - the record says what went wrong
        stopped_by, error = "error", traceback.format_exc()
    if not episode.done:
        try:
            episode.submit(policy.submit_node)
        except Exception:  # noqa: BLE001 - no final then: test scores are only given at an episode's end
            error = (error or "") + traceback.format_exc()
    return _jsonable({
        **policy.describe(),
        "task": env.unwrapped.spec_task.id,
        "seed": seed,
        "steps": episode.steps,
        "usage": episode.usage,
        "parse_failures": episode.parse_failures,
        "unstepped_calls": [c.as_dict() for c in episode.unstepped_calls],
        "model_errors": episode.model_errors,
        "final": episode.final or {},
        "tree": env.unwrapped.tree.to_dict(),
        "wall_s": round(time.monotonic() - start, 4),
        "stopped_by": stopped_by,
        "error": error,
        "policy_summary": _safe_summary(policy),
    })


def _safe_summary(policy: Policy) -> dict:
    try:
        return policy.summary()
    except Exception as exc:  # noqa: BLE001 - a summary must never lose the record
        return {"error": f"{type(exc).__name__}: {exc}"}
