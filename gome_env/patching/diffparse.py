"""Reading a model's unified diff: cleaning the text, parsing it into file patches and hunks, and
checking every path. ``gome_env.patching.diffs`` applies what this module reads.

1. **clean**: decode, CRLF -> LF, take the diff out of markdown fences, drop prose before the
   first file header, end with exactly one newline;
2. **parse** into file patches and hunks, trusting the hunk bodies over their line counts
   (models miscount);
3. **check** every path (no absolute paths, no ``..``, nothing protected, no symlinks, no binary
   patches, size limits).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

__all__ = ["DiffError", "FilePatch", "Hunk", "MAX_DIFF_BYTES", "check_path", "clean_diff", "parse_diff"]

MAX_DIFF_BYTES = 1_000_000

_HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_FENCE_RE = re.compile(r"```[a-zA-Z]*\n(.*?)```", re.S)


class DiffError(ValueError):
    """The action is not a usable diff; the message is shown to the agent."""


@dataclass
class Hunk:
    old_start: int | None  # 1-indexed, None when the header had no numbers
    lines: list[str]  # each starts with ' ', '-' or '+'

    @property
    def old_lines(self) -> list[str]:
        return [ln[1:] for ln in self.lines if ln[0] in " -"]

    @property
    def new_lines(self) -> list[str]:
        return [ln[1:] for ln in self.lines if ln[0] in " +"]

    @property
    def header(self) -> str:
        return f"@@ -{self.old_start or '?'} @@ " + next((ln[1:].strip() for ln in self.lines if ln[0] in " -"), "")


@dataclass
class FilePatch:
    old_path: str | None  # None for a new file
    new_path: str | None  # None for a deletion
    hunks: list[Hunk] = field(default_factory=list)

    @property
    def path(self) -> str:
        return self.new_path or self.old_path or ""


# --------------------------------------------------------------------------- cleaning and parsing


def clean_diff(text: str | bytes) -> tuple[str, list[str]]:
    """Normalise a model's diff text; returns the text and notes on what was cleaned."""
    notes: list[str] = []
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DiffError(f"the diff is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:  # lone surrogates, e.g. from a cut-off JSON escape
        raise DiffError(f"the diff is not valid Unicode text ({exc.reason} at character {exc.start})") from None
    if size > MAX_DIFF_BYTES:
        raise DiffError(f"the diff is larger than {MAX_DIFF_BYTES} bytes")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        notes.append("converted CRLF line ends")
    if "\x00" in text:
        raise DiffError("the diff contains NUL bytes (binary content is not supported)")
    fenced = [block for block in _FENCE_RE.findall(text) if _first_header(block) is not None]
    if fenced:
        text = "\n".join(block.rstrip("\n") for block in fenced)
        notes.append("took the diff out of markdown fences")
    start = _first_header(text)
    if start is None:
        raise DiffError("no file header found (expected '--- a/FILE' and '+++ b/FILE' lines)")
    if start > 0:
        notes.append("dropped text before the first file header")
        text = text[start:]
    text = text.rstrip("\n") + "\n"
    return text, notes


def _first_header(text: str) -> int | None:
    match = re.search(r"^(diff --git |--- )", text, re.M)
    return match.start() if match else None


def _strip_path(raw: str) -> str | None:
    path = raw.split("\t")[0].strip()
    if path.startswith('"') and path.endswith('"'):
        path = path[1:-1]
    if path == "/dev/null":
        return None
    return path


def parse_diff(text: str) -> list[FilePatch]:
    """Parse cleaned diff text into file patches. Raises DiffError on unusable structure."""
    lines = text.split("\n")
    patches: list[FilePatch] = []
    current: FilePatch | None = None
    hunk: Hunk | None = None
    git_style = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("diff --git "):
            git_style = True
            current, hunk = None, None
        elif line.startswith(("new file mode 120000", "new mode 120000", "deleted file mode 120000")):
            raise DiffError("symlinks cannot be created or changed by a diff")
        elif line.startswith("GIT binary patch") or (line.startswith("Binary files ") and line.endswith(" differ")):
            raise DiffError("binary patches are not supported")
        elif line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            old, new = _strip_path(line[4:]), _strip_path(lines[i + 1][4:])
            if old is not None and (git_style or old.startswith("a/")) and old.startswith("a/"):
                old = old[2:]
            if new is not None and (git_style or new.startswith("b/")) and new.startswith("b/"):
                new = new[2:]
            if old is None and new is None:
                raise DiffError("a file header names /dev/null on both sides")
            current = FilePatch(old, new)
            patches.append(current)
            hunk = None
            i += 1
        elif line.startswith("@@"):
            if current is None:
                raise DiffError(f"hunk header before any file header: {line!r}")
            match = _HUNK_RE.match(line)
            hunk = Hunk(int(match.group(1)) if match else None, [])
            current.hunks.append(hunk)
        elif hunk is not None and (line[:1] in (" ", "+", "-") or line == ""):
            hunk.lines.append(line if line else " ")
        elif line.startswith("\\"):
            pass  # "\ No newline at end of file"
        else:
            hunk = None  # prose after a hunk, or git metadata such as "index ..."
        i += 1
    if not patches:
        raise DiffError("no file patches found")
    for patch in patches:
        for h in patch.hunks:  # blank lines the parser read past the end of a hunk are not content
            while h.lines and h.lines[-1] == " ":
                h.lines.pop()
        patch.hunks = [h for h in patch.hunks if h.lines]
        if patch.old_path is not None and patch.new_path is not None and not patch.hunks and patch.old_path == patch.new_path:
            raise DiffError(f"the patch for {patch.path} has no hunks")
    return patches


# --------------------------------------------------------------------------- path checks


def check_path(path: str, protected: tuple[str, ...]) -> str:
    """A normalised workspace-relative path, or DiffError saying why it is not allowed."""
    if not path:
        raise DiffError("empty file path")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise DiffError(f"absolute paths are not allowed: {path}")
    norm = posixpath.normpath(path)
    if norm == ".." or norm.startswith("../") or "/../" in f"/{path}/":
        raise DiffError(f"paths may not leave the workspace: {path}")
    if norm == "." or norm.endswith("/.") or path.endswith("/"):
        raise DiffError(f"not a file path: {path}")
    if any(ord(c) < 32 or c == "\x7f" for c in path):
        raise DiffError(f"file paths may not contain control characters: {path!r}")
    if len(path.encode("utf-8", "replace")) > 1000 or any(len(part.encode("utf-8", "replace")) > 255 for part in norm.split("/")):
        raise DiffError(f"file path too long: {path[:80]}...")
    for prefix in protected:
        if norm == prefix.rstrip("/") or norm.startswith(prefix):
            raise DiffError(f"{norm} is read-only (protected: {', '.join(protected)})")
    return norm
