"""The documentation holds together: README.md stays short, and every relative link in README.md, docs/*.md
and bench/README.md reaches an existing file (and, for a link into a Markdown file with #anchor, a heading
of that file, slugged as GitHub does)."""
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from c360.paths import PROJ_ROOT

README_MAX_LINES = 200

LINK = re.compile(r"(?<!\!)\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


def _doc_files() -> list[Path]:
    files = [PROJ_ROOT / "README.md", *sorted((PROJ_ROOT / "docs").glob("*.md")), PROJ_ROOT / "bench" / "README.md"]
    return [f for f in files if f.exists()]


def _prose_lines(path: Path):
    """(line number, text) of the lines outside fenced code blocks."""
    fence = None
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        m = re.match(r"^ {0,3}(`{3,}|~{3,})", line)
        if m:
            if fence is None:
                fence = m[1]
            elif m[1].startswith(fence[0]) and len(m[1]) >= len(fence):
                fence = None
            continue
        if fence is None:
            yield n, line


def github_anchor(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lower-cased, punctuation removed, spaces to '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # [text](url) -> text
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for _, line in _prose_lines(path):
        m = HEADING.match(line)
        if not m:
            continue
        slug = github_anchor(m[2])
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def links(path: Path):
    """(line number, target) of every Markdown link and image in the prose of `path`."""
    for n, line in _prose_lines(path):
        line = CODE_SPAN.sub("code", line)  # `[a](b)` inside backticks is no link; [`a`](b) still is
        for rx in (LINK, IMAGE):
            for m in rx.finditer(line):
                yield n, m[1]


def _relative_links():
    for path in _doc_files():
        for n, target in links(path):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http(s):, mailto:, ...
                continue
            yield pytest.param(path, n, target, id=f"{path.relative_to(PROJ_ROOT)}:{n}:{target}")


def test_readme_is_short():
    lines = (PROJ_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move reference material to docs/"


def test_the_docs_exist():
    for name in ("data-contract", "incremental", "bigquery", "reports", "architecture", "testing"):
        assert (PROJ_ROOT / "docs" / f"{name}.md").is_file(), name
    assert (PROJ_ROOT / "bench" / "README.md").is_file()


@pytest.mark.parametrize("path, line, target", list(_relative_links()))
def test_relative_link_resolves(path: Path, line: int, target: str):
    file_part, _, anchor = target.partition("#")
    dest = (path.parent / unquote(file_part)).resolve() if file_part else path
    assert dest.exists(), f"{path.relative_to(PROJ_ROOT)}:{line}: {target} -> {dest} does not exist"
    assert PROJ_ROOT.resolve() in dest.parents or dest == PROJ_ROOT.resolve(), \
        f"{path.relative_to(PROJ_ROOT)}:{line}: {target} leaves the repository"
    if anchor and dest.suffix == ".md":
        assert anchor in anchors(dest), \
            f"{path.relative_to(PROJ_ROOT)}:{line}: no heading for #{anchor} in {dest.name}: {sorted(anchors(dest))}"


def test_github_anchor():
    assert github_anchor("Identity resolution (02)") == "identity-resolution-02"
    assert github_anchor("Incremental runs, re-runs and full refreshes") == "incremental-runs-re-runs-and-full-refreshes"
    assert github_anchor("c360 — a reproducible Customer 360") == "c360--a-reproducible-customer-360"
    assert github_anchor("The `sql` command") == "the-sql-command"


def test_links_in_code_spans_are_ignored(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text("[`a.md`](a.md) and `[b](b.md)` and ``[c](c.md)``\n```\n[d](d.md)\n```\n[e](e.md#top)\n")
    assert [t for _, t in links(doc)] == ["a.md", "e.md#top"]
