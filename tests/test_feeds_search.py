"""Ad-hoc search feeds from `serve`: /search.xml?q=… and /search.atom, a watch without config.

A real archive (two crawled states), a real server on 127.0.0.1, feedparser reading back.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import feedparser
import pytest

from feeds.search import MAX_QUERY_CHARS, SearchFeeds
from feeds.serve import FeedServer
from storage import Archive
from tests.conftest import cli_env

TAG = "tag:www.aalto.fi,2026:feed/"


@pytest.fixture
def served(two_state_copy: Path, tmp_path: Path) -> Iterator[tuple[FeedServer, Path]]:
    """A server whose search feeds read the two-state archive (no built feeds needed)."""
    with FeedServer(tmp_path, port=0, search=SearchFeeds(two_state_copy, 50)) as server:
        yield server, two_state_copy


def _get(
    server: FeedServer, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def _feed(server: FeedServer, path: str) -> feedparser.FeedParserDict:
    status, _, body = _get(server, path)
    assert status == 200, body
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def _matching_events(
    db: Path, words: str, kinds: tuple[str, ...], changes: tuple[str, ...]
) -> set[int]:
    """Change ids a search for any of `words` must list, found without the full-text index:
    events (no duplicates) whose version, or an edit's previous version, has one of them."""
    word = re.compile(rf"\b({words})\b", re.IGNORECASE)
    with Archive(db, readonly=True) as archive:
        rows = archive.conn.execute(
            "SELECT c.id, c.change, p.kind,"
            " v.title || ' ' || COALESCE(v.lead, '') || ' ' || v.body,"
            " pv.title || ' ' || COALESCE(pv.lead, '') || ' ' || pv.body"
            " FROM changes c JOIN pages p ON p.id = c.page_id"
            " LEFT JOIN versions v ON v.page_id = c.page_id"
            " AND v.version = COALESCE(c.version, c.previous_version)"
            " LEFT JOIN versions pv ON c.change = 'modified' AND pv.page_id = c.page_id"
            " AND pv.version = c.previous_version"
            " WHERE c.change != 'duplicate' AND p.duplicate_of IS NULL"
        ).fetchall()
    return {
        row[0]
        for row in rows
        if row[1] in changes and row[2] in kinds and any(word.search(t or "") for t in row[3:])
    }


def test_a_search_feed_is_the_watch_it_describes(served: tuple[FeedServer, Path]) -> None:
    server, db = served
    rss = _feed(server, "/search.xml?q=Vantaa+OR+Espoo&kind=partnership&change=new,modified")
    atom = _feed(server, "/search.atom?q=Vantaa+OR+Espoo&kind=partnership&change=new,modified")
    name = "search?q=Vantaa+OR+Espoo&kind=partnership&change=new,modified"
    expected = _matching_events(db, "Vantaa|Espoo", ("partnership",), ("new", "modified"))
    assert expected  # the archive has matches, so an empty feed is a failure
    assert [e.id for e in rss.entries] == [e.id for e in atom.entries]
    assert {e.id for e in rss.entries} == {f"{TAG}{name}/change/{i}" for i in expected}
    assert len(rss.entries) == len(expected)
    # Each entry leads with what matched, as a watch's entries do.
    for entry in rss.entries:
        lead = re.search(r"<p>Match: (.*?)</p>", entry.summary)
        assert lead, entry.summary
        marked = re.findall(r"<strong>(.*?)</strong>", lead.group(1))
        assert marked and all(m.lower() in ("vantaa", "espoo") for m in marked), lead.group(1)
    assert (
        rss.feed.title
        == "aaltowatch search: Vantaa OR Espoo (kind=partnership; change=new,modified)"
    )
    self_link = next(link.href for link in rss.feed.links if link.rel == "self")
    assert self_link == f"{server.url}{name.replace('search?', 'search.xml?')}"
    atom_self = next(link.href for link in atom.feed.links if link.rel == "self")
    assert atom_self == self_link.replace("search.xml?", "search.atom?")
    # Sanitised and rendered as every change feed: diffs with markers, no active content.
    body = _get(server, "/search.xml?q=Vantaa+OR+Espoo&change=modified")[2].decode()
    assert "{+" in body and "<script" not in body


def test_equal_searches_are_one_feed(served: tuple[FeedServer, Path]) -> None:
    server, _ = served
    one = _feed(server, "/search.xml?q=%20Helsinki%20%20OR%20Vantaa&lang=fi,en")
    two = _feed(server, "/search.xml?lang=en&lang=fi&q=Helsinki+OR+Vantaa&kind=")
    assert one.entries and [e.id for e in one.entries] == [e.id for e in two.entries]
    assert one.feed.links == two.feed.links
    three = _feed(server, "/search.xml?q=Aalto&category=University,Campus")
    four = _feed(server, "/search.xml?category=Campus&q=Aalto&category=University")
    assert three.feed.links == four.feed.links and three.feed.title == four.feed.title


def test_entries_are_capped_and_validators_answer_304(two_state_copy: Path, tmp_path: Path) -> None:
    with FeedServer(tmp_path, port=0, search=SearchFeeds(two_state_copy, 2)) as server:
        status, headers, body = _get(server, "/search.xml?q=Aalto")
        assert status == 200 and len(feedparser.parse(body).entries) == 2
        assert headers["content-type"] == "application/rss+xml; charset=utf-8"
        again = _get(server, "/search.xml?q=Aalto", {"If-None-Match": headers["etag"]})
        assert again[0] == 304 and again[2] == b""


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ('q="Vantaa', "unbalanced double quote"),
        ("q=Vantaa+AND", "AND / OR / NOT need a search term"),
        ("q=*", "'*' only works at the end of a word"),
        ("q=" + "a" * (MAX_QUERY_CHARS + 1), f"longer than {MAX_QUERY_CHARS}"),
        ("q=", "give one search query"),
        ("", "give one search query"),
        ("q=a&q=b", "give one search query"),
        ("q=Vantaa&lang=de", "choose from en, fi, sv"),
        ("q=Vantaa&change=duplicate", "choose from new, modified"),
        ("q=Vantaa&lnag=fi", "unknown parameter 'lnag'"),
        ("q=" + quote("<script>alert(1)</script>"), "markup or control characters"),
        ("q=Vantaa" + "&category=x" * 11, "at most 10 values"),
        ("q=Vantaa" + "&lang=fi" * 50, "too many parameters"),
    ],
)
def test_a_bad_search_url_is_a_400_that_says_what_to_fix(
    served: tuple[FeedServer, Path], query: str, says: str
) -> None:
    server, _ = served
    status, headers, body = _get(server, f"/search.xml?{query}")
    assert status == 400, body
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert says in body.decode() and "Traceback" not in body.decode()
    assert _feed(server, "/search.xml?q=Vantaa").entries  # and the server carries on


def test_search_reads_the_archive_without_writing(served: tuple[FeedServer, Path]) -> None:
    server, db = served
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    for query in ("Vantaa", "Espoo", '"Aalto University"'):
        assert _feed(server, f"/search.atom?q={quote(query)}").entries
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_without_an_archive_search_is_503_and_files_still_serve(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!DOCTYPE html><title>x</title>", encoding="utf-8")
    with FeedServer(tmp_path, port=0, search=SearchFeeds(tmp_path / "none.db")) as server:
        status, _, body = _get(server, "/search.xml?q=Vantaa")
        assert status == 503 and b"none.db" not in body
        assert _get(server, "/index.html")[0] == 200
    with FeedServer(tmp_path, port=0) as server:  # no archive given: no search route
        assert _get(server, "/search.xml?q=Vantaa")[0] == 404


def test_cli_serve_answers_search_feeds_from_its_archive(
    two_state_copy: Path, tmp_path: Path
) -> None:
    """`aaltowatch serve` knows the archive (--db / AALTOWATCH_DB) and the entry limit."""
    (tmp_path / "feeds").mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "aaltowatch.cli", "--db", str(two_state_copy),
         "--feeds-dir", str(tmp_path / "feeds"), "serve", "--port", "0"],
        stderr=subprocess.PIPE, text=True, env=cli_env(),
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        url = ""
        for line in proc.stderr:
            match = re.search(r"at (http://\S+/) ", line)
            if match:
                url = match.group(1)
                break
        assert url, "serve printed no URL"
        parsed = feedparser.parse(f"{url}search.xml?q=Vantaa")
        assert parsed.bozo == 0 and parsed.entries
        assert parsed.entries[0].id.startswith(TAG + "search?q=Vantaa/change/")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
