"""The documentation a newcomer reads points at files that exist and names things as they are."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aaltowatch.core.config import Config

ROOT = Path(__file__).resolve().parent.parent
DOCS = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    ROOT / "aaltowatch" / "snapshot" / "SNAPSHOT_README.md",
    ROOT / "bench" / "RESULTS.md",
]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc: Path) -> None:
    targets = [t for t in LINK.findall(doc.read_text(encoding="utf-8")) if "://" not in t]
    missing = [t for t in targets if not (doc.parent / t).exists()]
    assert missing == []


def test_docstrings_cite_the_design_contract_in_the_repository() -> None:
    assert (ROOT / "docs" / "DESIGN.md").is_file()
    sources = [p for d in ("aaltowatch", "feeds", "pages", "pipeline", "spiders", "storage",
                           "tests") for p in (ROOT / d).rglob("*.py")]  # fmt: skip
    stale = [
        str(p.relative_to(ROOT))
        for p in sources
        if re.search(r"(?<!docs/)DESIGN(\.md)? §", p.read_text(encoding="utf-8"))
    ]
    assert stale == []


def test_operations_names_the_real_lock_file() -> None:
    config = Config(db=Path("data/aaltowatch.db"))
    assert config.effective_lock_file == Path("data/aaltowatch.lock")
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    assert "<db>.lock" not in text and "`<db stem>.lock`" in text
