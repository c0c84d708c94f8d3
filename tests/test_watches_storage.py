"""Stored watch matches: an edit matches by the words it changed (or the whole page with
`match = "page"`), each match carries its snippet, the baseline (first crawl, history, old
stories) is never pushed, each event is matched once, and a new watch's history is matched
in bounded, resumable steps."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from aaltowatch.core import watchmatch
from aaltowatch.core.text import utc_now
from aaltowatch.core.watchconfig import Watch
from feeds.watches import snippet_html
from storage import Archive, migrations
from storage import watches as stored

NOW = "2026-01-20T16:00:00Z"
HUB_BODY = "Aalto works with cities.\n\nEspoo is where the campus is.\n\nContact us."


class Site:
    """Pages, versions and change events as a crawl would store them, one run at a time."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.run = archive.runs.start_run("news", "http://site")
        self.versions: dict[int, int] = {}

    def next_run(self) -> None:
        self.run = self.archive.runs.start_run("news", "http://site")

    def new(
        self, url: str, body: str, *, published: str | None = NOW, kind: str = "news",
        lang: str = "en", categories: tuple[str, ...] = (),
    ) -> int:  # fmt: skip
        with self.archive.transaction():
            page_id = self.archive.pages.insert_page(
                {"url": url, "kind": kind, "lang": lang, "first_seen": NOW, "last_seen": NOW,
                 "last_changed": NOW, "version_count": 1, "current_version": 1}
            )  # fmt: skip
            self._version(page_id, url, 1, body, published, categories)
            self.archive.pages.add_change(
                {"page_id": page_id, "url": url, "change": "new", "detected_at": NOW,
                 "version": 1, "run_id": self.run}
            )  # fmt: skip
        self.versions[page_id] = 1
        return page_id

    def edit(self, page_id: int, url: str, body: str) -> None:
        number = self.versions[page_id] + 1
        with self.archive.transaction():
            self._version(page_id, url, number, body, NOW)
            self.archive.pages.add_change(
                {"page_id": page_id, "url": url, "change": "modified", "detected_at": NOW,
                 "version": number, "previous_version": number - 1, "fields": ["body"],
                 "run_id": self.run}
            )  # fmt: skip
        self.versions[page_id] = number

    def _version(
        self, page_id: int, url: str, number: int, body: str, published: Any,
        categories: tuple[str, ...] = (),
    ) -> None:  # fmt: skip
        self.archive.pages.add_version(
            {"page_id": page_id, "version": number, "url": url, "fetched_at": NOW,
             "content_hash": f"{url}{number}", "title": f"Page {number}", "body": body,
             "published": published, "categories": list(categories)}
        )  # fmt: skip


def _found(archive: Archive, watch: Watch) -> list[tuple[str, int]]:
    archive.watches.sync([watch])
    return [(r["change"], r["version"]) for r in archive.watches.changes(watch)]


def test_migration_matches_history_stored_before_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = Database(path)  # an archive written by an aaltowatch from before stored matches
    migrations.migrations.apply(db, stop_before="0011_watch_matches")
    db.execute(
        "INSERT INTO pages (id, url, kind, lang, first_seen, last_seen, last_changed)"
        " VALUES (1, 'https://www.aalto.fi/en/news/a', 'news', 'en', ?, ?, ?)",
        [NOW, NOW, NOW],
    )
    db.execute(
        "INSERT INTO versions (page_id, version, url, fetched_at, content_hash, title, body)"
        " VALUES (1, 1, 'https://www.aalto.fi/en/news/a', ?, 'h', 'A', 'Vantaa and Espoo')",
        [NOW],
    )
    db.execute(
        "INSERT INTO changes (page_id, url, change, detected_at, version)"
        " VALUES (1, 'https://www.aalto.fi/en/news/a', 'new', ?, 1)",
        [NOW],
    )
    db.conn.commit()
    db.close()
    with Archive(path) as archive:  # upgraded on open; history matched on first use
        vantaa, helsinki = Watch(name="v", query="Vantaa"), Watch(name="h", query="Helsinki")
        archive.watches.sync([vantaa, helsinki])
        assert archive.watches.count_changes(vantaa) == 1
        assert archive.watches.count_changes(helsinki) == 0
        (match,) = archive.watches.changes(vantaa)
        assert not match["pushable"]  # history is the baseline


def test_an_edit_matches_by_the_words_it_changed(tmp_path: Path) -> None:
    with Archive(tmp_path / "a.db") as archive:
        site = Site(archive)
        hub = "https://www.aalto.fi/en/collaboration/hub"
        espoo = Watch(name="espoo", query="Espoo")
        page = Watch(name="page", query="Espoo", match="page")
        archive.watches.sync([espoo, page])
        hub_id = site.new(hub, HUB_BODY, published=None, kind="partnership")
        site.edit(hub_id, hub, HUB_BODY.replace("Contact us.", "Contact the team."))
        # The hub mentions Espoo, but its edit does not: only `match = "page"` takes it.
        assert _found(archive, espoo) == [("new", 1)]
        assert _found(archive, page) == [("modified", 2), ("new", 1)]

        site.edit(hub_id, hub, HUB_BODY.replace("Contact us.", "Visit Espoo and Otaniemi."))
        site.edit(hub_id, hub, HUB_BODY.replace("Espoo is", "Vantaa is"))  # edited away
        assert _found(archive, espoo) == [("modified", 4), ("modified", 3), ("new", 1)]
        away, added, new = archive.watches.changes(espoo)
        # Each entry says why: the words its edit changed, the match highlighted.
        assert watchmatch.snippet_parts(added["snippet"]) == [
            ("Contact the team. … Visit ", False),
            ("Espoo", True),
            (" and Otaniemi.", False),
        ]
        assert "<mark><strong>Espoo</strong></mark>" in snippet_html(away["snippet"])
        assert "where the campus" not in away["snippet"]  # unchanged words are not the edit
        assert "<mark><strong>Espoo</strong></mark> is where" in snippet_html(new["snippet"])


def test_filters_column_queries_and_duplicates(tmp_path: Path) -> None:
    with Archive(tmp_path / "a.db") as archive:
        site = Site(archive)
        watches = [
            Watch(name="all", query="Vantaa"),
            Watch(name="partners", query="Vantaa", kinds=("partnership",)),
            Watch(name="edits", query="Vantaa", changes=("modified",)),
            Watch(name="fi", query="Vantaa", langs=("fi",)),
            Watch(name="title", query="{title}: Vantaa"),
        ]
        archive.watches.sync(watches)
        url = "https://www.aalto.fi/en/news/b"
        b = site.new(url, "Vantaa news")
        site.edit(b, url, "Helsinki news")
        c = site.new("https://www.aalto.fi/en/collaboration/c", "Vantaa", kind="partnership")
        archive.watches.sync(watches)
        got = {w.name: [(r["change"], r["page_id"]) for r in archive.watches.changes(w)]
               for w in watches}  # fmt: skip
        assert got["all"] == [("new", c), ("modified", b), ("new", b)]
        assert got["partners"] == [("new", c)]
        assert got["edits"] == [("modified", b)]
        assert got["fi"] == [] and got["title"] == []
        with archive.transaction():  # a page that became a duplicate leaves the feed
            archive.pages.update_page(c, duplicate_of=url)
        assert archive.watches.count_changes(watches[0]) == 2


def test_baseline_first_crawl_old_stories_and_history_are_not_pushed(tmp_path: Path) -> None:
    with Archive(tmp_path / "a.db") as archive:
        site = Site(archive)
        watch = Watch(name="w", query="Vantaa")
        archive.watches.register([watch])  # as run --once does before its crawl
        site.new("https://www.aalto.fi/en/news/first", "Vantaa first crawl")
        archive.watches.sync([watch])
        site.next_run()
        fresh = site.new("https://www.aalto.fi/en/news/fresh", "Vantaa today", published=utc_now())
        old = site.new("https://www.aalto.fi/en/news/old", "Vantaa 2015", published="2015-03-01")
        site.edit(old, "https://www.aalto.fi/en/news/old", "Vantaa 2015, now with Vantaa again")
        undated = site.new("https://www.aalto.fi/en/collaboration/u", "Vantaa", published=None)
        archive.watches.sync([watch])
        pushed = [r["page_id"] for r in archive.watches.changes(watch, pushed_only=True)]
        # The edit of an old story is news; the old story found by the crawl is not.
        assert pushed == [undated, old, fresh]
        assert archive.watches.count_changes(watch) == 5

        # A target registered now gets what comes next, once.
        target = archive.notifications.register_target("w", "json://example.org/x")
        site.new("https://www.aalto.fi/en/news/later", "Vantaa later", published=utc_now())
        archive.watches.sync([watch])
        pending = archive.watches.changes(
            watch, after=target["since_change"], unsent_for=target["id"], pushed_only=True
        )
        assert len(pending) == 1
        archive.notifications.claim(target["id"], [pending[0]["id"]], "event")
        assert not archive.watches.changes(
            watch, after=target["since_change"], unsent_for=target["id"], pushed_only=True
        )

        # A new watch (or a new query) matches the history once, never pushed.
        late = Watch(name="late", query="Vantaa")
        archive.watches.sync([late])
        assert archive.watches.count_changes(late) == 6
        assert not archive.watches.changes(late, pushed_only=True)
        edited = Watch(name="late", query="today")
        archive.watches.sync([edited])
        assert [r["page_id"] for r in archive.watches.changes(edited)] == [fresh]


def _statements(archive: Archive) -> list[str]:
    seen: list[str] = []
    archive.conn.set_trace_callback(seen.append)
    return seen


def test_a_run_matches_only_its_new_events(tmp_path: Path) -> None:
    with Archive(tmp_path / "a.db") as archive:
        site = Site(archive)
        watches = [Watch(name="a", query="Vantaa"), Watch(name="b", query="Espoo", match="page")]
        for n in range(30):
            site.new(f"https://www.aalto.fi/en/news/{n}", f"Vantaa and Espoo {n}")
        archive.watches.sync(watches)
        assert [archive.watches.count_changes(w) for w in watches] == [30, 30]
        site.next_run()
        site.new("https://www.aalto.fi/en/news/new", "Vantaa again")

        seen = _statements(archive)
        report = archive.watches.sync(watches)
        assert (report.events, report.backfilled, report.matched) == (1, 0, {"a": 1, "b": 0})
        # Neither the archive's full-text index nor its history is read: one event loaded,
        # each query run once over a table of that one event's documents.
        assert not [s for s in seen if "versions_fts" in s]
        loads = [s for s in seen if "FROM changes c JOIN pages p" in s]
        assert len(loads) == 1 and "c.id > 30 AND c.id <= 31" in loads[0]
        assert len([s for s in seen if "MATCH" in s]) == len(watches)

        seen.clear()
        assert archive.watches.sync(watches).events == 0  # nothing new: no matching at all
        assert not [s for s in seen if "MATCH" in s or "FROM changes c" in s]
        assert archive.watches.count_changes(watches[0]) == 31  # each event stored once

        # Reading a watch's feed walks its own matches by index, newest first.
        plan = archive.conn.execute(
            "EXPLAIN QUERY PLAN SELECT m.change_id FROM watch_matches m"
            " JOIN changes c ON c.id = m.change_id JOIN pages p ON p.id = c.page_id"
            " WHERE m.watch = 'a' AND p.duplicate_of IS NULL ORDER BY m.change_id DESC LIMIT 50"
        ).fetchall()
        details = " | ".join(row[3] for row in plan)
        assert "SCAN c" not in details and "SCAN p" not in details
        assert "TEMP B-TREE" not in details


def test_history_is_matched_in_bounded_resumable_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(stored, "CHUNK", 4)
    with Archive(tmp_path / "a.db") as archive:
        site = Site(archive)
        for n in range(10):
            site.new(f"https://www.aalto.fi/en/news/{n}", "Vantaa" if n % 2 else "Espoo")
        watch = Watch(name="w", query="Vantaa")
        with caplog.at_level(logging.INFO, logger="storage.watches"):
            first = archive.watches.sync([watch], backfill_events=4)
        assert first.backfilled == 4
        assert "watch w: matching history, 4 of 10 events (40%)" in caplog.text
        assert [r["id"] for r in archive.watches.changes(watch)] == [10, 8]  # newest first
        site.next_run()
        site.new("https://www.aalto.fi/en/news/new", "Vantaa", published=utc_now())  # meanwhile
        # A new process (the next run) resumes from the stored cursor.
        with Archive(tmp_path / "a.db") as again:
            assert again.watches.sync([watch], backfill_events=4).backfilled == 4
            assert again.watches.sync([watch], backfill_events=4).backfilled == 2
            assert again.watches.sync([watch], backfill_events=4).backfilled == 0
            rows = again.watches.changes(watch)
        assert [r["id"] for r in rows] == [11, 10, 8, 6, 4, 2]
        assert [r["pushable"] for r in rows] == [1, 0, 0, 0, 0, 0]


def _search_site(archive: Archive) -> dict[str, int]:
    """Pages of every kind, language and category, edits that add and remove the word, a
    duplicate: what an ad-hoc search is asked about."""
    site = Site(archive)
    ids = {
        "fi": site.new("https://www.aalto.fi/fi/uutiset/a", "Vantaa ja Espoo", lang="fi",
                       categories=("Campus",)),
        "partner": site.new("https://www.aalto.fi/en/collaboration/b", "Vantaa city",
                            kind="partnership", categories=("Research", "Campus")),
        "edited": site.new("https://www.aalto.fi/en/news/c", "Helsinki only"),
        "other": site.new("https://www.aalto.fi/en/news/d", "Nothing here"),
    }  # fmt: skip
    site.edit(ids["edited"], "https://www.aalto.fi/en/news/c", "Helsinki and Vantaa")  # added
    site.edit(ids["edited"], "https://www.aalto.fi/en/news/c", "Vantaa, Vantaa")  # in both
    site.edit(ids["edited"], "https://www.aalto.fi/en/news/c", "Helsinki again")  # removed
    site.edit(ids["other"], "https://www.aalto.fi/en/news/d", "Still nothing")
    ids["copy"] = site.new("https://www.aalto.fi/en/news/copy", "Vantaa ja Espoo")
    with archive.transaction():
        archive.pages.add_change(
            {"page_id": ids["copy"], "url": "https://www.aalto.fi/en/news/copy",
             "change": "duplicate", "detected_at": NOW, "version": 1, "run_id": site.run}
        )  # fmt: skip
        archive.pages.update_page(ids["copy"], duplicate_of="https://www.aalto.fi/fi/uutiset/a")
    return ids


@pytest.mark.parametrize("few_hits", [1000, 0], ids=["from-hits", "walk"])
def test_search_changes_reads_the_newest_matches_without_stored_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, few_hits: int
) -> None:
    """An ad-hoc search (serve's /search.xml) has no stored matches and a read-only archive:
    its events come from the index of every version, newest first, each once."""
    monkeypatch.setattr(stored, "FEW_HITS", few_hits)  # both plans answer alike
    with Archive(tmp_path / "a.db") as archive:
        ids = _search_site(archive)
    with Archive(tmp_path / "a.db", readonly=True) as archive:

        def found(limit: int = 50, **filters: Any) -> list[tuple[str, int]]:
            rows = archive.watches.search(Watch(name="search", query="Vantaa", **filters), limit)
            return [(r["change"], r["page_id"]) for r in rows]

        edited, partner, fi = ids["edited"], ids["partner"], ids["fi"]
        # Newest first; an edit that removes the word matches by the version before it, one
        # where both versions match is listed once; the duplicate page and event are left out.
        everything = [("modified", edited)] * 3 + [("new", partner), ("new", fi)]
        assert found() == everything
        assert [r["id"] for r in archive.watches.search(Watch(name="s", query="Vantaa"), 50)] == [
            7, 6, 5, 2, 1
        ]  # fmt: skip
        assert found(limit=2) == everything[:2]
        assert found(kinds=("partnership",)) == [("new", partner)]
        assert found(langs=("fi",)) == [("new", fi)]
        assert found(changes=("new",)) == [("new", partner), ("new", fi)]
        assert found(categories=("Research", "Nope")) == [("new", partner)]
        assert found(categories=("Campus",), kinds=("news",)) == [("new", fi)]
        assert found(categories=("Nope",)) == []
        assert archive.watches.search(Watch(name="s", query="Otaniemi"), 50) == []


def test_search_changes_agrees_with_the_watch_filters(tmp_path: Path) -> None:
    """The filters in SQL mean what watchmatch.passes_filters means for a stored match."""
    with Archive(tmp_path / "a.db") as archive:
        _search_site(archive)
        events = {
            r["id"]: {**dict(r), "categories": json.loads(r["categories"])}
            for r in archive.conn.execute(
                "SELECT c.id, c.change, p.kind, p.lang, v.categories FROM changes c"
                " JOIN pages p ON p.id = c.page_id JOIN versions v ON v.page_id = c.page_id"
                " AND v.version = c.version WHERE c.change != 'duplicate'"
                " AND p.duplicate_of IS NULL"
            )
        }
        for filters in (
            {"kinds": ("news",)}, {"langs": ("en", "fi")}, {"changes": ("modified",)},
            {"categories": ("Campus",)}, {"kinds": ("partnership",), "categories": ("Campus",)},
        ):  # fmt: skip
            watch = Watch(name="s", query="Vantaa OR Helsinki OR nothing", **filters)
            got = [r["id"] for r in archive.watches.search(watch, 50)]
            assert got == sorted(
                (i for i, e in events.items() if watchmatch.passes_filters(watch, e)), reverse=True
            ), filters


def test_search_changes_lead_with_a_snippet_that_text_cannot_fake(tmp_path: Path) -> None:
    with Archive(tmp_path / "a.db") as archive:
        site = Site(archive)
        url = "https://www.aalto.fi/en/news/x"
        page = site.new(url, f"A {watchmatch.MARK_OPEN}fake{watchmatch.MARK_CLOSE} and Vantaa.")
        site.edit(page, url, "Gone.")
        gone, new = archive.watches.search(Watch(name="s", query="Vantaa"), 50)
    # The edit that removed the word shows where it was, in the version before.
    for row in (gone, new):
        assert [p for p in watchmatch.snippet_parts(row["snippet"]) if p[1]] == [("Vantaa", True)]
    assert "<mark><strong>Vantaa</strong></mark>" in snippet_html(new["snippet"])


def test_search_changes_plans_are_bounded(tmp_path: Path) -> None:
    """A query with many hits walks the events newest first, a query with few looks up their
    events by id: neither sorts every match, each reads the index once. Planned with the
    statistics of a long-lived archive (a tiny one may just be scanned)."""
    with Archive(tmp_path / "a.db") as archive:
        _search_site(archive)
        archive.conn.execute("ANALYZE")
        archive.conn.execute(
            "UPDATE sqlite_stat1 SET stat = '300000' || substr(stat, instr(stat || ' ', ' '))"
            " WHERE tbl IN ('changes', 'versions', 'pages')"
        )
        archive.conn.execute("ANALYZE sqlite_schema")  # the planner reads them again
        category = " AND " + stored._FILTERS["categories"]
        params = {"query": "Vantaa", "limit": 50, "categories": "[]"}
        plans = {
            events: " | ".join(
                r[3]
                for r in archive.conn.execute(
                    "EXPLAIN QUERY PLAN " + stored._SEARCH.format(events=events, filters=category),
                    params,
                )
            )
            for events in ("", stored._HIT_EVENTS)
        }
    assert plans[""].startswith("SCAN c |")
    assert plans[stored._HIT_EVENTS].startswith("SEARCH c USING INTEGER PRIMARY KEY")
    for plan in plans.values():
        assert "TEMP B-TREE" not in plan and plan.count("SCAN versions_fts") == 1, plan


def test_compacting_the_matches_keeps_every_row_in_fewer_pages(tmp_path: Path) -> None:
    with Archive(tmp_path / "a.db") as archive:
        rows = [
            (f"w{w}", change, f"…snippet {w} {change} " + "x" * 120, utc_now(), change % 2)
            for change in range(3000, 0, -1)  # newest first, as a backfill writes them
            for w in range(5)
        ]
        with archive.transaction():
            archive.conn.executemany("INSERT INTO watch_matches VALUES (?, ?, ?, ?, ?)", rows)
        before = sorted(map(tuple, archive.conn.execute("SELECT * FROM watch_matches")))
        archive.reclaim_space()
        pages = archive.conn.execute("PRAGMA page_count").fetchone()[0]
        assert archive.watches.compact_matches() == len(rows)
        archive.reclaim_space()
        assert sorted(map(tuple, archive.conn.execute("SELECT * FROM watch_matches"))) == before
        assert archive.conn.execute("PRAGMA page_count").fetchone()[0] < pages * 0.8
