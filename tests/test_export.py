"""`aaltowatch export`: the docs/DESIGN.md §7 shapes (ndjson, csv, json), filters, streaming."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from aaltowatch.core.urls import KINDS
from storage import Archive
from storage.export import write_export
from tests.conftest import run_cli

# docs/DESIGN.md §3 item fields without body_html, then the §7 archive fields, spelled out here on
# purpose: this is the contract users' scripts rely on, not whatever export.py says today.
ITEM_FIELDS = [
    *("url", "kind", "lang", "title", "lead", "body", "published", "updated", "categories"),
    *("contacts", "images", "translations", "fetched_at", "http_status", "raw_sha256"),
    "truncated",
]
ARCHIVE_FIELDS = [
    *("first_seen", "last_seen", "last_changed", "status", "version_count", "content_hash"),
    "duplicate_of",
]
CONTRACT = ITEM_FIELDS + ARCHIVE_FIELDS
LIST_FIELDS = ("categories", "contacts", "images")


def export(db: Path, *args: str) -> str:
    proc = run_cli("export", *args, db=db)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def ndjson(two_state_db: Path) -> list[dict]:
    return [json.loads(line) for line in export(two_state_db).splitlines()]


def test_ndjson_fields_are_exactly_the_contract(ndjson):
    assert ndjson
    for record in ndjson:
        assert list(record) == CONTRACT
        assert "body_html" not in record


def test_ndjson_values(ndjson, expected):
    by_url = {r["url"]: r for r in ndjson}
    changes = expected["changes_1_to_2"]
    assert {r["status"] for r in ndjson} == {"live", "removed"}
    for url in changes["removed"]:
        assert by_url[url]["status"] == "removed"
    for url in changes["new"]:
        assert by_url[url]["status"] == "live" and by_url[url]["version_count"] == 1
    for modified in changes["modified"]:
        assert by_url[modified["url"]]["version_count"] == 2
    (moved,) = changes["moved"]
    assert moved["to"] in by_url and moved["from"] not in by_url
    for dup in changes["duplicates"]:
        assert by_url[dup["url"]]["duplicate_of"] == dup["duplicate_of"]
    for record in ndjson:
        assert record["kind"] in KINDS and record["lang"] in ("en", "fi", "sv")
        assert all(isinstance(record[f], list) for f in LIST_FIELDS)
        assert isinstance(record["translations"], dict)
        assert record["first_seen"] <= record["last_changed"] <= record["last_seen"]
        assert len(record["content_hash"]) == 64


def test_csv_parses_with_the_csv_module(two_state_db, ndjson):
    rows = list(csv.DictReader(io.StringIO(export(two_state_db, "--format", "csv"))))
    assert len(rows) == len(ndjson)
    assert list(rows[0]) == CONTRACT
    for row, record in zip(rows, ndjson, strict=True):
        assert row["url"] == record["url"]
        assert row["body"] == record["body"]  # multi-line cells survive quoting
        assert json.loads(row["categories"]) == record["categories"]
        assert json.loads(row["contacts"]) == record["contacts"]


def test_json_is_one_array(two_state_db, ndjson):
    assert json.loads(export(two_state_db, "--format", "json")) == ndjson


def test_filters(two_state_db, ndjson, expected):
    partners = [json.loads(x) for x in export(two_state_db, "--kind", "partnership").splitlines()]
    assert partners and {r["kind"] for r in partners} == {"partnership"}
    assert len(partners) == sum(r["kind"] == "partnership" for r in ndjson)
    finnish = json.loads(export(two_state_db, "--format", "json", "--lang", "fi"))
    assert finnish and {r["lang"] for r in finnish} == {"fi"}
    # --since: from the second crawl's first new page on, not the first crawl's pages.
    new = set(expected["changes_1_to_2"]["new"])
    since = min(r["first_seen"] for r in ndjson if r["url"] in new)
    recent = [json.loads(x) for x in export(two_state_db, "--since", since).splitlines()]
    assert all(r["last_changed"] >= since for r in recent)
    assert new <= {r["url"] for r in recent}
    assert len(recent) < len(ndjson)


def test_empty_exports_still_parse(two_state_db):
    assert json.loads(export(two_state_db, "--format", "json", "--since", "2999-01-01")) == []
    assert export(two_state_db, "--since", "2999-01-01") == ""
    header = export(two_state_db, "--format", "csv", "--since", "2999-01-01")
    assert next(csv.reader(io.StringIO(header))) == CONTRACT


def test_bad_since_is_a_usage_error(two_state_db):
    proc = run_cli("export", "--since", "last tuesday", db=two_state_db)
    assert proc.returncode == 2 and "ISO 8601" in proc.stderr


class Watched(io.StringIO):
    """Remembers how many records had been pulled when each write happened."""

    def __init__(self, pulled: list[int]) -> None:
        super().__init__()
        self.pulled = pulled
        self.seen: list[int] = []

    def write(self, s: str) -> int:
        self.seen.append(self.pulled[0])
        return super().write(s)


@pytest.mark.parametrize("fmt", ["ndjson", "csv", "json"])
def test_export_streams(two_state_db, fmt):
    with Archive(two_state_db, readonly=True) as archive:
        pages = archive.queries.export_pages()
        assert iter(pages) is pages  # an iterator, not a list
        pulled = [0]

        def counted() -> Iterator[dict]:
            for record in pages:
                pulled[0] += 1
                yield record

        out = Watched(pulled)
        total = write_export(counted(), fmt, out)
    assert total == pulled[0] > 3
    # The first record is written before the second is read: nothing is buffered.
    assert 1 in out.seen and out.seen.index(1) < len(out.seen) - 1
    assert min(s for s in out.seen if s > 0) == 1


def test_an_old_url_with_status_moved_is_not_a_page_of_its_own(two_state_copy):
    """§7 promises status live|removed: a 301 source that kept its own history is skipped."""
    with Archive(two_state_copy) as archive:
        url = archive.pages.known_urls("news")[0]
        archive.pages.update_page(
            archive.pages.page(url)["id"], status="moved", moved_to="https://x"
        )
        records = list(archive.queries.export_pages())
    assert url not in {r["url"] for r in records}
    assert {r["status"] for r in records} == {"live", "removed"}


def test_published_since_filters_on_the_site_date_and_since_on_last_changed(two_state_db, ndjson):
    """`--since` is when the archive saw the content change (every page of a first crawl);
    `--published-since` is the date the site gives the page."""
    cutoff = sorted(r["published"] for r in ndjson if r["kind"] == "news" and r["published"])
    cutoff = cutoff[len(cutoff) // 2]
    args = ("--kind", "news", "--format", "ndjson")
    published = [json.loads(x) for x in export(two_state_db, *args, "--published-since", cutoff)
                 .splitlines()]  # fmt: skip
    assert published and all(r["published"] >= cutoff for r in published)
    news = [r for r in ndjson if r["kind"] == "news"]
    assert len(published) < len(news)
    changed = export(two_state_db, *args, "--since", cutoff).splitlines()
    assert len(changed) == len(news)  # the archive saw them all change after any site date
    bad = run_cli("export", "--published-since", "soon", db=two_state_db)
    assert bad.returncode == 2 and "--published-since" in bad.stderr
