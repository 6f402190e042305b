"""The README stays a short entry point and every docs page it points to exists and is linked."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
PAGES = sorted((ROOT / "docs").glob("*.md"))
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)\s]*)?\)")


def _links(path: Path) -> list[tuple[str, Path]]:
    text = path.read_text()
    raws = [m.group(1) for m in LINK.finditer(text)]
    return [(raw, (path.parent / raw).resolve()) for raw in raws if "://" not in raw]


def test_readme_is_a_short_entry_point():
    assert len(README) < 20_000, f"README.md is {len(README)} characters; move reference into docs/"
    for heading in ("## Set-up: two commands", "## A five-minute tour", "## Documentation", "## Library API"):
        assert heading in README


def test_readme_keeps_the_two_set_up_commands():
    assert "make demo" in README and "make test" in README


def test_every_docs_page_is_linked_from_the_readme():
    linked = {target for _, target in _links(ROOT / "README.md")}
    missing = [p.name for p in PAGES if p.resolve() not in linked]
    assert not missing, f"docs pages not linked from README.md: {missing}"


def test_every_relative_link_resolves():
    broken = [
        f"{path.relative_to(ROOT)} -> {raw}"
        for path in [ROOT / "README.md", *PAGES]
        for raw, target in _links(path)
        if not target.exists()
    ]
    assert not broken, f"broken links: {broken}"
