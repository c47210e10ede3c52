"""Apply a model's unified diff to a set of files, tolerantly and all-or-nothing.

``apply_diff(files, diff)`` never raises on bad input: it returns the new files (or the old ones,
unchanged) and a :class:`PatchResult` saying what happened. The steps, in order:

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

import posixpath
import re
from dataclasses import asdict, dataclass, field
from typing import Callable

from gome_env.records import MappingRecord

__all__ = ["DiffError", "FilePatch", "Hunk", "PatchResult", "RejectedHunk", "apply_diff", "clean_diff", "parse_diff", "make_diff"]

STRATEGIES = ("exact", "shifted", "whitespace", "fuzzy")
MAX_DIFF_BYTES = 1_000_000
MAX_FILE_BYTES = 2_000_000
DEFAULT_PROTECTED = ("data/", "submission/")

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


@dataclass(eq=False)
class RejectedHunk(MappingRecord):
    """A hunk no strategy could place: where it was meant to go and what it expected to find."""

    file: str
    hunk: int  # its index among the file's hunks
    header: str
    expected: str  # the first lines of context and removals it looked for


@dataclass
class PatchResult:
    """What applying a diff did; ``as_dict()`` is the ``patch`` entry of the diagnostics."""

    applied: bool
    strategy: str | None = None
    files: list[str] = field(default_factory=list)
    rejected_hunks: list[RejectedHunk] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


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
