"""``make_grpo_dataset``: GRPO prompts built by the policies' own prompt builders.

Each row is AIDE's improve prompt (``policies.prompts.improve_prompt``: the task brief with its
data preview, the node's code and its feedback at the chosen diagnostics level, and the edit-form
instructions) for a node of a task, with the columns ``GomeReward`` reads: ``prompt`` (chat
messages), ``task``, ``seed`` and ``node_id``. The environment itself does not import
``policies``; this module does, lazily, because the prompts must be the policies' prompts.
"""

from __future__ import annotations

from typing import Any, Iterable

from gome_env.env import MLEEnv
from gome_env.pool import resolve_task

__all__ = ["make_grpo_dataset", "improve_messages", "PROMPT_DEFAULTS"]

PROMPT_DEFAULTS = {"max_task_chars": 3000, "max_code_chars": 4000, "max_feedback_chars": 1200}
"""Section budgets (characters) for RL prompts: shorter than the policies' defaults, since every
prompt token is generated against on each update."""


def improve_messages(env: MLEEnv, node_id: int = 0, edit_form: str = "whole", **settings: Any) -> list[dict]:
    """The policies' improve prompt for ``node_id`` of a reset ``env`` (``settings``: any
    ``policies.PolicyConfig`` field, e.g. ``diagnostics="standard"``, ``max_code_chars=2000``)."""
    from policies.base import PolicyConfig
    from policies.prompts import improve_prompt, score_line
    from policies.taskinfo import task_brief

    cfg = PolicyConfig(edit_form=edit_form, **{**PROMPT_DEFAULTS, **settings})
    node = env.tree[node_id]
    return improve_prompt(task_brief(env), env.files(node_id), "", cfg, score_line(env.spec_task.metric_name, node.dev_score),
                          diagnostics=node.diagnostics)


def make_grpo_dataset(tasks: str | Iterable[str], seeds: Iterable[int] = (0,), repeats: int = 1, edit_form: str = "whole",
                      **settings: Any):
    """A ``datasets.Dataset`` with ``prompt``, ``task``, ``seed`` and ``node_id`` columns: for each
    task (``"digits"`` or ``"gome/digits-v0"``; a ``TaskSpec`` works too) and seed, ``repeats``
    rows of the improve prompt for node 0 (the task's cached baseline), so every generation of a
    group starts from the same state. ``settings`` as for ``improve_messages``."""
    from datasets import Dataset

    if isinstance(tasks, str) or not isinstance(tasks, Iterable):
        tasks = [tasks]
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats!r}")
    rows = []
    for task in tasks:
        spec = resolve_task(task)
        name = task if isinstance(task, str) else spec.id
        env = MLEEnv(spec, executor="cold")  # the baseline is cached per task: usually nothing runs
        try:
            for seed in seeds:
                env.reset(seed=int(seed))
                prompt = improve_messages(env, 0, edit_form, **settings)
                rows += [{"prompt": prompt, "task": name, "seed": int(seed), "node_id": 0} for _ in range(repeats)]
        finally:
            env.close()
    return Dataset.from_list(rows)
