"""Settings that fit the model: the benchmark's presets, one definition for ``make_policy`` and
``gome-benchmark``.

- ``smoke``: 3 steps and 60 s per run, short answers and prompts, one GOME trace: what a
  135M-parameter model on a 2-core CPU can do in about a minute per run (the CPU default);
- ``full``: 20 steps and every policy's own settings (the references' defaults, docs/POLICIES.md).

Each preset holds ``steps`` and ``time_budget`` (used by the benchmark for the run's budget) and
``config``: options for every policy (``"*"``) and per policy name. ``preset_options(preset,
name, Config)`` gives the options a policy's config dataclass has, exactly as the benchmark
applies them; ``make_policy(name, preset=...)`` uses it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["PRESETS", "preset_options"]

PRESETS: dict[str, dict] = {
    "smoke": {
        "steps": 3,
        "time_budget": 60.0,
        "config": {
            "*": {"max_tokens": 320, "max_parse_retries": 0, "max_task_chars": 2500, "max_code_chars": 3000,
                  "max_feedback_chars": 800, "max_output_chars": 600, "max_memory_chars": 600},
            "gome": {"num_traces": 1, "max_problems": 2, "top_k": 2, "max_debug": 1, "diagnosis_max_tokens": 192,
                     "feedback_max_tokens": 160},
        },
    },
    "full": {"steps": 20, "time_budget": None, "config": {}},
}


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
