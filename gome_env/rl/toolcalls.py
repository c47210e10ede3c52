"""Tool-call conversations as ``GRPOTrainer(environment_factory=GomeEnvironment)`` has them.

- ``tool_row(task, seed, node_id)``: a dataset row for ``environment_factory``: a ``prompt`` of
  the system turn and an empty user turn (TRL appends ``reset``'s prompt to it), ``task``,
  ``seed``, ``node_id``;
- ``environment_tools(env)``: the tools TRL exposes for an environment instance, in TRL's order;
  ``tool_schemas(env)``: their JSON schemas (what the chat template lists);
- ``play(env, row, calls)``: resets ``env`` with ``row`` as TRL does and makes the scripted
  ``calls``, recording the real replies: the conversation (system, user, then assistant
  tool-call and tool turns) the trainer would have built had the model made those calls;
- ``solution_diffs(spec, files)``: diffs from node 0 to the task's own solution files
  (``default_solution.py``, ``reference_gold.py``): the edits a warm-up teaches;
- ``call_problem(call, env)``: why a parsed tool call is not well formed (None when it is);
- ``trajectory_messages(env, task, steps, ...)``: a recorded trajectory (a benchmark run's steps)
  as the conversation ``GomeEnvironment`` would have had: the real reset prompt, then per step a
  ``checkout`` when it branches from another node and an ``apply_patch`` of its diff, each with
  the reply the environment gives (rebuilt from the recorded status, dev score and diagnostics,
  nothing re-run), then ``submit`` of the run's chosen node.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Iterable, Sequence

from gome_env.rl.chat import SYSTEM_MESSAGE, system_turn, tool_call

__all__ = ["tool_row", "environment_tools", "tool_schemas", "play", "solution_diffs", "warmup_calls", "call_problem",
           "trajectory_messages", "SOLUTION_FILES"]

SOLUTION_FILES = ("default_solution.py", "reference_gold.py")
"""A task folder's solution files a warm-up diff may come from (node 0 is ``baseline.py``)."""

Call = tuple[str, dict]
"""``(tool name, arguments)``."""


def tool_row(task: str, seed: int = 0, node_id: int = 0, system: str = SYSTEM_MESSAGE) -> dict[str, Any]:
    """A dataset row for ``environment_factory``: TRL appends ``reset(**row)``'s prompt to the empty
    user turn, so the conversation holds the task once."""
    return {"prompt": [system_turn(system), {"role": "user", "content": ""}], "task": task, "seed": int(seed),
            "node_id": int(node_id)}


def environment_tools(env: Any) -> list[Callable]:
    """The bound tool methods TRL exposes for ``env``: public functions of its class other than
    ``reset`` and ``get_reward``, sorted by name (``inspect.getmembers``' order, as TRL lists them)."""
    return [getattr(env, name) for name, _ in inspect.getmembers(type(env), predicate=inspect.isfunction)
            if name not in ("reset", "get_reward") and not name.startswith("_")]


def tool_schemas(env: Any) -> list[dict]:
    """The JSON schemas of ``env``'s tools, as the chat template renders them."""
    from transformers.utils import get_json_schema

    return [get_json_schema(tool) for tool in environment_tools(env)]


def play(env: Any, row: dict, calls: Iterable[Call]) -> list[dict]:
    """Reset ``env`` with ``row`` and make ``calls`` in order; the conversation with the real replies.

    As in TRL: the reset prompt is appended to the row's last message, a tool's exception becomes
    the reply ``{'error': ...}``, and every reply is ``str()`` of what the tool returned."""
    prompt = [dict(m) for m in row["prompt"]]
    observation = env.reset(**row)
    if observation is not None:
        prompt[-1]["content"] = prompt[-1]["content"] + observation
    messages = list(prompt)
    tools = {tool.__name__: tool for tool in environment_tools(env)}
    for name, arguments in calls:
        messages.append(tool_call(name, **arguments))
        try:
            if name not in tools:
                raise ValueError(f"Tool {name} not found.")
            result: Any = tools[name](**arguments)
        except Exception as exc:  # noqa: BLE001 - TRL turns any tool exception into an error reply
            result = {"error": str(exc)}
        messages.append({"role": "tool", "name": name, "content": str(result)})
    return messages


def warmup_calls(diff: str) -> list[Call]:
    """The warm-up's episode: read solution.py, apply ``diff``, submit the best node."""
    return [("read_file", {"path": "solution.py"}), ("apply_patch", {"diff": diff}), ("submit", {})]


def solution_diffs(spec: Any, files: dict[str, str], names: Sequence[str] = SOLUTION_FILES,
                   max_chars: int | None = None) -> list[tuple[str, str]]:
    """``(file name, diff)`` from ``files`` (node 0's) to each of the task's solution files that
    exists and differs, skipping diffs longer than ``max_chars``."""
    from gome_env.patching.diffs import make_diff

    out = []
    for name in names:
        path = spec.folder / name
        if not path.is_file():
            continue
        new = path.read_text()
        if new == files.get("solution.py"):
            continue
        diff = make_diff(files, {**files, "solution.py": new})
        if max_chars is None or len(diff) <= max_chars:
            out.append((name, diff))
    return out


def call_problem(call: Any, env: Any) -> str | None:
    """Why ``call`` (one entry of a parsed message's ``tool_calls``) is not a well-formed call of one
    of ``env``'s tools: an unknown tool, arguments that are not an object, a missing required or an
    unknown argument, or an argument of the wrong JSON type. None when it is well formed."""
    function = call.get("function", call) if isinstance(call, dict) else None
    if not isinstance(function, dict):
        return "not a function call"
    schemas = {s["function"]["name"]: s["function"]["parameters"] for s in tool_schemas(env)}
    name, arguments = function.get("name"), function.get("arguments")
    if name not in schemas:
        return f"unknown tool {name!r}"
    if not isinstance(arguments, dict):
        return "arguments are not an object"
    properties = schemas[name].get("properties", {})
    missing = [a for a in schemas[name].get("required", []) if a not in arguments]
    unknown = [a for a in arguments if a not in properties]
    if missing or unknown:
        return f"{name}: missing {missing}, unknown {unknown}"
    types = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "object": dict, "array": list}
    for key, value in arguments.items():
        kind = properties[key].get("type")
        kinds = kind if isinstance(kind, list) else [kind]
        if value is None and "null" in kinds:
            continue
        wanted = tuple(types[k] for k in kinds if k in types)
        if wanted and (not isinstance(value, wanted) or (isinstance(value, bool) and bool not in wanted)):
            return f"{name}: {key} is {type(value).__name__}, not {kind}"
    return None


def trajectory_messages(env: Any, task: str, steps: Sequence[dict], seed: int = 0, baseline_dev_score: float | None = None,
                        submitted: int | None = None, detail: str = "standard") -> list[dict]:
    """``steps`` (records with ``node_id``, ``parent_id``, ``diff``, ``status``, ``dev_score``,
    ``diagnostics``, in the order they ran) as ``env``'s conversation: ``env`` is reset on
    ``task`` for the prompt (node 0 is the cached baseline: nothing runs) and its budgets clip the
    replies; ``patches left`` counts down from ``len(steps)``. ``submitted``: the node the run
    chose (default: the last step's node)."""
    from gome_env.diagnostics import render_feedback
    from gome_env.rl.budget import clip_tokens
    from gome_env.rl.replies import node_reply, patch_reply, submit_reply

    row = tool_row(task, seed)
    messages = [dict(m) for m in row["prompt"]]
    messages[-1]["content"] += env.reset(**row)
    nodes: dict[int, tuple[str, float | None]] = {0: ("ok", baseline_dev_score)}
    current = 0
    for i, step in enumerate(steps, 1):
        parent = int(step.get("parent_id") or 0)
        if parent != current and parent in nodes:
            messages += [tool_call("checkout", node_id=parent),
                         {"role": "tool", "name": "checkout", "content": node_reply(parent, *nodes[parent])}]
        node = int(step["node_id"])
        nodes[node] = (step["status"], step.get("dev_score"))
        feedback = render_feedback(step.get("diagnostics") or {"status": step["status"]}, detail)
        reply = clip_tokens(patch_reply(node, step["status"], step.get("dev_score"), len(steps) - i, feedback), env.reply_tokens)
        messages += [tool_call("apply_patch", diff=step["diff"]), {"role": "tool", "name": "apply_patch", "content": reply}]
        current = node
    chosen = submitted if submitted in nodes else current
    messages += [tool_call("submit", node_id=chosen),
                 {"role": "tool", "name": "submit", "content": submit_reply(chosen, *nodes[chosen])}]
    return messages
