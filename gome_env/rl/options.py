"""Multiple-choice edits: prompts that offer a few lettered options, each a fixed diff.

A small model rarely writes a working diff, so a policy-gradient signal on free-form edits is
mostly noise at 135M parameters. Lettered options keep the environment in the loop (each option
is a real diff stepped through the sandbox and graded on dev; the reward is the environment's)
while the model only has to pick a letter, so a few GRPO updates can move its choice measurably.
Rows carry their options as a JSON ``options`` column (letter -> diff), which ``GomeReward``
reads; ``pick_option`` maps a completion to its diff.
"""

from __future__ import annotations

import json
import re
from typing import Any, Sequence

__all__ = ["LETTERS", "Option", "options_prompt", "pick_option", "make_options_dataset", "ladder_options"]

LETTERS = "ABCDEFGH"
_LETTER_RE = re.compile(r"\b([A-H])\b")

Option = tuple[str, str]
"""``(description, diff)``."""


def options_prompt(task_title: str, options: Sequence[Option], system: str | None = None) -> list[dict]:
    """A chat prompt listing each option's description under its letter; the answer is one letter."""
    lines = [f"Task: {task_title}. Which change to solution.py should we run next?"]
    lines += [f"{LETTERS[i]}) {description}" for i, (description, _) in enumerate(options)]
    lines.append("Answer with the letter only.")
    messages = [{"role": "user", "content": "\n".join(lines)}]
    return ([{"role": "system", "content": system}] if system else []) + messages


def pick_option(text: str, options: Any) -> str | None:
    """The diff of the first option letter in ``text`` (``options``: a mapping letter -> diff or
    its JSON), or None when the text names no offered letter."""
    if isinstance(options, str):
        options = json.loads(options)
    for match in _LETTER_RE.finditer(text or ""):
        if match.group(1) in options:
            return options[match.group(1)]
    return None


def make_options_dataset(task: Any, options: Sequence[Option], rows: int = 8, node_id: int = 0, seed: int = 0,
                         system: str | None = None):
    """A ``datasets.Dataset`` of ``rows`` identical multiple-choice prompts with ``prompt``,
    ``task``, ``seed``, ``node_id`` and ``options`` (JSON letter -> diff) columns."""
    from datasets import Dataset

    from gome_env.pool import resolve_task

    spec = resolve_task(task)
    if not 2 <= len(options) <= len(LETTERS):
        raise ValueError(f"offer between 2 and {len(LETTERS)} options, got {len(options)}")
    prompt = options_prompt(spec.title, options, system)
    table = json.dumps({LETTERS[i]: diff for i, (_, diff) in enumerate(options)})
    task_name = task if isinstance(task, str) else spec.id
    return Dataset.from_list([{"prompt": prompt, "task": task_name, "seed": seed, "node_id": node_id, "options": table}
                              for _ in range(rows)])


def ladder_options(files: dict[str, str], improved: str, improvement: str = "Use a stronger model") -> list[Option]:
    """Five options, one per rung of the ladder reward, in a fixed order: A a patch that does not
    apply, B a syntax error, C the improvement (``improved``: the new solution.py), D a runtime
    error, E a run that writes no submission. Only C earns a positive ladder reward."""
    from gome_env.patching.diffs import make_diff

    source = files["solution.py"]

    def edit(new: str) -> str:
        return make_diff(files, {**files, "solution.py": new})

    stale = "--- a/solution.py\n+++ b/solution.py\n@@ -1,1 +1,1 @@\n-import this_line_is_not_there\n+import os\n"
    return [
        ("Rename a variable that the file does not have", stale),
        ("Add a helper function (it has a typo)", edit(source + "\ndef helper(:\n    pass\n")),
        (improvement, edit(improved)),
        ("Check the data at the end with a call to a missing function", edit(source + "\ncheck_data()\n")),
        ("Clean up the output folder at the end", edit(source + "\nimport shutil\nshutil.rmtree('submission')\n")),
    ]
