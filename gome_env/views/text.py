"""Text clipped to a budget at line boundaries, files shown as fenced code blocks, a score as a
line, and the system message every prompt about the task opens with."""

from __future__ import annotations

__all__ = ["clip", "code_block", "score_line", "SYSTEM"]

SYSTEM = (
    "You are an expert machine-learning engineer. You improve a Python program, solution.py, that "
    "trains a model and writes predictions. Be concise and write correct, runnable code."
)
"""The system message of the policies' prompts and the RL prompts."""


def _marker(lines: int) -> str:
    return f"[... {lines} line{'s' if lines != 1 else ''} cut ...]"


def clip(text: str, limit: int) -> str:
    """``text`` in at most about ``limit`` characters, keeping whole lines from its start and its
    end and putting ``[... N lines cut ...]`` where lines were left out. A single line longer than
    the whole limit is the only thing ever shortened inside a line (marked ``[... line cut ...]``)."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    lines = text.split("\n")
    budget = max(0, limit - 40)
    used, i, j = 0, 0, len(lines) - 1
    head: list[str] = []
    tail: list[str] = []
    while i <= j and used + len(lines[i]) + 1 <= budget * 2 // 3:  # two thirds for the start
        head.append(lines[i])
        used, i = used + len(lines[i]) + 1, i + 1
    while j >= i and used + len(lines[j]) + 1 <= budget:  # the rest for the end
        tail.insert(0, lines[j])
        used, j = used + len(lines[j]) + 1, j - 1
    while i <= j and used + len(lines[i]) + 1 <= budget:  # what the end left over
        head.append(lines[i])
        used, i = used + len(lines[i]) + 1, i + 1
    if not head and not tail:  # not one whole line fits: shorten the first line, marked
        head, i = [lines[0][: max(0, budget - 20)] + " [... line cut ...]"], 1
    cut = j - i + 1
    return "\n".join(head + ([_marker(cut)] if cut > 0 else []) + tail)


def code_block(files: dict[str, str], limit: int) -> str:
    """The editable files in fenced blocks (solution.py first), each clipped at line boundaries."""
    order = sorted(files, key=lambda p: (p != "solution.py", p))
    share = max(200, limit // max(1, len(order)))
    return "\n".join(f"{path}:\n```python\n{clip(files[path], limit if len(order) == 1 else share)}\n```" for path in order)


def score_line(metric: str, score: float | None) -> str:
    """``"<metric> <score>"`` (``n/a`` for a node without a dev score)."""
    return f"{metric} {score if score is not None else 'n/a'}"
