"""A tool-use warm-up before GRPO: SFT data played through the environment, and how often a model
makes a well-formed tool call.

A 135M model sampled on its own makes no tool call, so every rollout of
``GRPOTrainer(environment_factory=...)`` scores node 0 and every group ties. The warm-up teaches
the call format first, on conversations the environment itself produces (``warmup_conversations``:
per training task and edit, ``read_file``, an ``apply_patch`` of a short edit of node 0's model
line (``gome_env.rl.smalledits``) or of a diff leading to one of the task's own solution files,
``submit``, each with its real reply), tokenised with the template's assistant
mask (``sft_rows``: only the assistant's turns are learnt, the tool replies are context).
``tool_call_share`` samples first turns on (held-out) tasks and counts the well-formed calls;
``group_stats`` reads a GRPO run's share of groups whose rewards differ.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from gome_env.pool import resolve_task
from gome_env.rl.smalledits import short_diffs
from gome_env.rl.toolcalls import call_problem, environment_tools, play, solution_diffs, tool_row, warmup_calls

__all__ = ["WarmupExample", "warmup_conversations", "sft_rows", "CallShare", "tool_call_share", "group_stats", "stop"]


def stop(env: Any) -> None:
    """Stop an environment instance's workers (its ``close()``, else its ``_close()`` housekeeping)."""
    (getattr(env, "close", None) or getattr(env, "_close"))()


@dataclass
class WarmupExample:
    """One warm-up conversation: its task, the solution file its diff leads to, the messages."""

    task: str
    source: str
    messages: list[dict]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def warmup_conversations(env_cls: type, tasks: Iterable[str], max_diff_chars: int | None = None,
                         seed: int = 0, short: bool = True) -> list[WarmupExample]:
    """For each task, each short edit of node 0 (``smalledits.short_diffs``, when ``short``; source
    ``short:<label>``) and each of its solution files (``toolcalls.SOLUTION_FILES``), diffs up to
    ``max_diff_chars``: the episode read_file -> apply_patch -> submit played on an ``env_cls``
    instance, with the real replies. The environment's workers are stopped at the end."""
    env = env_cls()
    examples = []
    try:
        for task in tasks:
            row = tool_row(task, seed)
            env.reset(**row)
            spec = resolve_task(task)
            node0 = {"solution.py": spec.baseline_source}  # node 0: the task's baseline
            edits = [(f"short:{label}", diff) for label, diff in short_diffs(node0, max_diff_chars)] if short else []
            for source, diff in edits + solution_diffs(spec, node0, max_chars=max_diff_chars):
                examples.append(WarmupExample(task, source, play(env, row, warmup_calls(diff))))
    finally:
        stop(env)
    return examples


def sft_rows(examples: Iterable[WarmupExample], tokenizer: Any, env: Any) -> list[dict[str, list[int]]]:
    """``input_ids`` and ``assistant_masks`` per conversation, rendered with ``env``'s tools by TRL's
    training form of the tokenizer's template (the same tokens, with generation markers), for
    ``SFTTrainer`` (which turns the mask into labels)."""
    from trl.chat_template_utils import get_training_chat_template

    template = get_training_chat_template(tokenizer)
    tools = environment_tools(env)
    rows = []
    for example in examples:
        enc = tokenizer.apply_chat_template(example.messages, tools=tools, chat_template=template, tokenize=True,
                                            return_dict=True, return_assistant_tokens_mask=True)
        rows.append({"input_ids": list(enc["input_ids"]), "assistant_masks": list(enc["assistant_masks"])})
    return rows


@dataclass
class CallShare:
    """First turns sampled on some tasks: how many held a well-formed tool call, and what they called."""

    tasks: list[str]
    samples: int = 0
    well_formed: int = 0
    any_call: int = 0
    calls: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def share(self) -> float:
        return self.well_formed / self.samples if self.samples else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "share": self.share}


def tool_call_share(model: Any, tokenizer: Any, env_cls: type, tasks: Iterable[str], samples: int = 4,
                    max_new_tokens: int = 256, seed: int = 0) -> CallShare:
    """Sample ``samples`` first assistant turns per task (temperature 1, as GRPO samples) from the
    prompt ``GRPOTrainer`` renders (``tool_row``, ``reset``'s prompt, the tools), parse each with
    TRL's parser and count those whose every tool call is well formed (``call_problem``)."""
    import torch
    from trl.chat_template_utils import add_response_schema, parse_response

    parser = add_response_schema(copy.deepcopy(tokenizer))
    env = env_cls()
    tasks = list(tasks)
    result = CallShare(tasks)
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    was_training = model.training
    model.eval()
    try:
        for task in tasks:
            row = tool_row(task, seed)
            prompt = [dict(m) for m in row["prompt"]]
            prompt[-1]["content"] += env.reset(**row)
            tools = environment_tools(env)
            ids = tokenizer.apply_chat_template(prompt, tools=tools, add_generation_prompt=True, tokenize=True,
                                                return_dict=True, return_tensors="pt")
            torch.manual_seed(seed)
            with torch.no_grad():
                out = model.generate(**ids.to(model.device), do_sample=True, temperature=1.0, top_p=1.0, top_k=0,
                                     max_new_tokens=max_new_tokens, num_return_sequences=samples, eos_token_id=end,
                                     pad_token_id=end)
            prefix = ids["input_ids"][0].tolist()
            for seq in out:
                new = [t for t in seq[len(prefix):].tolist()]
                while new and new[-1] == end and len(new) > 1 and new[-2] == end:
                    new.pop()  # padding after the first end-of-turn
                parsed = parse_response(parser, new, prefix=prefix, tools=tools)
                calls = parsed.get("tool_calls") or []
                result.samples += 1
                result.any_call += bool(calls)
                problems = [p for p in (call_problem(c, env) for c in calls) if p]
                for call in calls:
                    name = str((call.get("function") or {}).get("name"))
                    result.calls[name] = result.calls.get(name, 0) + 1
                if calls and not problems:
                    result.well_formed += 1
                result.problems += problems[:1]
    finally:
        stop(env)
        model.train(was_training)
    return result


def group_stats(trainer: Any) -> dict[str, Any]:
    """Per logged GRPO update (``logging_steps=1``): the share of groups with unequal rewards
    (``1 - frac_reward_zero_std``), the mean reward and TRL's tool-call frequency; and their means."""
    steps = [e for e in trainer.state.log_history if "frac_reward_zero_std" in e]
    rows = [{"unequal_groups": 1.0 - e["frac_reward_zero_std"], "reward": e.get("reward"),
             "reward_std": e.get("reward_std"), "tool_calls_per_rollout": e.get("tools/call_frequency"),
             "tool_failure_frequency": e.get("tools/failure_frequency"),
             "completion_length": e.get("completions/mean_length")} for e in steps]
    mean = (lambda k: sum(r[k] for r in rows if r[k] is not None) / max(1, sum(r[k] is not None for r in rows)))
    return {"updates": rows, "unequal_groups": mean("unequal_groups") if rows else None,
            "reward": mean("reward") if rows else None}
