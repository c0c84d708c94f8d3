"""History rules of docs/DESIGN.md §4: the rule table on the pure decision (no database), the
rest on a real SQLite archive in a tmp dir, and storage applying a decision as it is."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sqlite3
import subprocess
import time
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from aaltowatch.core.decision import Alert, Decision, PageUpdate
from aaltowatch.core.items import Gone, Unchanged
from aaltowatch.testing.snapshot_server import SnapshotServer
from pages.article import PageItem
from pipeline.history import Stored, decide_page
from pipeline.normalise import normalise
from pipeline.recorder import Recorder
from storage import Archive, open_archive
from tests.conftest import CLI, cli_env, crawl

URL = "https://www.aalto.fi/en/news/example-story"
OTHER = "https://www.aalto.fi/en/news/zz-other-story"
SELECTORS = {f: "selector" for f in ("title", "lead", "body", "published", "updated")}
NOW = "2026-02-02T12:00:00Z"


def item(**changes: Any) -> PageItem:
    base = PageItem(
        url=URL,
        kind="news",
        lang="en",
        title="Mäkelä: Aalto and Espoo sign an agreement",
        lead="A short lead.",
        body="First paragraph of the story.\n\nSecond paragraph with more words.",
        published="2026-01-20T10:00:00Z",
        updated="2026-01-20T10:00:00Z",
        categories=["Cooperation"],
        contacts=[
            {
                "name": "Ann Example",
                "title": "Director",
                "organisation": None,
                "email": None,
                "phone": None,
            }
        ],
        images=[
            {
                "src": "https://www.aalto.fi/a.jpg",
                "alt": "Alt",
                "caption": "Cap",
                "credit": "Photo: X",
            }
        ],
        translations={"fi": "https://www.aalto.fi/fi/uutiset/esimerkki"},
        extraction=dict(SELECTORS),
    )
    return dataclasses.replace(base, **changes)


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    with open_archive(tmp_path / "a.db") as a:
        yield a


def record(archive: Archive, *items: PageItem, run: str = "news") -> list[Any]:
    recorder = Recorder(archive, archive.runs.start_run(run, "http://127.0.0.1"))
    return [recorder.record_page(normalise(i)) for i in items]


def count(archive: Archive, table: str) -> int:
    return archive.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


SECOND_OBSERVATION = [
    # (case, changes to the second observation, expected change, expected fields)
    ("identical", {}, None, []),
    ("updated only", {"updated": "2026-02-01T00:00:00Z"}, None, []),
    (
        "whitespace in body",
        {"body": "  First   paragraph of the\nstory.\n\n\nSecond paragraph with  more words. "},
        None,
        [],
    ),
    (
        "image cache-buster",
        {
            "images": [
                {
                    "src": "https://www.aalto.fi/a.jpg?itok=new",
                    "alt": "Alt",
                    "caption": "Cap",
                    "credit": "Photo: X",
                }
            ]
        },
        None,
        [],
    ),
    ("title", {"title": "Mäkelä: Aalto and Espoo signed an agreement"}, "modified", ["title"]),
    (
        "body and updated",
        {"body": "Rewritten.", "updated": "2026-02-01T00:00:00Z"},
        "modified",
        ["body", "updated"],
    ),
    ("contacts", {"contacts": []}, "modified", ["contacts"]),
    (
        "caption",
        {"images": [{"src": "x", "alt": "Alt", "caption": "New", "credit": "Photo: X"}]},
        "modified",
        ["images"],
    ),
    ("categories kept when unknown", {"categories": []}, None, []),
    (
        "categories changed",
        {"categories": ["Cooperation", "University"]},
        "modified",
        ["categories"],
    ),
    (
        "NFC vs NFD title",
        {"title": unicodedata.normalize("NFD", "Mäkelä: Aalto and Espoo sign an agreement")},
        None,
        [],
    ),
]


def stored_after(decision: Decision, page_id: int = 1) -> Stored:
    """What the archive holds after a new page's decision, without an archive."""
    page = {"id": page_id, "status": "live", "moved_to": None, **decision.insert, **decision.page}
    return Stored(page=page, current={**decision.version, "page_id": page_id})


@pytest.mark.parametrize(("case", "changes", "change", "fields"), SECOND_OBSERVATION)
def test_second_observation(
    case: str, changes: dict, change: str | None, fields: list[str]
) -> None:
    first = decide_page(normalise(item()), Stored(), run_id=1, now=NOW)
    before = stored_after(first)
    second = decide_page(normalise(item(**changes)), before, run_id=2, now=NOW)
    assert first.outcome.change == "new"
    assert second.outcome.change == change, case
    assert second.outcome.fields == fields, case
    versions = 1 + (second.version is not None)
    assert versions == (2 if change else 1), case
    page = {**before.page, **second.page}
    assert page["version_count"] == versions
    assert page["current_version"] == versions


def test_storage_applies_a_decision_faithfully(archive: Archive) -> None:
    run_id = archive.runs.start_run("news", "http://127.0.0.1")
    other = decide_page(normalise(item(url=OTHER)), Stored(), run_id=run_id, now=NOW)
    other_id = archive.history.apply(other)
    fetch = {"url": URL, "status": 200, "fetched_at": NOW, "body": b"<html>", "sha256": "s1",
             "etag": '"e1"'}  # fmt: skip
    observed = normalise(item(sitemap_lastmod="2026-01-21T00:00:00Z", fetch=fetch))
    decision = dataclasses.replace(
        decide_page(observed, Stored(), run_id=run_id, now=NOW),
        links=(PageUpdate(other_id, {"near_duplicate_of": URL}),),
        alerts=(Alert("suspicious_version", "a message", "warning", URL),),
    )
    page_id = archive.history.apply(decision)

    page = archive.pages.page_by_id(page_id)
    assert {k: page[k] for k in {**decision.insert, **decision.page}} == {
        **decision.insert,
        **decision.page,
    }
    version = archive.pages.version(page_id)
    assert {k: version[k] for k in decision.version} == {**decision.version, "page_id": page_id}
    (change,) = archive.pages.changes_of_page(page_id)
    assert {k: change[k] for k in decision.changes[0]} == {
        **decision.changes[0],
        "page_id": page_id,
    }
    assert archive.pages.page_by_id(other_id)["near_duplicate_of"] == URL
    alerts = [(a["check_name"], a["message"], a["severity"], a["url"], a["run_id"])
              for a in archive.runs.alerts(run_id=run_id)]  # fmt: skip
    assert alerts == [("suspicious_version", "a message", "warning", URL, run_id)]
    checks = [(c["outcome"], c["http_status"], c["run_id"], c["url"], c["checked_at"])
              for c in archive.plan.checks_of_page(page_id)]  # fmt: skip
    assert checks == [(c.outcome.value, c.http_status, run_id, c.url, NOW) for c in decision.checks]
    info = archive.fetches.fetch_info(URL)
    assert (info["etag"], info["raw_sha256"], info["sitemap_lastmod"]) == (
        '"e1"',
        "s1",
        "2026-01-21T00:00:00Z",
    )
    assert archive.fetches.raw_body("s1") == b"<html>"


def test_suspicious_versions_are_alerts_not_changes(archive: Archive) -> None:
    fallback = dict(SELECTORS, body="fallback", title="fallback")
    outcomes = record(
        archive,
        item(),
        item(body="", flags=["empty_body"]),
        item(body="Something else entirely.", extraction=fallback),
    )
    assert [o.change for o in outcomes] == ["new", None, None]
    assert outcomes[1].flagged == ["empty_body"]
    assert outcomes[2].flagged == ["layout_drift:title", "layout_drift:body"]
    assert count(archive, "versions") == 1
    assert archive.pages.version(archive.pages.page(URL)["id"])["body"].startswith(
        "First paragraph"
    )
    assert [a["check_name"] for a in archive.runs.alerts()] == ["suspicious_version"] * 2


def test_removed_on_404_and_410_then_restored(archive: Archive) -> None:
    record(archive, item(), item(url=OTHER, title="Other"))
    recorder = Recorder(archive, archive.runs.start_run("news", "x"))
    assert recorder.record_gone(Gone(URL, 404)).change == "removed"
    assert recorder.record_gone(Gone(OTHER, 410)).change == "removed"
    assert recorder.record_gone(Gone(URL, 404)).change is None  # once only
    assert archive.pages.page(URL)["status"] == "removed"
    back = record(archive, item())
    assert back[0].change == "restored"
    assert archive.pages.page(URL)["status"] == "live"
    changes = [c["change"] for c in reversed(archive.queries.changes())]
    assert changes == ["new", "new", "removed", "removed", "restored"]


def test_duplicates_point_at_the_first_url(archive: Archive) -> None:
    twin = URL + "-1"
    outcomes = record(archive, item(url=twin), item(url=URL))
    assert [o.change for o in outcomes] == ["new", "new"]
    events = {c["url"]: c["change"] for c in archive.queries.changes()}
    assert events == {URL: "new", twin: "duplicate"}  # whatever the order of arrival
    assert archive.pages.page(twin)["duplicate_of"] == URL
    assert archive.pages.page(URL)["duplicate_of"] is None
    later = record(archive, item(url=URL + "-2"))
    assert later[0].change == "duplicate"
    assert archive.pages.page(URL + "-2")["duplicate_of"] == URL


def test_near_duplicates_are_flagged(archive: Archive) -> None:
    body = " ".join(f"word{i}" for i in range(300))
    record(archive, item(body=body), item(url=OTHER, title="Other", body=body + " extra"))
    assert archive.pages.page(OTHER)["near_duplicate_of"] == URL


def test_moved_page_keeps_its_history(archive: Archive) -> None:
    new_url = URL + "-renamed"
    record(archive, item(), item(title="Second title"))
    outcomes = record(archive, item(url=new_url, title="Second title", moved_from=URL))
    assert outcomes[0].change == "moved"
    assert archive.pages.page(URL) is None
    page = archive.pages.page(new_url)
    assert page["version_count"] == 2
    moved = archive.queries.changes(change="moved")[0]
    assert moved["moved_from"] == URL and moved["url"] == new_url


def test_moved_target_seen_first_in_the_same_run_is_folded_back(archive: Archive) -> None:
    new_url = URL + "-renamed"
    record(archive, item())
    recorder = Recorder(archive, archive.runs.start_run("news", "x"))
    assert recorder.record_page(normalise(item(url=new_url))).change == "duplicate"
    assert recorder.record_page(normalise(item(url=new_url, moved_from=URL))).change == "moved"
    assert archive.pages.page(URL) is None
    assert count(archive, "pages") == 1
    assert [c["change"] for c in reversed(archive.queries.changes())] == ["new", "moved"]


def test_a_new_url_with_a_live_pages_content_asks_for_that_page() -> None:
    """A move found from its new URL first: the old URL is asked in the same run, so its 301
    folds the two into one `moved` (the test above)."""
    twin = {"id": 7, "url": URL, "duplicate_of": None}
    new = normalise(item(url=URL + "-renamed"))
    decision = decide_page(new, Stored(twins=(twin,)), run_id=2, now=NOW)
    assert (decision.outcome.change, decision.outcome.ask) == ("duplicate", (URL,))
    replayed = decide_page(new, Stored(twins=(twin,)), run_id=2, now=NOW, replay=True)
    assert replayed.outcome.ask == ()
    assert decide_page(new, Stored(), run_id=2, now=NOW).outcome.ask == ()


def test_unchanged_page_with_new_categories(archive: Archive) -> None:
    record(archive, item())
    recorder = Recorder(archive, archive.runs.start_run("news", "x"))
    same = recorder.record_unchanged(Unchanged(URL, "304", ["Cooperation"]))
    assert same.change is None
    moved = recorder.record_unchanged(Unchanged(URL, "304", ["Cooperation", "Campus"]))
    assert (moved.change, moved.fields) == ("modified", ["categories"])
    assert archive.pages.version(archive.pages.page(URL)["id"])["categories"] == [
        "Campus",
        "Cooperation",
    ]
    reordered = recorder.record_unchanged(Unchanged(URL, "304", ["Cooperation", "Campus"]))
    assert reordered.change is None  # the listing and the feed may order them differently


def test_search_index_follows_the_current_version(archive: Archive) -> None:
    record(archive, item(), item(body="Vantaa is a growing city."))
    hits = archive.conn.execute("SELECT rowid FROM pages_fts WHERE pages_fts MATCH 'vantaa'")
    assert [h[0] for h in hits] == [archive.pages.page(URL)["id"]]
    old = archive.conn.execute("SELECT rowid FROM pages_fts WHERE pages_fts MATCH 'paragraph'")
    assert list(old) == []


def _slow(path: str, body: bytes) -> bytes:
    if "/news/" in path or "/collaboration/" in path:
        time.sleep(0.15)
    return body


def test_sigkill_mid_crawl_leaves_a_consistent_archive(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    with SnapshotServer("state-1", transform=_slow) as server:
        cmd = [*CLI, "--db", str(db), "--base-url", server.url, "crawl", "--no-progress"]
        proc = subprocess.Popen(cmd, env=cli_env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 60
        stored = 0
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            try:
                conn = sqlite3.connect(db, timeout=5)
                stored = conn.execute("SELECT COUNT(*) FROM versions").fetchone()[0]
                conn.close()
            except sqlite3.OperationalError:
                continue
            if stored >= 5:
                break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert stored >= 5, "the crawl did not get far enough to be killed mid-way"

        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        broken = conn.execute(
            "SELECT COUNT(*) FROM pages p WHERE p.version_count !="
            " (SELECT COUNT(*) FROM versions v WHERE v.page_id = p.id)"
            " OR NOT EXISTS (SELECT 1 FROM versions v WHERE v.page_id = p.id"
            " AND v.version = p.current_version)"
        ).fetchone()[0]
        assert broken == 0
        conn.close()

        done = crawl(db, server.url)
        assert done.returncode == 0, done.stderr
    conn = sqlite3.connect(db)
    per_page = conn.execute(
        "SELECT url, COUNT(*) FROM changes WHERE change IN ('new', 'duplicate') GROUP BY page_id"
    ).fetchall()
    assert per_page and all(n == 1 for _, n in per_page)
    assert conn.execute("SELECT COUNT(*) FROM pages").fetchone()[0] == 60
    statuses = [r[0] for r in conn.execute("SELECT status FROM runs ORDER BY id")]
    assert "abandoned" in statuses  # killed: its process died, so it is judged, not skipped
    abandoned = "SELECT COUNT(*) FROM alerts WHERE check_name = 'run_abandoned'"
    assert conn.execute(abandoned).fetchone()[0]
    assert json.loads(conn.execute("SELECT stats FROM runs ORDER BY id DESC").fetchone()[0])


def test_duplicates_are_released_when_the_original_changes_or_goes(archive: Archive) -> None:
    a, b, c = URL, URL + "-1", URL + "-2"
    record(archive, item(url=a), item(url=b), item(url=c))
    assert [archive.pages.page(u)["duplicate_of"] for u in (b, c)] == [a, a]
    record(archive, item(url=a, body="The original was rewritten."))
    assert archive.pages.page(b)["duplicate_of"] is None  # first of the remaining twins
    assert archive.pages.page(c)["duplicate_of"] == b
    Recorder(archive, archive.runs.start_run("news", "x")).record_gone(Gone(b, 404))
    assert archive.pages.page(c)["duplicate_of"] is None


def test_move_onto_a_page_with_its_own_history_names_the_new_url(archive: Archive) -> None:
    target = URL + "-new"
    record(archive, item(), item(url=target, title="Other"))
    record(archive, item(url=target, title="Other", moved_from=URL))
    moved = archive.queries.changes(change="moved")[0]
    assert (moved["url"], moved["moved_from"]) == (target, URL)
    assert archive.pages.page(URL)["status"] == "moved"


def test_a_304_without_validators_keeps_the_stored_ones(archive: Archive) -> None:
    now = "2026-01-01T00:00:00Z"
    archive.fetches.record_fetch(URL, status=200, fetched_at=now, body=b"x", sha256="s", etag='"e"',
                         last_modified="Tue, 20 Jan 2026 16:00:00 GMT")  # fmt: skip
    archive.fetches.record_fetch(URL, status=304, fetched_at=now, etag=None, last_modified=None)
    info = archive.fetches.fetch_info(URL)
    assert (info["etag"], info["last_modified"]) == ('"e"', "Tue, 20 Jan 2026 16:00:00 GMT")


def test_a_field_the_previous_version_was_not_extracted_with_is_no_change() -> None:
    """A field declared after a version was stored (its first version id in `field_since`)
    is not compared with that version: the old version has no value, not another one."""
    first = decide_page(normalise(item()), Stored(), run_id=1, now=NOW)
    before = stored_after(first)
    before = dataclasses.replace(before, current={**before.current, "id": 7})
    retitled = normalise(item(title="A title the old version was never asked for"))
    added_later = dataclasses.replace(before, field_since={"title": 8})
    assert decide_page(retitled, added_later, run_id=2, now=NOW).outcome.change is None
    extracted_with = dataclasses.replace(before, field_since={"title": 7})
    second = decide_page(retitled, extracted_with, run_id=2, now=NOW)
    assert (second.outcome.change, second.outcome.fields) == ("modified", ["title"])


def test_a_field_added_to_an_archive_does_not_flag_its_pages(tmp_path: Path) -> None:
    """An archive made before a compared field: the column is added on opening, the first
    version id with it recorded, and the next crawl marks no stored page `modified`."""
    path = tmp_path / "a.db"
    with open_archive(path) as archive:
        record(archive, item())
        # As if `translations` were declared after this archive was made.
        archive.conn.execute("ALTER TABLE versions DROP COLUMN translations")
    with open_archive(path) as archive:
        assert "translations" in {c.name for c in archive.db["versions"].columns}
        assert archive.meta()["field_since.translations"] == "2"
        (same,) = record(archive, item(translations={"sv": "https://www.aalto.fi/sv/x"}))
        assert (same.change, count(archive, "versions")) == (None, 1)
        (changed,) = record(archive, item(title="New", translations={"sv": "https://x.fi/"}))
        assert (changed.change, changed.fields) == ("modified", ["title"])
        (again,) = record(archive, item(title="New", translations={}))
        assert (again.change, again.fields) == ("modified", ["translations"])
