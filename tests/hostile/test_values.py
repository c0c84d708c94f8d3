"""Values from the site have shapes at the storage boundary (issue #20.2).

A huge title, lead, category or contact is stored cut to its field's limit (core.fields), and
the version says which fields were cut; the feeds stay small. A declared date of year 1, 9999
or 2999 is kept but flagged, and never orders or dates a feed, an entry or a chart: no feed or
page says its data is from the future. In-process: normalise -> Recorder -> build_feeds.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest

from aaltowatch.core.fields import Shape, plausible
from aaltowatch.core.items import Unchanged
from aaltowatch.core.runstats import outcome_key
from aaltowatch.core.text import format_utc, parse_utc
from aaltowatch.history import page_history
from feeds.build import build_feeds
from pages.article import PageItem
from pages.fields import FIELDS
from pipeline.normalise import normalise, normalise_unchanged
from pipeline.recorder import Recorder
from pipeline.scrapy_pipeline import TRUNCATED
from storage import Archive
from storage.dashboard import SQL

NEWS = "https://www.aalto.fi/en/news/"
NOW = datetime.now(UTC).replace(microsecond=0)
TEXT_SHAPES = (Shape.INLINE, Shape.BLOCK, Shape.NAMES, Shape.RECORDS)


def ago(**delta: float) -> str:
    return format_utc(NOW - timedelta(**delta))


def item(slug: str, fetched_at: str, **values: object) -> PageItem:
    fields = {
        "title": f"Story {slug}",
        "lead": f"Lead of {slug}.",
        "body": f"Body of {slug}.",
        "body_html": f"<p>Body of {slug}.</p>",
        "categories": ["Research"],
        **values,
    }
    return PageItem(url=NEWS + slug, kind="news", lang="en", fetched_at=fetched_at, **fields)


def store(archive: Archive, *items: PageItem) -> None:
    recorder = Recorder(archive, archive.runs.start_run("news", "http://test"))
    for page in items:
        recorder.record_page(normalise(page))


def test_every_text_field_that_reaches_outputs_declares_its_limit() -> None:
    for field in FIELDS:
        if field.shape in (*TEXT_SHAPES, Shape.LINKS) and field.name != "truncated":
            assert field.limit, field.name
    html = next(f for f in FIELDS if f.name == "body_html")
    assert html.limit


HUGE = {
    "title": "Breaking " + "news " * 240_000,  # 1.2 MB
    "lead": "lead " * 100_000,  # 0.5 MB
    "categories": ["Research", "Category " * 40, "x" * 100_000],
    "contacts": [
        {
            "name": "N" * 300_000,
            "title": "Professor " * 1_000,
            "organisation": "Aalto",
            "email": "a" * 50_000 + "@aalto.fi",
            "phone": "+358 " * 10_000,
        }
    ],
    "images": [
        {"src": "https://www.aalto.fi/a.jpg", "alt": "alt " * 10_000, "caption": "c"},
        {"src": "https://www.aalto.fi/" + "b" * 1_000_000 + ".jpg", "alt": "b"},
    ],
    "translations": {"fi": "https://www.aalto.fi/fi/" + "u" * 1_000_000},
}


def test_huge_values_are_cut_at_a_word_boundary_and_recorded() -> None:
    clean = normalise(item("huge", ago(hours=1), **HUGE))
    limits = {f.name: f.limit for f in FIELDS}
    assert len(clean.title) <= limits["title"] and clean.title.endswith("news…")
    assert len(clean.lead) <= limits["lead"] and clean.lead.endswith("lead…")
    assert all(len(c) <= limits["categories"] for c in clean.categories)
    assert "Research" in clean.categories
    contact = clean.contacts[0]
    assert all(len(v) <= limits["contacts"] for v in contact.values())
    assert contact["organisation"] == "Aalto"
    assert len(clean.images[0]["alt"]) <= limits["images"]
    assert clean.images[0]["src"] == "https://www.aalto.fi/a.jpg"
    assert clean.images[1]["src"] is None and clean.translations == {}  # a URL is never cut
    assert clean.truncated == ["categories", "contacts", "images", "lead", "title", "translations"]
    assert normalise(clean) == clean  # idempotent: a cut value is within its limit


def test_a_huge_body_is_cut_between_tags() -> None:
    body_html = "<p>" + "word " * 200_000 + "</p>" + '<a href="https://x">' * 50_000
    clean = normalise(item("body", ago(hours=1), body="word " * 200_000, body_html=body_html))
    limits = {f.name: f.limit for f in FIELDS}
    assert len(clean.body) <= limits["body"] and len(clean.body_html) <= limits["body_html"]
    assert not re.search(r"<[^>]*…$", clean.body_html)  # never inside a tag
    assert clean.truncated == ["body", "body_html"]


def test_teaser_categories_of_an_unchanged_page_are_cut_too() -> None:
    unchanged = normalise_unchanged(Unchanged(NEWS + "x", "304", categories=["C" * 10_000]))
    assert len(unchanged.categories[0]) <= 200 and unchanged.truncated == ["categories"]


def test_huge_values_are_stored_cut_flagged_and_feeds_stay_small(tmp_path: Path) -> None:
    with Archive(tmp_path / "archive.db") as archive:
        store(archive, item("huge", ago(hours=1), **HUGE), item("plain", ago(hours=2)))
        history = page_history(archive, NEWS + "huge")
        exported = {r["url"]: r for r in archive.queries.export_pages()}
        report = build_feeds(archive, tmp_path / "feeds")
    cut = ["categories", "contacts", "images", "lead", "title", "translations"]
    assert history["versions"][-1]["truncated"] == cut
    assert exported[NEWS + "huge"]["truncated"] == cut
    assert exported[NEWS + "plain"]["truncated"] == []
    sizes = {p.name: p.stat().st_size for p in report.written}
    assert max(sizes.values()) < 100_000, sizes  # was 1.68 MB per feed and index.html


# (slug, declared published, when it was observed): the implausible ones were seen last week.
DATED = [
    ("today", ago(hours=3), ago(hours=1)),
    ("tomorrow", format_utc(NOW + timedelta(hours=20)), ago(hours=2)),
    ("yesterday", ago(days=1), ago(hours=5)),
    ("year-1", "0001-01-01T00:00:00Z", ago(days=7)),
    ("year-9999", "9999-12-31T23:59:59Z", ago(days=7)),
    ("year-2999", "2999-01-01T00:00:00Z", ago(days=7)),
    ("year-1970", "1970-01-01T00:00:00Z", ago(days=7)),
]


def _dates(parsed: feedparser.FeedParserDict) -> list[datetime]:
    stamps = [parsed.feed.get("updated_parsed")]
    for entry in parsed.entries:
        stamps += [entry.get("published_parsed"), entry.get("updated_parsed")]
    return [datetime(*s[:6], tzinfo=UTC) for s in stamps if s]


@pytest.fixture
def dated(tmp_path: Path) -> Path:
    items = [
        item(slug, seen, published=published, updated=published) for slug, published, seen in DATED
    ]
    with Archive(tmp_path / "archive.db") as archive:
        store(archive, *items)
        build_feeds(archive, tmp_path / "feeds")  # the dashboard of year 1 crashed it
    return tmp_path


def test_implausible_dates_are_kept_and_flagged(dated: Path) -> None:
    with Archive(dated / "archive.db") as archive:
        flags = {c["url"].rsplit("/", 1)[1]: c["flags"] for c in archive.queries.changes()}
        stored = {
            p["url"].rsplit("/", 1)[1]: p["published"] for p in archive.queries.export_pages()
        }
    for slug in ("year-1", "year-9999", "year-2999", "year-1970"):
        assert "implausible_date" in flags[slug], (slug, flags)
    for slug in ("today", "tomorrow", "yesterday"):
        assert "implausible_date" not in flags[slug], (slug, flags)
    assert stored["year-2999"] == "2999-01-01T00:00:00Z"  # raw, as declared


def test_implausible_dates_neither_order_nor_date_a_feed(dated: Path) -> None:
    news = feedparser.parse((dated / "feeds" / "news-en.xml").read_bytes())
    links = [e.link.rsplit("/", 1)[1] for e in news.entries]
    assert links[:3] == ["tomorrow", "today", "yesterday"], links
    year_2999 = next(e for e in news.entries if e.link.endswith("year-2999"))
    assert datetime(*year_2999.published_parsed[:6], tzinfo=UTC) <= NOW


def test_no_feed_or_page_says_its_data_is_from_the_future(dated: Path) -> None:
    build_time = datetime.now(UTC)
    for path in sorted((dated / "feeds").glob("*.xml")) + sorted((dated / "feeds").glob("*.atom")):
        for moment in _dates(feedparser.parse(path.read_bytes())):
            assert moment <= build_time, (path.name, moment)
    index = (dated / "feeds" / "index.html").read_text(encoding="utf-8")
    as_of = re.search(r'Data as of <time datetime="([^"]+)"', index).group(1)
    assert parse_utc(as_of) <= build_time
    assert all(parse_utc(t) <= build_time for t in re.findall(r'datetime="([^"]+)"', index))


def test_charts_count_only_plausible_months(dated: Path) -> None:
    with Archive(dated / "archive.db") as archive:
        months = {
            r["month"] for name in SQL if "month" in SQL[name] for r in archive.charts.rows(name)
        }
        view = {r[0] for r in archive.conn.execute("SELECT month FROM category_counts_by_month")}
    assert months and view
    assert all("1990" <= m <= NOW.strftime("%Y-%m") for m in months | view), months | view


@pytest.mark.parametrize(
    ("value", "observed", "ok"),
    [
        ("2026-01-10T09:00:00Z", "2026-01-21T16:00:00Z", True),
        ("2026-01-22T16:00:00Z", "2026-01-21T16:00:00Z", True),  # within the margin
        ("2026-01-28T09:00:00Z", "2026-01-21T16:00:00Z", False),
        ("0001-01-01T00:00:00Z", "2026-01-21T16:00:00Z", False),
        ("9999-12-31T23:59:59Z", "2026-01-21T16:00:00Z", False),
        ("9999-12-31T23:59:59Z", None, True),  # no observation: only the earliest bound
        ("1989-12-31T23:59:59Z", None, False),
        ("soon", "2026-01-21T16:00:00Z", False),
        (None, "2026-01-21T16:00:00Z", False),
    ],
)
def test_plausible_window(value: str | None, observed: str | None, ok: bool) -> None:
    assert plausible(value, observed) is ok


def test_an_implausible_date_does_not_make_a_page_recent_for_good() -> None:
    from aaltowatch.core.planner import PageView

    row = {"url": NEWS + "x", "kind": "news", "first_seen": ago(days=400), "last_checked": ago()}
    for published in ("2999-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"):
        page = PageView.from_row({**row, "published": published})
        assert 399 < page.age_days(NOW) < 401, published  # as old as its first sighting
    assert PageView.from_row({**row, "published": ago(days=3)}).age_days(NOW) == 3


def test_the_pipeline_counts_a_cut_on_the_run(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from scrapy.statscollectors import MemoryStatsCollector
    from scrapy.utils.test import get_crawler

    from aaltowatch.core.config import Config
    from pipeline.scrapy_pipeline import ArchivePipeline

    crawler = get_crawler()
    crawler.stats = MemoryStatsCollector(crawler)
    with Archive(tmp_path / "archive.db") as archive:
        pipe = ArchivePipeline(archive, Config())
        pipe.crawler = crawler
        pipe.open_spider(SimpleNamespace(kind="news", name="news"))
        pipe.process_item(item("huge", ago(hours=1), **HUGE))
        pipe.process_item(item("plain", ago(hours=1)))
        pipe.close_spider()
        stored = archive.pages.version(archive.pages.page(NEWS + "huge")["id"])
    assert crawler.stats.get_value(outcome_key(TRUNCATED)) == 1
    assert stored["truncated"] == [
        "categories",
        "contacts",
        "images",
        "lead",
        "title",
        "translations",
    ]
    assert len(stored["title"]) <= 1_000
