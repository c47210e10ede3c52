"""The common runner: one episode of any policy on any environment, within a budget, recorded.

A policy is an object with a ``run(episode)`` method; it talks to the environment and to the
model only through the :class:`~policies.episode.Episode` it is given (``chat``, ``apply``,
``step``, ``tree``, ``files``, ``task_text``; see ``policies/episode.py``). The episode checks the
budget (steps, wall clock, tokens, unusable edits) before every call and step and raises
:class:`Stop` when one is spent. ``run_episode`` catches it, ends the episode with ``submit`` and
returns the record described in docs/CONTRACTS.md.

:class:`PolicyConfig` holds what every model-driven policy shares, the protocol included:
``start`` (``"baseline"`` or ``"scratch"``) and ``diagnostics`` (the feedback level).
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from dataclasses import asdict, dataclass
from typing import Any, Callable

from gome_env.records import plain

from policies.episode import STOP_REASONS, Budget, Episode, Exchange, Stop, shrink
from policies.models import DEFAULT_SPEC, EDIT_MAX_TOKENS, SAMPLING, ModelBackend, load_model

__all__ = [
    "Budget", "Episode", "Exchange", "Policy", "PolicyConfig", "Stop", "run_episode", "ConfigError", "STOP_REASONS",
    "START_MODES", "DETAILS", "shrink",
]

DETAILS = ("full", "standard", "minimal")  # richness of the feedback shown (render_feedback)
START_MODES = ("baseline", "scratch")


class ConfigError(ValueError):
    """A policy was configured with an unknown option or a bad value."""


@dataclass
class PolicyConfig:
    """Options every model-driven policy shares: sampling, the edit form and prompt sizes.

    ``edit_form``: how the model is asked to write edits: ``whole`` (the complete new file),
    ``search_replace`` (SEARCH/REPLACE blocks), ``diff`` (a unified diff) or ``auto`` (accept any).
    ``max_parse_retries``: how many times an unusable answer is sent back with the reason.
    The ``max_*_chars`` options cut the task text, code, feedback and output sections (small
    models have small contexts); ``max_output_chars`` is how much execution output is shown at
    each end (AIDE: 2,500). Memories, histories and journals have no such cap: they are kept
    whole, as their references keep them, and only their oldest entries are left out (marked)
    when a prompt would not fit the model's context window (``policies.context``).
    ``diagnostics``: how rich the feedback in prompts is: ``full``, ``standard`` or ``minimal``
    (one renderer, ``prompts.node_feedback``, for every prompt of every policy).
    ``start``: the protocol's starting point: ``baseline`` (the default: first prompts see node
    0's code and feedback, as the environment always has a working baseline) or ``scratch``
    (drafts from the task text alone, as AIDE and RD-Agent do on MLE-bench).
    Sampling defaults come from ``policies.models.SAMPLING`` (``max_tokens``: ``EDIT_MAX_TOKENS``,
    room for a whole program).
    """

    temperature: float = SAMPLING.temperature
    top_p: float = SAMPLING.top_p
    max_tokens: int = EDIT_MAX_TOKENS
    start: str = "baseline"
    edit_form: str = "whole"
    max_parse_retries: int = 2
    max_task_chars: int = 6000
    max_code_chars: int = 8000
    max_feedback_chars: int = 2000
    max_output_chars: int = 2500
    diagnostics: str = "full"

    def __post_init__(self) -> None:
        from policies.edits import FORMS

        if self.edit_form not in FORMS:
            raise ConfigError(f"unknown edit_form {self.edit_form!r}; valid forms: {', '.join(FORMS)}")
        if self.diagnostics not in DETAILS:
            raise ConfigError(f"unknown diagnostics level {self.diagnostics!r}; valid levels: {', '.join(DETAILS)}")
        if self.start not in START_MODES:
            raise ConfigError(f"unknown start {self.start!r}; valid starts: {', '.join(START_MODES)}")
        if self.max_parse_retries < 0 or self.max_tokens < 1:
            raise ConfigError("max_parse_retries must be >= 0 and max_tokens >= 1")


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
    """``value`` as strict JSON (NaN as a string, unknown objects by ``repr``): the one normaliser."""
    return plain(value, nonfinite=str, unknown=repr)


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

    ``max_steps`` / ``time_budget_s`` / ``token_budget`` limit environment steps (each batched
    member is a step), wall-clock seconds (from the reset) and model tokens (prompt + completion:
    no call starts that could pass the budget, so the episode ends within one call's
    ``max_tokens`` of it); the environment's own limits apply too. A policy error ends the episode
    with ``stopped_by="error"`` and the traceback. ``usage`` counts every model call (diagnoses,
    feedback, retries, unusable answers), ``env_seconds`` the time spent inside the environment.
    """
    start = time.monotonic()
    env.reset(seed=seed)
    reset_s = time.monotonic() - start
    episode = Episode(env, policy.model, Budget(max_steps, time_budget_s, token_budget), seed=seed, on_step=on_step)
    episode.env_seconds += reset_s
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
        "env_seconds": round(episode.env_seconds, 4),
        "parse_failures": episode.parse_failures,
        "unusable_edits": [u.to_dict() for u in episode.unusable],
        "unstepped_calls": [c.to_dict() for c in episode.unstepped_calls],
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
