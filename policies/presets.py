"""Settings that fit the model: the benchmark's presets, one definition for ``make_policy``,
``gome-benchmark`` and the scaling study.

- ``smoke``: 3 steps and 60 s per run, short answers and prompts, one GOME trace: what a
  135M-parameter model on a 2-core CPU can do in about a minute per run (the CPU default);
- ``full``: **equal spend**: every policy gets the same budget of model tokens per run
  (:data:`FULL_TOKEN_BUDGET`, prompt + completion tokens of every call: diagnoses, reflections,
  feedback, retries), every policy at its own settings (the references' defaults,
  docs/POLICIES.md), and a step cap (:data:`SAFETY_STEPS`) only as a safety net;
- ``full-steps``: **step-matched**: the references' own settings and 20 environment steps each
  (AIDE's default), no token budget: a policy that makes more calls per step spends more.

Each preset holds ``steps`` and ``time_budget`` and ``token_budget`` (the benchmark's run budget),
``match`` (``"tokens"`` or ``"steps"``: what the runs are matched on, printed with every table as
:func:`spend_label`) and ``config``: options for every policy (``"*"``) and per policy name.
``preset_options(preset, name, Config)`` gives the options a policy's config dataclass has,
exactly as the benchmark applies them; ``make_policy(name, preset=...)`` uses it.

Why 500,000 tokens (docs/POLICIES.md, "Equal spend"): with a 7B-class model a call's prompt is
about 4,000-5,500 tokens (task 1,500, code 1,500-2,300, feedback 500, the whole memory
500-1,500) and its answer up to 1,536 (a program) or 384-768 (JSON); a tree-search step is one
edit call and one reflection call, about 10,000 tokens, 200,000 for AIDE's 20 steps; a GOME step
(per trace and round) is 1-2 problem calls, a hypothesis call, an implementation and a feedback
call, about 25,000 tokens, 500,000 for 20 steps. The budget is the largest of these, so each
policy's reference settings fit it; the tree searches then get more steps for the same tokens.
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["PRESETS", "FULL_TOKEN_BUDGET", "SAFETY_STEPS", "preset_options", "spend_label", "MATCHES"]

FULL_TOKEN_BUDGET = 500_000
"""Model tokens (prompt + completion, every call) per run under the ``full`` preset."""
SAFETY_STEPS = 200
"""The ``full`` preset's step cap: a safety net that an equal-spend run should not reach."""
MATCHES = ("tokens", "steps")

PRESETS: dict[str, dict] = {
    "smoke": {
        "steps": 3,
        "time_budget": 60.0,
        "token_budget": None,
        "match": "steps",
        "config": {
            "*": {"max_tokens": 320, "max_parse_retries": 0, "max_task_chars": 2500, "max_code_chars": 3000,
                  "max_feedback_chars": 800, "max_output_chars": 600, "reflection_max_tokens": 128},
            "gome": {"num_traces": 1, "max_problems": 2, "top_k": 2, "max_debug": 1, "diagnosis_max_tokens": 192,
                     "feedback_max_tokens": 160},
        },
    },
    "full": {"steps": SAFETY_STEPS, "time_budget": None, "token_budget": FULL_TOKEN_BUDGET, "match": "tokens",
             "config": {}},
    "full-steps": {"steps": 20, "time_budget": None, "token_budget": None, "match": "steps", "config": {}},
}


def spend_label(steps: int | None, token_budget: int | None) -> str:
    """What a run was budgeted on, as every table labels it: ``tokens:N`` (equal spend) when it
    had a token budget, else ``steps:N`` (step-matched)."""
    if token_budget:
        return f"tokens:{int(token_budget)}"
    return f"steps:{int(steps)}" if steps is not None else "steps:?"


def preset_options(preset: str, name: str, config_cls: Any = None) -> dict[str, Any]:
    """The options ``preset`` sets for policy ``name``: its ``"*"`` options overridden by its
    per-policy ones, keeping only the fields ``config_cls`` has (all of them when it is None or
    not a dataclass). Raises ValueError naming the presets for an unknown one."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; valid presets: {', '.join(PRESETS)}")
    config = PRESETS[preset]["config"]
    merged = {**config.get("*", {}), **config.get(name, {})}
    if config_cls is None or not dataclasses.is_dataclass(config_cls):
        return merged
    fields = {f.name for f in dataclasses.fields(config_cls)}
    return {k: v for k, v in merged.items() if k in fields}
