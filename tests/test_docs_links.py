"""The README and the docs pages: every relative link resolves, and the README stays a short start.

Checks each Markdown link ``[text](target)`` in README.md, docs/*.md and envs/README.md: a file or
folder target must exist (relative to the page), and a ``#anchor`` must name a heading of its page
(GitHub's rule: lower case, punctuation dropped, spaces to hyphens). Web links are not checked.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "envs" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Pages other work is writing: a link to one may point ahead of it until it lands (then it is
# checked like any other). Empty this set once they exist.
PENDING: set = set()  # pages a link may name before they land (none now)

LINK = re.compile(r"(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
CODE = re.compile(r"`[^`\n]*`")


def _prose(text: str) -> str:
    """The page without fenced blocks and inline code (links there are not links)."""
    return CODE.sub("", FENCE.sub("", text))


def _slug(heading: str) -> str:
    text = re.sub(r"[`*]|\[|\]\([^)]*\)", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in FENCE.sub("", page.read_text()).splitlines():
        m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            slug = _slug(m.group(1))
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def _links(page: Path) -> list[str]:
    return [t for t in LINK.findall(_prose(page.read_text())) if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


def test_the_link_pattern_finds_links_and_skips_code():
    page = "see [a](docs/A.md#x), [b [c]](B.md), ![img](p.png), `[no](C.md)`\n```\n[no](D.md)\n```\n"
    assert LINK.findall(_prose(page)) == ["docs/A.md#x", "B.md"]
    assert _slug("Start here: two commands") == "start-here-two-commands"
    assert _slug("`EnvPool`: batched steps") == "envpool-batched-steps"
    assert _slug("`final_refit=True`") == "final_refittrue"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path):
    broken = []
    for target in _links(page):
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            if dest not in PENDING:
                broken.append(target)
            continue
        if anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)}: links that lead nowhere: {broken}"


def test_the_readme_is_a_short_start_with_the_test_command_the_makefile_runs():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 250, "the README is a five-minute start: move reference material to docs/"
    assert "python -m pytest -q" in text  # `make test` and .ci/run run the README's test command
    assert "make setup" in text and "make benchmark" in text and "make test" in text
    for part in ("isolation", "grading", "patching", "tasks", "mlebench", "rl"):
        assert f"gome_env/{part}/" in text, f"the README names the layout: gome_env/{part}/ is missing"
