"""`reextract`: stored raw HTML replayed through the page objects reaches the history."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import aaltowatch.reextract as reextract_module
from aaltowatch.core.config import load_config
from storage import open_archive
from tests.conftest import run_cli


def test_reextract_with_unchanged_parser_adds_nothing(two_state_copy: Path) -> None:
    with open_archive(two_state_copy) as archive:
        live = archive.pages.count_pages("news") + archive.pages.count_pages("partnership")
    proc = run_cli("reextract", db=two_state_copy)
    assert proc.returncode == 0, proc.stderr
    assert f"re-extracted {live} pages: 0 new versions, 0 errors" in proc.stderr


def test_parser_fix_reaches_history(two_state_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = reextract_module.parse_article

    def fixed(*args, **kwargs):  # a "parser fix": titles gain a marker
        item = original(*args, **kwargs)
        return dataclasses.replace(item, title=f"{item.title} (fixed)")

    monkeypatch.setattr(reextract_module, "parse_article", fixed)
    with open_archive(two_state_copy) as archive:
        live = archive.pages.count_pages("news") + archive.pages.count_pages("partnership")
        before = archive.conn.execute("SELECT COUNT(*) FROM versions").fetchone()[0]
        report = reextract_module.reextract_all(archive, load_config(environ={}))
        after = archive.conn.execute("SELECT COUNT(*) FROM versions").fetchone()[0]
        titles = [
            r[0]
            for r in archive.conn.execute(
                "SELECT v.title FROM pages p JOIN versions v ON v.page_id = p.id"
                " AND v.version = p.current_version WHERE p.status = 'live'"
            )
        ]
        events = archive.queries.changes(change="modified", run_id=archive.runs.latest(1)[0]["id"])
    assert report["errors"] == 0
    assert report["pages"] == live
    assert report["new_versions"] == after - before == live
    assert all(t.endswith("(fixed)") for t in titles)
    assert all(e["fields"] == ["title"] for e in events)


def test_reextract_of_a_missing_archive_creates_nothing(tmp_path: Path) -> None:
    proc = run_cli("reextract", db=tmp_path / "missing.db")
    assert proc.returncode == 1
    assert (
        proc.stderr.strip() == f"error: no archive at {tmp_path / 'missing.db'}: run"
        " `aaltowatch crawl` first"
    )
    assert list(tmp_path.iterdir()) == []
