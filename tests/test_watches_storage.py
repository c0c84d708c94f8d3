"""Watch matching in storage: every version is searchable (also in archives that predate it),
a change matches the text it produced, an edit that drops the term still reaches the watcher,
and the delivery ledger hands each event out once."""

from __future__ import annotations

from pathlib import Path

from sqlite_utils import Database

from aaltowatch.core.watchconfig import Watch
from storage import Archive, migrations
from storage import notifications as ledger
from storage.watches import count_watch_changes, watch_changes

NOW = "2026-01-20T16:00:00Z"


def _page(archive: Archive, url: str, texts: list[str], kind: str = "news") -> int:
    """A page with one version per text, and the change events a crawl would have stored."""
    with archive.transaction():
        page_id = archive.insert_page(
            {"url": url, "kind": kind, "lang": "en", "first_seen": NOW, "last_seen": NOW,
             "last_changed": NOW, "version_count": len(texts), "current_version": len(texts)}
        )  # fmt: skip
        for number, text in enumerate(texts, 1):
            archive.add_version(
                {"page_id": page_id, "version": number, "url": url, "fetched_at": NOW,
                 "content_hash": f"{url}{number}", "title": f"Page {number}", "body": text}
            )  # fmt: skip
            archive.add_change(
                {"page_id": page_id, "url": url, "change": "new" if number == 1 else "modified",
                 "detected_at": NOW, "version": number,
                 "previous_version": number - 1 if number > 1 else None,
                 "fields": [] if number == 1 else ["body"]}
            )  # fmt: skip
    return page_id


def test_migration_indexes_versions_stored_before_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = Database(path)  # an archive written by an aaltowatch from before watches
    migrations.migrations.apply(db, stop_before="0005_notifications")
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
    with Archive(path) as archive:  # upgraded on open: the old versions are searchable
        assert count_watch_changes(archive, Watch(name="v", query="Vantaa")) == 1
        assert count_watch_changes(archive, Watch(name="h", query="Helsinki")) == 0


def test_changes_match_the_version_they_produced(tmp_path: Path) -> None:
    with Archive(tmp_path / "a.db") as archive:
        url = "https://www.aalto.fi/en/news/b"
        page_id = _page(archive, url, ["Vantaa news", "Helsinki news", "Espoo news"])
        other = _page(archive, "https://www.aalto.fi/en/collaboration/c", ["Vantaa"], "partnership")

        def found(**filters: object) -> list[tuple[str, int]]:
            watch = Watch(name="w", **filters)  # type: ignore[arg-type]
            return [(r["change"], r["version"]) for r in watch_changes(archive, watch)]

        # v1 new (Vantaa) and v2 modified (Vantaa edited away) for page b; page c new.
        assert found(query="Vantaa") == [("new", 1), ("modified", 2), ("new", 1)]
        assert found(query="Espoo") == [("modified", 3)]
        assert found(query="Helsinki") == [("modified", 3), ("modified", 2)]
        assert found(query="Vantaa", kinds=("partnership",)) == [("new", 1)]
        assert found(query="Vantaa", changes=("modified",)) == [("modified", 2)]
        assert found(query="Vantaa", langs=("fi",)) == []

        # The ledger: what a target was sent or claimed is never pending again.
        target = ledger.register_target(archive, "w", "json://example.org/x")
        assert target["since_change"] == 4  # registered now: history is not sent
        late = _page(archive, "https://www.aalto.fi/en/news/d", ["Vantaa again"])
        pending = watch_changes(
            archive, Watch(name="w", query="Vantaa"), after=4, unsent_for=target["id"]
        )
        assert [r["page_id"] for r in pending] == [late]
        ledger.claim(archive, target["id"], [pending[0]["id"]], "event")
        assert ledger.resolve_stale_claims(archive) == 1  # a crash left it: unknown, not resent
        assert not watch_changes(
            archive, Watch(name="w", query="Vantaa"), after=4, unsent_for=target["id"]
        )
        # Deleting versions (a page discarded within its run) keeps the index consistent.
        with archive.transaction():
            archive.discard_page(other)
        hits = watch_changes(archive, Watch(name="w", query="Vantaa"))
        assert [r["page_id"] for r in hits] == [late, page_id, page_id]
