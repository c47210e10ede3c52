"""From model text to the unified diff the environment takes (the parser the policies and the RL
reward share; ``policies.edits`` re-exports it).

Models are asked for edits in a form they write reliably and the answer is turned into a clean
diff with ``gome_env.patching.diffs.make_diff`` against the node's files:

- ``whole``: the complete new ``solution.py`` in a code block (the form AIDE uses; best for
  small models). An unfenced answer that parses as a Python program is accepted too.
- ``search_replace``: one or more blocks ``<<<<<<< SEARCH`` / ``=======`` / ``>>>>>>> REPLACE``
  (optionally after a line naming the file); the search text must occur in the file (exactly,
  or line by line ignoring indentation and trailing blanks).
- ``diff``: a unified diff, applied locally with ``gome_env.patching.diffs.apply_diff`` (so a diff that
  does not apply is caught before it costs an environment step) and re-emitted cleanly.
- ``auto``: whichever of the three the answer looks like.

An answer is unusable (an :class:`EditError`, a parse failure) when it holds no edit, when its
edit changes nothing, when a code fence is left open, or when the model stopped because it hit
``max_tokens`` (``finish_reason == "length"``): a truncated program never runs.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from gome_env.constants import SOLUTION
from gome_env.patching.diffs import apply_diff, make_diff

__all__ = ["FORMS", "Edit", "EditError", "parse_edit", "detect_form", "extract_code", "FORMAT_INSTRUCTIONS",
           "truncation_error", "unclosed_fence"]

FORMS = ("whole", "search_replace", "diff", "auto")

_FENCE_RE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)```", re.S)
_FENCE_LINE_RE = re.compile(r"^[ \t]*```", re.M)
_SR_RE = re.compile(r"<{5,9}[ \t]*SEARCH[ \t]*\n(.*?)\n?={5,9}[ \t]*\n(.*?)\n?>{5,9}[ \t]*REPLACE", re.S)
_DIFF_RE = re.compile(r"^(?:--- \S|\+\+\+ \S|@@ -\d)", re.M)
_FILE_RE = re.compile(r"([\w./-]+\.py)\b")

FORMAT_INSTRUCTIONS = {
    "whole": "Reply with a one-paragraph plan, then the complete new solution.py in a single ```python code block.",
    "search_replace": (
        "Reply with a one-paragraph plan, then one or more edit blocks, each exactly:\n"
        "<<<<<<< SEARCH\n(lines copied exactly from solution.py)\n=======\n(the new lines)\n>>>>>>> REPLACE"
    ),
    "diff": "Reply with a one-paragraph plan, then a unified diff of solution.py (--- a/solution.py, +++ b/solution.py, @@ hunks) in a ```diff block.",
}
FORMAT_INSTRUCTIONS["auto"] = FORMAT_INSTRUCTIONS["whole"]


class EditError(ValueError):
    """The answer holds no usable edit; the message is sent back to the model."""


@dataclass
class Edit:
    """A usable edit: the new files, the diff from the old ones, the form found and the plan (the
    prose before the edit)."""

    files: dict[str, str]
    diff: str
    form: str
    plan: str = ""


def unclosed_fence(text: str) -> bool:
    """Whether a code fence (a line starting with three backticks) is left open."""
    return len(_FENCE_LINE_RE.findall(text)) % 2 == 1


def truncation_error(answer: str, finish_reason: str | None, max_tokens: int | None = None) -> str | None:
    """Why ``answer`` is cut short (it stopped at ``max_tokens``, or a code fence is left open),
    or None when it is whole. The message is sent back to the model."""
    if finish_reason == "length":
        limit = f" ({max_tokens} tokens)" if max_tokens else ""
        return (f"the answer was cut off at the length limit{limit}, so its code is incomplete: "
                "keep the plan to one short paragraph and write the complete, shorter program")
    if unclosed_fence(answer):
        return "a code block was opened with ``` but never closed: write the complete code and close the block with ```"
    return None


def extract_code(text: str) -> str | None:
    """The program in an answer: the longest closed, fenced code block that is not a diff, or the
    whole answer when it has no fence, parses as Python and looks like a program. An answer with
    an unclosed fence (cut off) holds no program."""
    if unclosed_fence(text):
        return None
    blocks = [body for lang, body in _FENCE_RE.findall(text) if lang.lower() not in ("diff", "patch", "json") and body.strip()]
    if blocks:
        return max(blocks, key=len).strip("\n") + "\n"
    stripped = text.strip()
    if stripped and re.search(r"^(import |from |def |class )", stripped, re.M):
        try:
            ast.parse(stripped)
        except SyntaxError:
            return None
        return stripped + "\n"
    return None


def _plan(text: str) -> str:
    cut = min([i for i in (text.find("```"), text.find("<<<<<<<"), text.find("--- ")) if i >= 0] or [len(text)])
    return text[:cut].strip()[:1000]


def _whole(text: str, files: dict[str, str], target: str) -> dict[str, str]:
    code = extract_code(text)
    if code is None:
        raise EditError(f"no code block found: {FORMAT_INSTRUCTIONS['whole']}")
    return {**files, target: code}


def _find_lines(haystack: str, needle: str) -> tuple[int, int] | None:
    """Character span of ``needle`` in ``haystack`` comparing whole lines without indentation
    and trailing blanks."""
    hay = haystack.splitlines(keepends=True)
    need = [ln.strip() for ln in needle.strip("\n").splitlines()]
    if not need:
        return None
    norm = [ln.strip() for ln in hay]
    for i in range(len(hay) - len(need) + 1):
        if norm[i : i + len(need)] == need:
            start = sum(len(ln) for ln in hay[:i])
            return start, start + sum(len(ln) for ln in hay[i : i + len(need)])
    return None


def _search_replace(text: str, files: dict[str, str], target: str) -> dict[str, str]:
    new = dict(files)
    blocks = list(_SR_RE.finditer(text))
    if not blocks:
        raise EditError(f"no SEARCH/REPLACE block found. {FORMAT_INSTRUCTIONS['search_replace']}")
    for i, match in enumerate(blocks, 1):
        search, replace = match.group(1), match.group(2)
        before = text[: match.start()].rstrip().splitlines()[-1:] or [""]
        named = _FILE_RE.search(before[0])
        path = named.group(1) if named and (named.group(1) in files or not search.strip()) else target
        if not search.strip():
            if path in new and new[path].strip():
                raise EditError(f"block {i}: the SEARCH part is empty but {path} exists; copy the lines to replace")
            new[path] = replace.rstrip("\n") + "\n"
            continue
        if path not in new:
            raise EditError(f"block {i}: {path} does not exist; editable files: {', '.join(sorted(new))}")
        source = new[path]
        if search in source:
            new[path] = source.replace(search, replace, 1)
            continue
        span = _find_lines(source, search)
        if span is None:
            first = search.strip().splitlines()[0][:120]
            raise EditError(f"block {i}: the SEARCH lines were not found in {path} (first line: {first!r}); copy them exactly")
        tail = "\n" if source[span[0] : span[1]].endswith("\n") else ""
        new[path] = source[: span[0]] + replace.rstrip("\n") + tail + source[span[1] :]
    return new


def _diff(text: str, files: dict[str, str]) -> dict[str, str]:
    new, result = apply_diff(files, text)
    if not result.applied:
        raise EditError(f"the diff does not apply: {result.error}")
    return new


def detect_form(text: str) -> str:
    if _SR_RE.search(text):
        return "search_replace"
    if len(_DIFF_RE.findall(text)) >= 2 and "@@" in text:
        return "diff"
    return "whole"


def parse_edit(text: str, files: dict[str, str], form: str = "auto", target: str = SOLUTION) -> Edit:
    """Turn a model answer into an :class:`Edit` of ``files``; raise EditError saying what is
    wrong. An answer that changes nothing is an error too (it would waste a step)."""
    if form not in FORMS:
        raise ValueError(f"unknown edit form {form!r}; valid forms: {', '.join(FORMS)}")
    if not text or not text.strip():
        raise EditError("the answer is empty")
    if unclosed_fence(text):
        raise EditError(truncation_error(text, None) or "unclosed code block")
    found = detect_form(text) if form == "auto" else form
    if found == "whole":
        new = _whole(text, files, target)
    elif found == "search_replace":
        new = _search_replace(text, files, target)
    else:
        new = _diff(text, files)
    if new == files:
        raise EditError("the edit changes nothing: change the code")
    return Edit(new, make_diff(files, new), found, _plan(text))
