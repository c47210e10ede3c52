"""Apply a model's unified diff to a set of files, tolerantly and all-or-nothing.

``apply_diff(files, diff)`` never raises on bad input: it returns the new files (or the old ones,
unchanged) and a :class:`PatchResult` saying what happened. The steps, in order (1-3 in
``gome_env.patching.diffparse``):

1. **clean**: decode, CRLF -> LF, take the diff out of markdown fences, drop prose before the
   first file header, end with exactly one newline;
2. **parse** into file patches and hunks, trusting the hunk bodies over their line counts
   (models miscount);
3. **check** every path (no absolute paths, no ``..``, nothing protected, no symlinks, no binary
   patches, size limits);
4. **apply** with a fallback chain, the first strategy under which every hunk lands wins:
   ``exact`` (context at the stated line), ``shifted`` (the same context elsewhere, nearest first),
   ``whitespace`` (lines compared without indentation and trailing blanks), ``fuzzy`` (up to two
   context lines dropped from each end of a hunk). If a hunk lands under none, nothing changes.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Callable

from gome_env.patching.diffparse import (
    MAX_DIFF_BYTES,
    DiffError,
    FilePatch,
    Hunk,
    check_path,
    clean_diff,
    parse_diff,
)
from gome_env.records import MappingRecord, deprecated_as_dict

__all__ = ["DiffError", "FilePatch", "Hunk", "PatchResult", "RejectedHunk", "apply_diff", "check_path", "clean_diff", "parse_diff",
           "make_diff", "MAX_DIFF_BYTES"]

STRATEGIES = ("exact", "shifted", "whitespace", "fuzzy")
MAX_FILE_BYTES = 2_000_000
DEFAULT_PROTECTED = ("data/", "submission/")


@dataclass(eq=False)
class RejectedHunk(MappingRecord):
    """A hunk no strategy could place: where it was meant to go and what it expected to find."""

    file: str
    hunk: int  # its index among the file's hunks
    header: str
    expected: str  # the first lines of context and removals it looked for


@dataclass
class PatchResult:
    """What applying a diff did; ``to_dict()`` is the ``patch`` entry of the diagnostics."""

    applied: bool
    strategy: str | None = None
    files: list[str] = field(default_factory=list)
    rejected_hunks: list[RejectedHunk] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    as_dict = deprecated_as_dict


# --------------------------------------------------------------------------- applying


def _matchers() -> dict[str, Callable[[str], str]]:
    return {
        "exact": lambda s: s,
        "shifted": lambda s: s,
        "whitespace": lambda s: " ".join(s.split()),
        "fuzzy": lambda s: " ".join(s.split()),
    }


def _find(haystack: list[str], needle: list[str], norm: Callable[[str], str], expected: int, start: int, anywhere: bool) -> int | None:
    if not needle:
        return min(max(expected, start), len(haystack))
    target = [norm(s) for s in needle]
    candidates = [expected] if not anywhere else sorted(range(start, len(haystack) - len(needle) + 1), key=lambda p: (abs(p - expected), p))
    for pos in candidates:
        if pos < start or pos + len(needle) > len(haystack):
            continue
        if all(norm(haystack[pos + k]) == target[k] for k in range(len(needle))):
            return pos
    return None


def _apply_hunks(text: str, hunks: list[Hunk], strategy: str) -> tuple[str | None, list[int]]:
    """Apply all hunks to one file's text under a strategy; returns (new text or None, failed hunk indices)."""
    norm = _matchers()[strategy]
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out: list[str] = []
    cursor, offset, failed = 0, 0, []
    for index, hunk in enumerate(hunks):
        old, new = hunk.old_lines, hunk.new_lines
        expected = (hunk.old_start - 1 + offset) if hunk.old_start else cursor
        expected = max(expected, 0) if old else max(hunk.old_start or 0, 0) + offset
        pos = _find(lines, old, norm, expected, cursor, anywhere=strategy != "exact" or hunk.old_start is None)
        if pos is None and strategy == "fuzzy":
            pos, old, new = _fuzzy(lines, hunk, norm, expected, cursor)
        if pos is None:
            failed.append(index)
            continue
        if strategy in ("whitespace", "fuzzy"):
            new = _reindent(lines[pos : pos + len(old)], old, new)
        out.extend(lines[cursor:pos])
        out.extend(new)
        cursor = pos + len(old)
        offset += len(new) - len(old)
    if failed:
        return None, failed
    out.extend(lines[cursor:])
    return ("\n".join(out) + "\n") if out else "", []


def _fuzzy(lines, hunk, norm, expected, cursor):
    """Drop up to two context lines at each end of the hunk and search again (patch --fuzz=2)."""
    body = hunk.lines
    for fuzz in (1, 2):
        lead = 0
        while lead < fuzz and lead < len(body) and body[lead][0] == " ":
            lead += 1
        trail = 0
        while trail < fuzz and trail < len(body) - lead and body[-1 - trail][0] == " ":
            trail += 1
        if lead == 0 and trail == 0:
            break
        trimmed = Hunk(hunk.old_start, body[lead : len(body) - trail])
        old = trimmed.old_lines
        if not old:
            continue
        pos = _find(lines, old, norm, expected + lead, cursor, anywhere=True)
        if pos is not None:
            return pos, old, trimmed.new_lines
    return None, hunk.old_lines, hunk.new_lines


def _reindent(actual: list[str], old: list[str], new: list[str]) -> list[str]:
    """Under whitespace-tolerant matching: keep the file's own text for context lines and shift
    added lines by the indentation difference between the hunk and the file."""
    mapped = {o: a for o, a in zip(old, actual)}
    delta = 0
    for o, a in zip(old, actual):
        shift_here = (len(a) - len(a.lstrip())) - (len(o) - len(o.lstrip()))
        if o.strip() and shift_here:
            delta = shift_here
            break

    def shift(line: str) -> str:
        if delta > 0:
            return " " * delta + line
        cut = min(-delta, len(line) - len(line.lstrip(" ")))
        return line[cut:]

    return [mapped[line] if line in mapped else shift(line) if line.strip() else line for line in new]


def apply_diff(
    files: dict[str, str],
    diff: str | bytes,
    protected: tuple[str, ...] = DEFAULT_PROTECTED,
) -> tuple[dict[str, str], PatchResult]:
    """Apply ``diff`` to ``files`` (path -> text). On any failure the input files come back unchanged."""
    notes: list[str] = []
    try:
        if not (diff.strip() if isinstance(diff, (str, bytes)) else None):
            raise DiffError("the action is empty: send a unified diff, or 'submit'")
        text, notes = clean_diff(diff)
        patches = parse_diff(text)
        for patch in patches:
            if patch.old_path is not None:
                patch.old_path = check_path(patch.old_path, protected)
            if patch.new_path is not None:
                patch.new_path = check_path(patch.new_path, protected)
    except DiffError as exc:
        return files, PatchResult(False, error=str(exc), notes=notes)

    for strategy in STRATEGIES:
        new_files, rejected, error = _apply_all(files, patches, strategy)
        if error:
            return files, PatchResult(False, error=error, notes=notes)
        if not rejected:
            touched = sorted({p.path for p in patches})
            return new_files, PatchResult(True, strategy, touched, [], None, notes)
    return files, PatchResult(
        False,
        files=sorted({p.path for p in patches}),
        rejected_hunks=rejected,
        error=f"{len(rejected)} hunk(s) did not match the current files under any strategy ({', '.join(STRATEGIES)})",
        notes=notes,
    )


def _apply_all(files: dict[str, str], patches: list[FilePatch], strategy: str):
    new_files = dict(files)
    rejected: list[RejectedHunk] = []
    for patch in patches:
        if patch.old_path is None:  # new file
            if patch.new_path in new_files and new_files[patch.new_path].strip():
                return files, [], f"{patch.new_path} already exists; patch it instead of creating it"
            content = "\n".join(ln for h in patch.hunks for ln in h.new_lines)
            if len(content.encode("utf-8", "replace")) > MAX_FILE_BYTES:
                return files, [], f"{patch.new_path} would exceed {MAX_FILE_BYTES} bytes"
            new_files[patch.new_path] = content + "\n" if content else ""
            continue
        if patch.old_path not in new_files:
            known = ", ".join(sorted(new_files)) or "(none)"
            return files, [], f"{patch.old_path} does not exist; editable files: {known}"
        if patch.new_path is None:  # deletion
            del new_files[patch.old_path]
            continue
        text, failed = _apply_hunks(new_files[patch.old_path], patch.hunks, strategy)
        if text is None:
            for index in failed:
                hunk = patch.hunks[index]
                rejected.append(RejectedHunk(patch.old_path, index, hunk.header, "\n".join(hunk.old_lines[:8])))
            continue
        if len(text.encode()) > MAX_FILE_BYTES:
            return files, [], f"{patch.new_path} would exceed {MAX_FILE_BYTES} bytes"
        if patch.new_path != patch.old_path:
            del new_files[patch.old_path]
        new_files[patch.new_path] = text
    clash = _file_folder_clash(new_files)
    if clash:
        return files, [], clash
    return new_files, rejected, None


def _file_folder_clash(files: dict[str, str]) -> str | None:
    """A path that is both a file and a folder (``a`` and ``a/b``) cannot be laid out."""
    paths = set(files)
    for path in paths:
        parts = path.split("/")
        for k in range(1, len(parts)):
            if "/".join(parts[:k]) in paths:
                return f"{'/'.join(parts[:k])} is a file, so {path} cannot be created inside it"
    return None


def _lines(text: str) -> list[str]:
    """Lines split on "\n" alone (``str.splitlines`` also splits on \u2028, \x0c, ... inside strings)."""
    return re.findall(r"[^\n]*\n|[^\n]+\Z", text)


def make_diff(old: dict[str, str], new: dict[str, str], context: int = 3) -> str:
    """A git-style unified diff that turns ``old`` into ``new`` (both path -> text)."""
    import difflib

    chunks: list[str] = []
    for path in sorted(set(old) | set(new)):
        a, b = old.get(path), new.get(path)
        if a == b:
            continue
        a_lines = _lines(a or "")
        b_lines = _lines(b or "")
        a_lines = [ln if ln.endswith("\n") else ln + "\n" for ln in a_lines]
        b_lines = [ln if ln.endswith("\n") else ln + "\n" for ln in b_lines]
        chunks.append(f"diff --git a/{path} b/{path}\n")
        chunks.extend(
            difflib.unified_diff(
                a_lines,
                b_lines,
                fromfile=f"a/{path}" if a is not None else "/dev/null",
                tofile=f"b/{path}" if b is not None else "/dev/null",
                n=context,
            )
        )
    return "".join(chunks)
