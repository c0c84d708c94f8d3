"""Feeds built from a real two-state archive: validity, order, stable ids, idempotence, safety."""

from __future__ import annotations

import re
from pathlib import Path

import feedparser
import pytest

from aaltowatch.core.urls import SECTIONS
from feeds import htmldiff
from feeds.build import build_feeds
from feeds.names import slugify
from pages.article import PageItem
from pages.fields import VERSION_COLUMNS
from pipeline.recorder import Recorder
from storage import Archive
from tests.conftest import run_cli

# The feed URLs an archive published before: an upgraded archive keeps every one.
FEED_FILES = ("news-en", "news-fi", "news-sv", "changes", "partnerships", "partners", "health")
# Every section's feeds (a section added to the site model adds its own).
SECTION_FEEDS = tuple(
    name
    for s in SECTIONS
    for name in (*s.page_feeds.values(), *([s.change_feed] if s.change_feed else []))
)
HOSTILE = (
    '<script>alert(1)</script> <img src=x onerror=alert(1)> <a href="javascript:alert(1)">x</a>'
    " \x00\x07\x1b"
)


def _parse(path: Path) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(path.read_bytes())
    assert parsed.bozo == 0, (path.name, parsed.get("bozo_exception"))
    return parsed


def _html(entry: feedparser.FeedParserDict) -> str:
    """The entry's HTML: Atom content, RSS content:encoded, or an RSS description alone."""
    return entry.content[0].value if entry.get("content") else entry.summary


def _feed_files(out: Path) -> list[Path]:
    return sorted([*out.glob("*.xml"), *out.glob("*.atom")])


@pytest.fixture
def built(two_state_copy: Path, tmp_path: Path) -> Path:
    out = tmp_path / "feeds"
    with Archive(two_state_copy) as archive:
        build_feeds(archive, out, max_entries=50)
    return out


def _record(archive: Archive, url: str, fetched_at: str, **changes: object):
    """Record a new observation of `url` (its current version with `changes`) via the pipeline."""
    page = archive.pages.page(url)
    assert page is not None
    current = archive.pages.version(page["id"])
    fields = {k: current[k] for k in VERSION_COLUMNS} | changes
    item = PageItem(
        url=url, kind=page["kind"], lang=page["lang"], fetched_at=fetched_at,
        extraction=page["extraction"], **fields,
    )  # fmt: skip
    run_id = archive.runs.start_run("test", "http://test")
    return Recorder(archive, run_id).record_page(item)


def test_every_feed_parses_and_is_newest_first(built: Path) -> None:
    names = {p.name for p in built.iterdir()}
    for stem in FEED_FILES:
        assert {f"{stem}.xml", f"{stem}.atom"} <= names
    assert {"feeds.opml", "index.html"} <= names
    assert any(n.startswith("category-research-and-art.") for n in names)
    for path in _feed_files(built):
        parsed = _parse(path)
        ids = [e.id for e in parsed.entries]
        assert len(ids) == len(set(ids)), path.name
        assert len(ids) <= 50
        key = (
            "published_parsed" if path.stem.startswith(("news-", "category-")) else "updated_parsed"
        )
        dates = [e.get(key) or e.get("published_parsed") for e in parsed.entries]
        assert all(dates), path.name
        assert dates == sorted(dates, reverse=True), path.name
        assert all(e.id.startswith("tag:www.aalto.fi,2026:") for e in parsed.entries)


def test_news_links_and_language(built: Path) -> None:
    for suffix in ("xml", "atom"):
        parsed = _parse(built / f"news-en.{suffix}")
        assert len(parsed.entries) > 10
        for entry in parsed.entries:
            assert entry.link.startswith("https://www.aalto.fi/en/news/")
            # Named by feed and canonical URL: the same story in a category feed is another.
            assert entry.id == "tag:www.aalto.fi,2026:feed/news-en" + entry.link.removeprefix(
                "https://www.aalto.fi"
            )
            assert entry.published_parsed and entry.title
        fi = _parse(built / f"news-fi.{suffix}")
        assert all(e.link.startswith("https://www.aalto.fi/fi/") for e in fi.entries)
    rss = _parse(built / "news-en.xml")
    assert any(e.get("content") for e in rss.entries)
    assert any(e.get("enclosures") for e in rss.entries)
    assert any(e.get("tags") for e in rss.entries)


def test_duplicates_are_not_in_news(built: Path, expected: dict) -> None:
    links = {e.link for e in _parse(built / "news-en.atom").entries}
    for dup in expected["changes_1_to_2"]["duplicates"]:
        assert dup["url"] not in links
        assert dup["duplicate_of"] in links


def test_changes_feed_has_day_two_events(built: Path, expected: dict) -> None:
    want = expected["changes_1_to_2"]
    for suffix in ("xml", "atom"):
        entries = _parse(built / f"changes.{suffix}").entries
        seen = {(e.title.split(":", 1)[0], e.link) for e in entries}
        for url in want["new"]:
            assert ("New", url) in seen
        for item in want["modified"]:
            assert ("Modified", item["url"]) in seen
        for url in want["removed"]:
            assert ("Removed", url) in seen
        for move in want["moved"]:
            assert ("Moved", move["to"]) in seen
            moved = next(e for e in entries if e.link == move["to"] and e.title.startswith("Moved"))
            assert move["from"] in _html(moved)
    atom = _parse(built / "changes.atom").entries
    slug = "call-for-applications-aalto-creatives-pre-incubator-programme-sping-2026"
    pre = next(e for e in atom if e.link.endswith(slug) and e.title.startswith("Modified"))
    html = _html(pre)
    assert "<ins>" in html and "<del>" in html and "title" in html
    assert re.fullmatch(r"tag:www\.aalto\.fi,2026:feed/changes/change/\d+", pre.id)
    partnerships = _parse(built / "partnerships.atom").entries
    hubs = re.compile(r"^https://www\.aalto\.fi/(en/collaboration|fi/yhteistyo|sv/samarbete)/")
    assert partnerships and all(hubs.match(e.link) for e in partnerships)
    assert not any("/news/" in e.link for e in partnerships)


def test_index_and_opml(built: Path) -> None:
    index = (built / "index.html").read_text(encoding="utf-8")
    for stem in FEED_FILES:
        assert f'href="{stem}.xml"' in index and f'href="{stem}.atom"' in index
    assert "<ins>" in index and "<del>" in index
    # Self-contained: no scripts, no external stylesheets, images or frames.
    assert "<script" not in index.lower() and " src=" not in index
    assert 'rel="stylesheet"' not in index and "<style>" in index
    opml = _parse_opml(built / "feeds.opml")
    # Absolute: readers resolve no relative xmlUrl (without feeds_base_url: file:// URLs).
    assert {f"{built.resolve().as_uri()}/{s}.xml" for s in FEED_FILES} <= opml


def test_an_item_in_several_feeds_has_an_id_per_feed(built: Path) -> None:
    """Readers keep one article per id across all feeds (newsboat): a story in news-en and in
    its categories, or a change in changes and partnerships, needs each feed's own id."""
    feeds_of: dict[str, set[str]] = {}
    links: dict[str, set[str]] = {}
    for path in built.glob("*.xml"):
        atom = [e.id for e in _parse(path.with_suffix(".atom")).entries]
        assert [e.id for e in _parse(path).entries] == atom, path.name
        for entry in _parse(path).entries:
            feeds_of.setdefault(entry.id, set()).add(path.stem)
            links.setdefault(entry.link, set()).add(path.stem)
    assert all(len(feeds) == 1 for feeds in feeds_of.values())
    assert any(len(feeds) > 2 for feeds in links.values())  # the case that matters is there


def test_opml_groups_feeds_and_titles_name_the_language(built: Path) -> None:
    from lxml import etree

    body = etree.parse(str(built / "feeds.opml")).getroot().find("body")
    groups = {g.get("text"): [o.get("xmlUrl").rsplit("/", 1)[1] for o in g] for g in body}
    assert all(g.get("xmlUrl") is None for g in body)  # only folders at the top
    assert groups["News"] == ["news-en.xml", "news-fi.xml", "news-sv.xml"]
    change_feeds = [f"{s.change_feed}.xml" for s in SECTIONS if s.change_feed]
    assert groups["Changes"] == ["changes.xml", *change_feeds, "partners.xml"]
    assert groups["Health"] == ["health.xml"]
    languages = {"English": "en", "Finnish": "fi", "Swedish": "sv"}
    for language, lang in languages.items():
        files = groups[f"Categories ({language})"]
        assert files
        for name in files:
            feed = _parse(built / name).feed
            assert feed.title.endswith(f"({language})") and feed.language == lang
            assert all(f"/{lang}/" in e.link for e in _parse(built / name).entries)
    for name in groups["News"]:
        assert _parse(built / name).feed.title.endswith(tuple(f"({x})" for x in languages))


def _parse_opml(path: Path) -> set[str]:
    from lxml import etree

    root = etree.parse(str(path)).getroot()
    assert root.tag == "opml"
    return {o.get("xmlUrl") for o in root.iter("outline")}


def test_rebuild_changes_nothing(two_state_copy: Path, built: Path) -> None:
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in built.iterdir()}
    ids = {p.name: [e.id for e in _parse(p).entries] for p in _feed_files(built)}
    with Archive(two_state_copy) as archive:
        report = build_feeds(archive, built, max_entries=50)
    assert report.written == []
    assert sorted(report.unchanged) == sorted(before)
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in built.iterdir()}
    assert after == before
    assert ids == {p.name: [e.id for e in _parse(p).entries] for p in _feed_files(built)}


def test_a_rebuild_renders_no_diff_twice_and_keeps_only_what_its_feeds_show(
    two_state_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The diffs a build rendered are kept for the next one (a run renders only its new
    events' diffs); the memo holds what the feeds show, never the archive's history."""
    calls = []
    real = htmldiff.text_diff_html
    monkeypatch.setattr(htmldiff, "text_diff_html", lambda *a: calls.append(a) or real(*a))
    first, second = tmp_path / "first", tmp_path / "second"
    with Archive(two_state_copy) as archive:
        build_feeds(archive, first, max_entries=50)
        rendered = len(calls)
        build_feeds(archive, second, max_entries=50)
        kept = archive.conn.execute("SELECT COUNT(*) FROM rendered_diffs").fetchone()[0]
    assert rendered > 0 and len(calls) == rendered  # the second build rendered none
    assert 0 < kept <= rendered
    for path in first.iterdir():  # same bytes, memo or not
        if path.suffix in (".xml", ".atom", ".html"):
            other = (second / path.name).read_text(encoding="utf-8")
            assert path.read_text(encoding="utf-8").replace(str(first), str(second)) == other


def test_edited_article_keeps_its_entry(two_state_copy: Path, built: Path) -> None:
    old = _parse(built / "news-en.atom").entries
    target = old[3]
    with Archive(two_state_copy) as archive:
        page = archive.pages.page(target.link)
        current = archive.pages.version(page["id"])
        outcome = _record(
            archive,
            target.link,
            "2026-12-24T12:00:00Z",
            body=current["body"] + "\n\nA correction was added.",
            body_html=current["body_html"] + "<p>A correction was added.</p>",
        )
        assert outcome.change == "modified"
        report = build_feeds(archive, built, max_entries=50)
    assert built / "news-en.atom" in report.written
    assert built / "changes.atom" in report.written
    new = _parse(built / "news-en.atom").entries
    assert [e.id for e in new] == [e.id for e in old]
    edited = next(e for e in new if e.id == target.id)
    assert "A correction was added." in _html(edited)
    assert edited.updated.startswith("2026-12-24T12:00:00")
    assert _parse(built / "news-en.atom").feed.updated.startswith("2026-12-24T12:00:00")
    first_change = _parse(built / "changes.atom").entries[0]
    assert first_change.title.startswith("Modified") and first_change.link == target.link
    assert "<ins>{+A correction was added.+}</ins>" in _html(first_change)


def test_hostile_content_never_becomes_active(two_state_copy: Path, tmp_path: Path) -> None:
    url = "https://www.aalto.fi/en/news/hostile"
    item = PageItem(
        url=url, kind="news", lang="en", title=f"Hostile {HOSTILE} title", lead=f"Lead {HOSTILE}",
        body=f"Body {HOSTILE}\n\nSecond &lt;script&gt;alert(2)&lt;/script&gt; paragraph.",
        body_html=f"<p>Body {HOSTILE}</p><p onclick=alert(1)>Second</p><iframe src=x></iframe>"
        '<style>p{}</style><a href="JAVASCRIPT:alert(1)">y</a><img src="javascript:alert(1)">',
        published="2030-01-01T00:00:00Z", categories=[f"Cat {HOSTILE}"],
        images=[{"src": "javascript:alert(1)"}, {"src": "/x.png", "alt": HOSTILE}],
        fetched_at="2026-12-25T00:00:00Z",
    )  # fmt: skip
    with Archive(two_state_copy) as archive:
        run_id = archive.runs.start_run("test", "http://test")
        assert Recorder(archive, run_id).record_page(item).change == "new"
        _record(archive, url, "2026-12-26T00:00:00Z", body=f"Changed {HOSTILE}")
        archive.runs.add_alert(run_id, f"check {HOSTILE}", f"message {HOSTILE}", url="javascript:x")
        out = tmp_path / "hostile"
        build_feeds(archive, out, max_entries=50)
    news = _parse(out / "news-en.atom").entries
    assert news[0].link == url and news[0].title.startswith("Hostile")
    assert any(e.link == url for e in _parse(out / "changes.xml").entries)
    assert _parse(out / "health.atom").entries
    files = [p for p in out.iterdir() if p.is_file()]
    assert len(files) > 10
    for path in files:
        text = path.read_text(encoding="utf-8").lower()
        for bad in ("<script", "&lt;script", "&amp;lt;script", "onerror", "onclick",
                    "javascript:", "<iframe", "&lt;iframe", "<style>p"):  # fmt: skip
            assert bad not in text, (path.name, bad)
        assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", text), path.name
        if path.suffix in (".xml", ".atom"):
            _parse(path)


def test_cli_builds_then_leaves_feeds_alone(two_state_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli-feeds"
    first = run_cli("--feeds-dir", str(out), "feeds", db=two_state_copy, check=True)
    # The CLI's console may wrap its message: compare with whitespace collapsed.
    assert " 0 unchanged" in " ".join(first.stderr.split()) and (out / "index.html").is_file()
    second = run_cli("--feeds-dir", str(out), "feeds", db=two_state_copy, check=True)
    assert ": 0 written, " in " ".join(second.stderr.split())


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Research & Art", "research-and-art"),
        ("Yhteistyö", "yhteistyo"),
        ("Åbo Ärende", "abo-arende"),
        ("  Press releases!! ", "press-releases"),
    ],
)
def test_slugify(name: str, slug: str) -> None:
    assert slugify(name) == slug


def test_empty_archive_builds_valid_feeds(tmp_path: Path) -> None:
    with Archive(tmp_path / "empty.db") as archive:
        first = build_feeds(archive, tmp_path / "out")
        second = build_feeds(archive, tmp_path / "out")
    # + feeds.opml, index.html and dashboard.html
    feeds = {*FEED_FILES, *SECTION_FEEDS}
    assert len(first.written) == 2 * len(feeds) + 3 and second.written == []
    for path in _feed_files(tmp_path / "out"):
        assert _parse(path).entries == []


def _links(parsed: feedparser.FeedParserDict, rel: str) -> list[str]:
    return [link.href for link in parsed.feed.get("links", []) if link.get("rel") == rel]


def test_feeds_name_themselves_and_date_empty_feeds_by_the_first_run(
    two_state_copy: Path, tmp_path: Path
) -> None:
    base = "https://feeds.example.org/aalto/"
    with Archive(two_state_copy) as archive:
        first_run = archive.runs.latest(limit=100)[-1]["started_at"]
        build_feeds(archive, tmp_path / "out", feeds_base_url=base)
        archive.runs.finish_run(archive.runs.start_run("news", base), status="ok", exit_code=0)
        again = build_feeds(archive, tmp_path / "out", feeds_base_url=base)
    # Another healthy run changes nothing in an empty feed: it is not rewritten.
    assert tmp_path / "out" / "health.xml" in again.unchanged
    for name in ("news-en", "changes", "health"):
        rss = _parse(tmp_path / "out" / f"{name}.xml")
        atom = _parse(tmp_path / "out" / f"{name}.atom")
        assert _links(rss, "self") == [f"{base}{name}.xml"]
        assert _links(atom, "self") == [f"{base}{name}.atom"]
    health = _parse(tmp_path / "out" / "health.atom")
    assert health.entries == []  # the two-state crawl is healthy
    assert health.feed.updated.startswith(first_run[:19])


def test_health_entries_link_to_the_alerts_on_the_index(
    two_state_copy: Path, tmp_path: Path
) -> None:
    with Archive(two_state_copy) as archive:
        archive.runs.add_alert(None, "zero_items", "news: 0 pages seen")
        build_feeds(archive, tmp_path / "out", feeds_base_url="http://feeds.example.org")
    (entry,) = _parse(tmp_path / "out" / "health.atom").entries
    assert entry.link == "http://feeds.example.org/index.html#alerts"
    rss = _parse(tmp_path / "out" / "health.xml")
    assert rss.feed.link == "https://www.aalto.fi/"  # the channel link is not the self link
