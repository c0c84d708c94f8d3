"""Page identity by w3lib's canonical URL: one page per spelling of a URL, and archives made
under the older rules merge the pages those spellings made, losing nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from aaltowatch.core.urls import TRACKING_PARAMS, canonical_url
from storage import open_archive

CAFE = "https://www.aalto.fi/en/news/caf%C3%A9"


@pytest.mark.parametrize(
    "spelling",
    [
        "https://www.aalto.fi/en/news/caf%c3%a9",
        "https://www.aalto.fi/en/news/caf%C3%A9",
        "https://www.aalto.fi/en/news/café",
        "http://aalto.fi/en/news/café/",
        "https://www.aalto.fi/en/news/café#top",
    ],
)
def test_three_spellings_of_one_url_are_one_key(spelling: str) -> None:
    assert canonical_url(spelling) == CAFE


@pytest.mark.parametrize("param", sorted(TRACKING_PARAMS | {"utm_source", "mc_eid", "_hsenc"}))
def test_tracking_parameters_never_make_a_key(param: str) -> None:
    url = f"https://www.aalto.fi/en/news/x?{param}=1"
    assert canonical_url(url) == "https://www.aalto.fi/en/news/x"
    assert canonical_url(url.replace(param, param.upper())) == "https://www.aalto.fi/en/news/x"


def test_a_query_that_is_not_tracking_stays_sorted() -> None:
    assert canonical_url("https://www.aalto.fi/en/news?page=2&a=%e4") == (
        "https://www.aalto.fi/en/news?a=%E4&page=2"
    )


def _old_archive(path: Path) -> None:
    """An archive written under the old rules: the three spellings are three pages."""
    with open_archive(path):
        pass  # the current schema
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = '0007_canonical_urls'")
    spellings = [
        ("https://www.aalto.fi/en/news/caf%c3%a9", "2026-01-01T00:00:00Z", "Café v1"),
        ("https://www.aalto.fi/en/news/café", "2026-01-03T00:00:00Z", "Café v2"),
        ("https://www.aalto.fi/en/news/caf%C3%A9", "2026-01-02T00:00:00Z", "Café old"),
    ]
    for n, (url, seen, title) in enumerate(spellings, start=1):
        conn.execute(
            "INSERT INTO pages (id, url, kind, lang, first_seen, last_seen, last_changed,"
            " version_count, current_version, content_hash) VALUES (?, ?, 'news', 'en', ?, ?,"
            " ?, 1, 1, ?)",
            (n, url, seen, seen, seen, f"h{n}"),
        )
        conn.execute(
            "INSERT INTO versions (page_id, version, url, fetched_at, content_hash, title, body)"
            " VALUES (?, 1, ?, ?, ?, ?, 'body')",
            (n, url, seen, f"h{n}", title),
        )
        conn.execute(
            "INSERT INTO changes (page_id, url, change, detected_at, version)"
            " VALUES (?, ?, 'new', ?, 1)",
            (n, url, seen),
        )
        conn.execute(
            "INSERT INTO pages_fts (rowid, title, lead, body) VALUES (?, ?, '', 'body')",
            (n, title),
        )
        conn.execute(
            "INSERT OR REPLACE INTO fetches (url, etag, fetched_at) VALUES (?, ?, ?)",
            (url, f"e{n}", seen),
        )
    conn.commit()
    conn.close()


def test_upgrade_merges_the_pages_of_one_url_and_keeps_every_version(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    _old_archive(db)
    with open_archive(db):
        pass  # applies 0007
    with sqlite3.connect(db) as conn:
        pages = conn.execute("SELECT id, url, version_count, current_version FROM pages").fetchall()
        assert pages == [(1, CAFE, 3, 3)]
        titles = conn.execute(
            "SELECT version, title FROM versions WHERE page_id = 1 ORDER BY version"
        ).fetchall()
        assert titles == [(1, "Café v1"), (2, "Café old"), (3, "Café v2")]  # by fetch time
        changes = conn.execute("SELECT page_id, url, version FROM changes ORDER BY id").fetchall()
        assert changes == [(1, CAFE, 1), (1, CAFE, 3), (1, CAFE, 2)]
        assert conn.execute("SELECT url FROM fetches").fetchall() == [(CAFE,)]
        fts = conn.execute("SELECT rowid, title FROM pages_fts").fetchall()
        assert fts == [(1, "Café v2")]
        first, last = conn.execute("SELECT first_seen, last_seen FROM pages").fetchone()
        assert (first, last) == ("2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z")
