"""The analyst views of migration 0002, queried with plain SQL on the two-state archive."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlite_utils import Database

from aaltowatch.core.urls import SECTIONS
from storage import Archive, migrations
from storage.schema_doc import SECTION_VIEWS

CURRENT_PAGES_COLUMNS = (
    "url",
    "kind",
    "lang",
    "status",
    "title",
    "lead",
    "body",
    "published",
    "updated",
    "categories",
    "first_seen",
    "last_seen",
    "last_changed",
    "version_count",
    "duplicate_of",
)
VIEWS = ("current_pages", "news", "partnership_pages", "change_log", "category_counts_by_month")


@pytest.fixture
def conn(two_state_copy: Path) -> Iterator[sqlite3.Connection]:
    Archive(two_state_copy).close()  # applies any pending migration
    conn = sqlite3.connect(two_state_copy)
    conn.row_factory = sqlite3.Row
    yield conn
    conn.close()


def rows(conn: sqlite3.Connection, sql: str, *params: object) -> list[dict]:
    return [dict(r) for r in conn.execute(sql, params)]


def test_every_view_exists_and_answers(conn):
    names = {r["name"] for r in rows(conn, "SELECT name FROM sqlite_master WHERE type = 'view'")}
    assert set(VIEWS) <= names
    for view in VIEWS:
        assert rows(conn, f"SELECT * FROM {view}"), view


def test_migration_0002_is_additive_on_an_older_archive(tmp_path):
    path = tmp_path / "old.db"
    db = Database(path)
    migrations.migrations.apply(db, stop_before="0002_views")
    assert not db.view_names()
    db.close()
    with Archive(path) as archive:
        assert set(VIEWS) <= set(archive.db.view_names())
        applied = [m.name for m in migrations.migrations.applied(archive.db)]
    assert applied[:2] == ["0001_initial", "0002_views"]  # later migrations follow


def test_current_pages_has_the_current_version_fields(conn, expected):
    cols = [d[0] for d in conn.execute("SELECT * FROM current_pages LIMIT 0").description]
    assert set(CURRENT_PAGES_COLUMNS) <= set(cols)
    count = "SELECT COUNT(*) n FROM {}"
    assert rows(conn, count.format("current_pages")) == rows(conn, count.format("pages"))
    retitled = next(
        m["url"] for m in expected["changes_1_to_2"]["modified"] if m["fields"] == ["title"]
    )
    (page,) = rows(conn, "SELECT * FROM current_pages WHERE url = ?", retitled)
    assert page["version_count"] == 2
    assert "Spring 2026" in page["title"]


def test_news_and_partnership_pages_are_live_originals(conn, expected):
    changes = expected["changes_1_to_2"]
    news = {r["url"]: r for r in rows(conn, "SELECT * FROM news")}
    partners = {r["url"]: r for r in rows(conn, "SELECT * FROM partnership_pages")}
    assert {r["kind"] for r in news.values()} == {"news"}
    assert {r["kind"] for r in partners.values()} == {"partnership"}
    assert {r["status"] for r in [*news.values(), *partners.values()]} == {"live"}
    assert not set(changes["removed"]) & set(news)
    assert not {d["url"] for d in changes["duplicates"]} & set(news)
    assert {d["duplicate_of"] for d in changes["duplicates"]} <= set(news)
    assert {m["to"] for m in changes["moved"]} <= set(news)
    new = set(changes["new"])
    assert {u for u in new if "/collaboration/" in u} <= set(partners)
    assert {u for u in new if "/collaboration/" not in u} <= set(news)


def test_change_log_carries_titles_and_moves(conn, expected):
    changes = expected["changes_1_to_2"]
    log = rows(conn, "SELECT * FROM change_log ORDER BY id")
    assert len(log) == rows(conn, "SELECT COUNT(*) n FROM changes")[0]["n"]
    assert all(r["title"] for r in log if r["change"] != "removed")
    retitled = next(m["url"] for m in changes["modified"] if m["fields"] == ["title"])
    by_version = {r["version"]: r for r in log if r["url"] == retitled}
    # Each event shows the title of the version it produced: the typo before, the fix after.
    assert "Sping 2026" in by_version[1]["title"]
    assert "Spring 2026" in by_version[2]["title"]
    assert json.loads(by_version[2]["fields"]) == ["title"]
    assert by_version[2]["previous_version"] == 1
    (move,) = changes["moved"]
    moved = [r for r in log if r["change"] == "moved"]
    assert [(r["url"], r["moved_from"]) for r in moved] == [(move["to"], move["from"])]
    removed = {r["url"] for r in log if r["change"] == "removed"}
    assert removed == set(changes["removed"])


def test_category_counts_by_month_counts_live_news_by_category(conn):
    counts = rows(conn, "SELECT * FROM category_counts_by_month")
    assert counts and all(re.fullmatch(r"\d{4}-\d\d", r["month"]) for r in counts)
    assert all(r["lang"] in ("en", "fi", "sv") for r in counts)
    want: Counter = Counter()
    for item in rows(conn, "SELECT categories, published, lang FROM news"):
        if item["published"]:
            for category in json.loads(item["categories"]):
                want[(category, item["published"][:7], item["lang"])] += 1
    got = Counter({(r["category"], r["month"], r["lang"]): r["count"] for r in counts})
    assert got == want


def test_schema_doc_describes_every_table_and_view(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "storage.schema_doc"], capture_output=True, text=True, check=True
    )
    doc = proc.stdout
    with Archive(tmp_path / "fresh.db") as archive:  # the schema a real archive gets
        fts = archive.db.table_names(fts5=True)
        tables = [
            t for t in archive.db.table_names() if not t.startswith(tuple(f + "_" for f in fts))
        ]
        names = [*tables, *archive.db.view_names()]
        assert set(VIEWS) <= set(names) and "pages_fts" in names
        assert f"#### {SECTION_VIEWS}" in doc  # one entry for every section's view
        for name in (n for n in names if n not in {s.view_name for s in SECTIONS}):
            assert f"#### `{name}`" in doc, name
            section = doc.split(f"#### `{name}`")[1].split("\n#### ")[0].splitlines()
            for column in archive.db[name].columns:
                row = next(x for x in section if x.startswith(f"| `{column.name}` |"))
                assert not row.endswith("|  |"), f"{name}.{column.name} has no description"
    assert "pages_fts_data" not in doc


def test_readme_schema_section_is_generated_from_the_real_schema():
    from pathlib import Path

    from storage.schema_doc import with_schema

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert with_schema(readme) == readme, "run: python -m storage.schema_doc --update README.md"


def test_current_pages_follows_the_declared_fields(tmp_path):
    """The view shows every field the page object declares `viewed`: an archive whose view
    was made before a field was declared gets the new view when it is opened."""
    from pages.fields import VIEW_FIELDS

    path = tmp_path / "a.db"
    Archive(path).close()
    db = Database(path)
    db.execute("DROP VIEW current_pages")
    db.create_view("current_pages", "SELECT p.id, p.url FROM pages p")  # as if made earlier
    db.close()
    with Archive(path) as archive:
        cols = [d[0] for d in archive.conn.execute("SELECT * FROM current_pages").description]
        news = [d[0] for d in archive.conn.execute("SELECT * FROM news").description]
    assert set(VIEW_FIELDS) <= set(cols) and cols == news
