"""Agents (policies) that act in gome-env environments, and the model layer they use.

One interface for every policy::

    from policies import make_policy, run_episode

    policy = make_policy("gome", model="smollm2", preset="smoke", num_traces=2)
    record = run_episode(env, policy, max_steps=20, time_budget_s=3600, token_budget=None, seed=0)

Policies: ``gome`` (GOME), ``greedy`` (AIDE's greedy tree search), ``mcts`` (AIRA-dojo's MCTS),
``evolutionary`` (AIRA-dojo's evolutionary search) and ``replay`` (replays given diffs; needs no
model). ``model`` is a spec for ``policies.models.load_model`` or a built backend. Every option of
a policy is a field of its config dataclass (``POLICIES[name].Config``); an unknown option or
policy name raises an error that lists the valid ones. The episode record's format is in
docs/CONTRACTS.md; each policy against its reference, mechanism by mechanism, in
docs/POLICIES.md.
"""

from __future__ import annotations

from typing import Any

from policies.base import Budget, ConfigError, Episode, Exchange, Policy, PolicyConfig, Stop, run_episode
from policies.evolutionary import EvolutionaryPolicy
from policies.gome import GOMEPolicy
from policies.greedy import GreedyPolicy
from policies.mcts import MCTSPolicy
from policies.presets import PRESETS, preset_options
from policies.replay import ReplayPolicy, table_backend

__all__ = [
    "POLICIES", "make_policy", "run_episode", "Policy", "PolicyConfig", "Episode", "Exchange", "Budget", "Stop",
    "ConfigError", "PRESETS", "GOMEPolicy", "GreedyPolicy", "MCTSPolicy", "EvolutionaryPolicy", "ReplayPolicy", "table_backend",
]

POLICIES: dict[str, type[Policy]] = {
    "gome": GOMEPolicy,
    "greedy": GreedyPolicy,
    "mcts": MCTSPolicy,
    "evolutionary": EvolutionaryPolicy,
    "replay": ReplayPolicy,
}


def make_policy(name: str, model: Any = None, preset: str = "full", **config: Any) -> Policy:
    """The policy ``name`` with ``model`` (a spec or a backend; default: the bundled model, except
    for ``replay``), the options of ``preset`` and then ``config`` (which win).

    ``preset``: ``"full"`` (each policy's own settings: the references' defaults) or ``"smoke"``
    (short answers and prompts for small models on a CPU), exactly as ``gome-benchmark
    --preset``; see ``policies.presets``. Every option is a field of the policy's config
    dataclass (``POLICIES[name].Config``), the shared ones (``start``, ``diagnostics``, sampling,
    prompt sizes) in ``policies.PolicyConfig``.

    Each policy, mechanism by mechanism and default by default, against its reference
    implementation: docs/POLICIES.md.
    """
    try:
        cls = POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown policy {name!r}; valid policies: {', '.join(POLICIES)}") from None
    return cls(model, **{**preset_options(preset, name, getattr(cls, "Config", None)), **config})
