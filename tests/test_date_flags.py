"""Declared vs observed dates (pipeline.dates): the rules table, then the snapshot's two days."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.dates import EDITED_FIELDS, TOLERANCE, DateFlag, date_flags
from storage import Archive
from tests.conftest import run_cli

SILENT, BACK, FORWARD = DateFlag.SILENT_EDIT, DateFlag.BACKDATED, DateFlag.FORWARD_DATED
WINDOW = DateFlag.IMPLAUSIBLE
SEEN = "2026-01-21T16:00:00Z"
V1 = {
    "title": "Espoo and Aalto",
    "lead": "Lead.",
    "body": "One.\n\nTwo.",
    "published": "2026-01-10T09:00:00Z",
    "updated": "2026-01-12T09:00:00Z",
    "categories": ["Cooperation"],
    "contacts": [],
    "images": [{"src": "/a.jpg?itok=1", "alt": "a", "caption": None, "credit": None}],
    "translations": {"fi": "https://www.aalto.fi/fi/uutiset/x"},
}


def v2(**changes: object) -> dict:
    return {**V1, **changes}


RULES = [
    # (case, previous, new, expected flags)
    ("new page, past date", None, V1, []),
    # Beyond the plausible window too (core.fields.FUTURE_MARGIN): feeds date it by its sighting.
    ("new page dated next week", None, v2(published="2026-01-28T09:00:00Z"), [FORWARD, WINDOW]),
    ("new page dated tomorrow", None, v2(published="2026-01-22T20:00:00Z"), [FORWARD]),
    ("new page dated year 1", None, v2(published="0001-01-01T00:00:00Z"), [WINDOW]),
    ("update dated 9999", V1, v2(updated="9999-12-31T23:59:59Z"), [WINDOW]),
    ("implausible date kept, body edited", v2(published="2999-01-01T00:00:00Z"),
     v2(published="2999-01-01T00:00:00Z", body="One."), [SILENT]),
    ("new page, local time read as UTC", None, v2(published="2026-01-22T02:00:00Z"), []),
    ("new page without dates", None, v2(published=None, updated=None), []),
    ("title fixed, updated kept", V1, v2(title="Espoo and Aalto!"), [SILENT]),
    ("body edited, updated moved", V1, v2(body="One.", updated="2026-01-21T08:00:00Z"), []),
    ("lead edited, no updated declared", v2(updated=None), v2(lead="New.", updated=None), []),
    ("contacts edited, updated moved back", V1,
     v2(contacts=[{"name": "A"}], updated="2026-01-11T00:00:00Z"), [SILENT]),
    ("image caption edited silently", V1,
     v2(images=[{"src": "/a.jpg", "alt": "a", "caption": "New", "credit": None}]), [SILENT]),
    ("only image cache-buster moved", V1,
     v2(images=[{"src": "/a.jpg?itok=2", "alt": "a", "caption": None, "credit": None}]), []),
    ("categories from teasers changed", V1, v2(categories=["Campus"]), []),
    ("translation link added", V1, v2(translations={"fi": "x", "sv": "y"}), []),
    ("body whitespace only", V1, v2(body="One.\n\n\n  Two."), []),
    ("updated alone moved", V1, v2(updated="2026-01-20T00:00:00Z"), []),
    ("published moved back a week", V1, v2(published="2026-01-03T09:00:00Z"), [BACK]),
    ("published moved back by a time-zone offset", V1, v2(published="2026-01-10T06:00:00Z"), []),
    ("published moved later, still past", V1, v2(published="2026-01-15T09:00:00Z"), []),
    ("published moved into the future", V1, v2(published="2026-02-15T09:00:00Z"),
     [FORWARD, WINDOW]),
    ("future date unchanged, body edited", v2(published="2026-02-15T09:00:00Z"),
     v2(published="2026-02-15T09:00:00Z", body="x", updated="2026-01-21T00:00:00Z"), []),
    ("silent title fix and backdating", V1,
     v2(title="T", published="2025-12-01T09:00:00Z"), [SILENT, BACK]),
    ("unparsable dates are no evidence", V1, v2(title="T", updated="soon", published="?"), []),
]  # fmt: skip


@pytest.mark.parametrize(("case", "previous", "new", "flags"), RULES, ids=[r[0] for r in RULES])
def test_date_flag_rules(case: str, previous: dict | None, new: dict, flags: list) -> None:
    assert date_flags(previous, new, SEEN) == flags


def test_tolerance_is_the_widest_time_zone_offset() -> None:
    assert TOLERANCE.total_seconds() == 14 * 3600


def _expected_flags(expected: dict) -> dict[str, list[str]]:
    """From the ground truth: an edit of the page whose declared `updated` stayed put is a silent
    edit; a new page dated beyond the observation is forward-dated; nothing else."""
    day1 = {p["url"]: p for p in expected["state-1"]["pages"]}
    day2 = {p["url"]: p for p in expected["state-2"]["pages"]}
    out: dict[str, list[str]] = {}
    for mod in expected["changes_1_to_2"]["modified"]:
        before, after = day1[mod["url"]], day2[mod["url"]]
        if EDITED_FIELDS & set(mod["fields"]) and after["updated"] == before["updated"]:
            assert "updated" not in mod["fields"]
            out[mod["url"]] = [SILENT.value]
    now = datetime.now(UTC)
    for url in expected["changes_1_to_2"]["new"]:
        published = day2[url]["published"]
        if published and datetime.fromisoformat(published) > now + TOLERANCE:
            out[url] = [FORWARD.value]
    return out


def test_snapshot_day2_flags_exactly_the_silent_title_fix(
    two_state_db: Path, expected: dict
) -> None:
    want = _expected_flags(expected)
    assert any(flags == [SILENT.value] for flags in want.values())  # the snapshot has one
    proc = run_cli("changes", "--json", db=two_state_db, check=True)
    records = json.loads(proc.stdout)
    assert all(isinstance(r["flags"], list) for r in records)
    got = {r["url"]: r["flags"] for r in records if r["flags"]}
    assert got == want
    with Archive(two_state_db, readonly=True) as archive:
        rows = archive.conn.execute("SELECT url, flag FROM date_anomalies").fetchall()
    assert sorted((url, flag) for url, flag in rows) == sorted(
        (url, flag) for url, flags in want.items() for flag in flags
    )


def test_change_feed_entry_carries_the_flag(two_state_copy: Path, tmp_path: Path) -> None:
    import feedparser

    from feeds.build import build_feeds

    with Archive(two_state_copy) as archive:
        build_feeds(archive, tmp_path / "feeds")
        flagged = archive.conn.execute("SELECT change_id FROM date_anomalies").fetchall()
    feed = feedparser.parse((tmp_path / "feeds" / "changes.atom").read_bytes())
    assert feed.bozo == 0
    tagged = [e for e in feed.entries if "silent_edit" in {t.term for t in e.get("tags", [])}]
    assert len(tagged) == len(flagged) >= 1
    assert all("[silent_edit]" in e.title and "Date flags" in e.content[0].value for e in tagged)


def test_a_reader_brings_an_older_archive_up_to_date(tmp_path: Path) -> None:
    from sqlite_utils import Database

    from storage import migrations

    db = Database(tmp_path / "old.db")
    migrations.migrations.apply(db, stop_before="0006_partners")
    db.close()
    proc = run_cli("changes", "--json", db=tmp_path / "old.db")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []
    with Archive(tmp_path / "old.db", readonly=True) as archive:
        assert not migrations.migrations.pending(archive.db)
