"""Prompt pieces shared by the policies: compact, cut to size, one function per prompt.

Every builder returns a conversation (a list of ``{"role", "content"}`` messages). Sections are
cut to the ``max_*_chars`` of the policy config so that prompts fit small models' contexts.
"""

from __future__ import annotations

from gome_env.diagnostics import head_tail, render_feedback

from policies.edits import FORMAT_INSTRUCTIONS, EditRequest

__all__ = [
    "SYSTEM", "clip", "code_block", "execution_output", "feedback", "draft_prompt", "improve_prompt",
    "debug_prompt", "crossover_prompt", "merge_prompt",
]

SYSTEM = (
    "You are an expert machine-learning engineer. You improve a Python program, solution.py, that "
    "trains a model and writes predictions. Be concise and write correct, runnable code."
)


def clip(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters, keeping its start and end."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    half = max(1, (limit - 40) // 2)
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters cut ...]\n{text[-half:]}"


def code_block(files: dict[str, str], limit: int) -> str:
    """The editable files in fenced blocks (solution.py first)."""
    order = sorted(files, key=lambda p: (p != "solution.py", p))
    parts = [f"{path}:\n```python\n{clip(files[path], limit)}\n```" for path in order]
    return clip("\n".join(parts), limit + 200 * len(parts))


def feedback(diagnostics: dict, detail: str, limit: int) -> str:
    """The environment's diagnostics as markdown at the chosen richness (full/standard/minimal)."""
    return clip(render_feedback(diagnostics, detail), limit)


def execution_output(diagnostics: dict, each_end: int) -> str:
    """The run's output, cut to the first and last ``each_end`` characters (AIDE shows 2,500)."""
    ex = diagnostics.get("execution") or {}
    out = (ex.get("stdout_head") or "") + (ex.get("stdout_tail") or "")
    err = (ex.get("stderr_head") or "") + (ex.get("stderr_tail") or "")
    text = "\n".join(t for t in (out.strip(), err.strip()) if t)
    if not text:
        text = diagnostics.get("reason") or "(no output)"
    return head_tail(text, each_end)


def _task(task_text: str, cfg) -> str:
    return "# Task\n" + clip(task_text, cfg.max_task_chars)


def _memory(memory: str) -> str:
    return f"\n\n# Memory of earlier attempts\n{memory}" if memory.strip() else ""


def draft_prompt(task_text: str, memory: str, cfg) -> list[dict]:
    """AIDE's draft: a new whole solution from the task text (and the memory of good nodes)."""
    user = (
        f"{_task(task_text, cfg)}{_memory(memory)}\n\n# Instructions\nWrite a new, complete solution for this task. "
        "Propose a simple, sound approach that differs from the earlier ones.\n" + FORMAT_INSTRUCTIONS["whole"]
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def improve_prompt(task_text: str, files: dict[str, str], memory: str, cfg, score_line: str = "") -> list[dict]:
    """AIDE's improve: one atomic improvement of a good node's code."""
    user = (
        f"{_task(task_text, cfg)}{_memory(memory)}\n\n# Current solution{(' (' + score_line + ')') if score_line else ''}\n"
        f"{code_block(files, cfg.max_code_chars)}\n\n# Instructions\nPropose one specific improvement that should raise "
        f"the dev score, and implement it.\n{FORMAT_INSTRUCTIONS[cfg.edit_form]}"
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def debug_prompt(task_text: str, files: dict[str, str], diagnostics: dict, cfg, detail: str = "full") -> list[dict]:
    """AIDE's debug: fix a buggy node given its code and execution output (the output is left out
    at ``detail="minimal"``, the leanest diagnostics setting)."""
    output = "" if detail == "minimal" else f"# Execution output\n```\n{execution_output(diagnostics, cfg.max_output_chars)}\n```\n\n"
    user = (
        f"{_task(task_text, cfg)}\n\n# Buggy solution\n{code_block(files, cfg.max_code_chars)}\n\n"
        f"# What happened\n{feedback(diagnostics, detail, cfg.max_feedback_chars)}\n\n{output}"
        f"# Instructions\nFind the bug and fix it.\n{FORMAT_INSTRUCTIONS[cfg.edit_form]}"
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def crossover_prompt(task_text: str, a: dict[str, str], b: dict[str, str], cfg, scores: tuple = ("", "")) -> list[dict]:
    """Evolutionary crossover: combine the best ideas of two parents into one program."""
    half = max(200, cfg.max_code_chars // 2)
    user = (
        f"{_task(task_text, cfg)}\n\n# Parent A {scores[0]}\n{code_block(a, half)}\n\n# Parent B {scores[1]}\n"
        f"{code_block(b, half)}\n\n# Instructions\nWrite one new solution that combines the strengths of both parents.\n"
        + FORMAT_INSTRUCTIONS["whole"]
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


merge_prompt = crossover_prompt
"""GOME's final merge of the two best traces uses the crossover prompt."""


def debug_request(episode, node_id: int, cfg) -> EditRequest:
    """The request to fix node ``node_id``: its files, its diagnostics and the debug prompt."""
    node = episode.tree[node_id]
    files = episode.files(node_id)
    return EditRequest(debug_prompt(episode.task_text, files, node.diagnostics, cfg, cfg.diagnostics), files, cfg.edit_form, "debug")
