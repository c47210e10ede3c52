"""``make_grpo_dataset``: GRPO prompts built from the environment's own text views.

Each row is an improve prompt in AIDE's shape for a node of a task (the task brief with its data
preview, the node's code and its feedback at the chosen diagnostics level, and the edit-form
instructions), each section built by ``gome_env.views`` (the same views the policies' prompts
use, so a node's brief and feedback read byte for byte as in a policy's prompt), with the columns
``GomeReward`` reads: ``prompt`` (chat messages), ``task``, ``seed`` and ``node_id``.
``make_tool_dataset`` makes the rows of ``GRPOTrainer(environment_factory=GomeEnvironment)`` a
dataset, each checked first (``gome_env.rl.trees.check_rows``: a row starting from a node that is
not in its tree is refused here, not inside training). Nothing here imports ``policies``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Iterable

from gome_env.env import MLEEnv
from gome_env.patching.edits import FORMAT_INSTRUCTIONS
from gome_env.pool import resolve_task
from gome_env.views import SYSTEM, clip, code_block, feedback, score_line, task_brief

__all__ = ["make_grpo_dataset", "make_tool_dataset", "improve_messages", "PromptSettings", "PROMPT_DEFAULTS", "SYSTEM"]


@dataclass(frozen=True)
class PromptSettings:
    """Section budgets (characters) and the feedback level of an RL prompt. The budgets are
    shorter than the policies' defaults, since every prompt token is generated against on each
    update."""

    max_task_chars: int = 3000
    max_code_chars: int = 4000
    max_feedback_chars: int = 1200
    diagnostics: str = "full"  # full, standard or minimal (gome_env.constants.DETAIL_LEVELS)


PROMPT_DEFAULTS = {name: getattr(PromptSettings(), name) for name in ("max_task_chars", "max_code_chars", "max_feedback_chars")}
"""The default section budgets of :class:`PromptSettings` as a dict (kept for older callers)."""


def _settings(settings: dict[str, Any]) -> PromptSettings:
    known = {f.name for f in fields(PromptSettings)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ValueError(f"unknown prompt setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}")
    return PromptSettings(**settings)


def improve_messages(env: MLEEnv, node_id: int = 0, edit_form: str = "whole", **settings: Any) -> list[dict]:
    """The improve prompt (system and user messages) for ``node_id`` of a reset ``env``
    (``settings``: any :class:`PromptSettings` field, e.g. ``diagnostics="standard"``,
    ``max_code_chars=2000``)."""
    cfg = _settings(settings)
    if edit_form not in FORMAT_INSTRUCTIONS:
        raise ValueError(f"unknown edit form {edit_form!r}; valid: {', '.join(FORMAT_INSTRUCTIONS)}")
    node = env.tree[node_id]
    user = (
        f"# Task\n{clip(task_brief(env), cfg.max_task_chars)}\n\n"
        f"# Current solution ({score_line(env.spec_task.metric_name, node.dev_score)})\n{code_block(env.files(node_id), cfg.max_code_chars)}"
        f"\n\n# Feedback on this solution\n{feedback(node.diagnostics, cfg.diagnostics, cfg.max_feedback_chars)}\n\n"
        f"# Instructions\nPropose one specific improvement that should raise the dev score, and implement it.\n"
        f"{FORMAT_INSTRUCTIONS[edit_form]}"
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


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


def make_tool_dataset(rows: Iterable[dict[str, Any]]):
    """A ``datasets.Dataset`` of ``environment_factory`` rows (``toolcalls.tool_row``,
    ``trees.tree_rows``, the lines of ``export_sft.py --tool-calls``' ``tool_rows.jsonl``), after
    ``trees.check_rows``: a row whose ``node_id`` is not in its ``tree`` (or that names a node
    other than 0 without a tree) is a ``ValueError`` naming the row. Rows with and without a tree
    mix: a missing tree is an empty string in the column, which ``GomeEnvironment.reset`` reads
    as none."""
    from datasets import Dataset

    from gome_env.rl.trees import check_rows

    rows = [dict(row) for row in rows]
    check_rows(rows)
    if any("tree" in row for row in rows):
        rows = [{**row, "tree": row.get("tree") or ""} for row in rows]
    return Dataset.from_list(rows)
