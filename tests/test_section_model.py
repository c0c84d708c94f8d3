"""A section of the site model reaches every consequence: a `Section` built here (and put in
the registry for the test) gets its feeds, its view, its watch kind, its planner weight and
health, with no other list to edit; and the existing sections keep their feed and view names."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from scrapy.utils.test import get_crawler

from aaltowatch.core import planner, urls, watchconfig
from aaltowatch.core.config import HealthThresholds, load_config
from aaltowatch.core.health import check_run
from aaltowatch.core.runstats import RunStats
from aaltowatch.core.urls import SECTION_OF_KIND, SECTIONS, Section
from aaltowatch.crawl import spider_class
from feeds import build
from spiders.settings import scrapy_settings
from storage import Archive, migrations

EVENTS = Section(
    kind="event",
    spider="events",
    name="event",
    slugs={"en": "events", "fi": "tapahtumat", "sv": "evenemang"},
    cron="0 * * * *",
    required=("title", "body"),
    importance=1.5,
)
NOW = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> Iterator[Section]:
    """EVENTS in the registry as if declared in core/urls.py, for the modules under test."""
    sections = (*SECTIONS, EVENTS)
    for module in (urls, build, migrations):
        monkeypatch.setattr(module, "SECTIONS", sections)
    monkeypatch.setitem(SECTION_OF_KIND, EVENTS.kind, EVENTS)
    yield EVENTS


def test_existing_archives_keep_their_feed_and_view_names(tmp_path: Path) -> None:
    """A subscriber's URL is a promise: the derived names are the ones published before."""
    with Archive(tmp_path / "a.db") as archive:
        names = {spec.name for spec in build.feed_specs(archive)[0]}
        views = set(archive.db.view_names())
    assert {"news-en", "news-fi", "news-sv", "changes", "partnerships", "partners"} <= names
    assert not {"partnership-en", "news"} & names
    assert {"news", "partnership_pages"} <= views


def test_a_new_section_gets_its_feeds(tmp_path: Path, events: Section) -> None:
    with Archive(tmp_path / "a.db") as archive:
        specs = {spec.name: spec for spec in build.feed_specs(archive)[0]}
    assert {"events-en", "events-fi", "events-sv", "events"} <= set(specs)
    assert specs["events-fi"].language == "fi"
    assert specs["events-en"].link == "https://www.aalto.fi/en/events"
    assert "event" in specs["changes"].description


def test_a_section_publishes_only_the_feeds_it_declares(tmp_path: Path) -> None:
    with Archive(tmp_path / "a.db") as archive:
        assert build._page_specs(archive, urls.PARTNERSHIPS, 10) == []
        assert [s.name for s in build._page_specs(archive, urls.NEWS, 10)] == [
            "news-en", "news-fi", "news-sv",
        ]  # fmt: skip


def test_an_existing_archive_gets_a_new_section_s_view_on_its_next_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.db"
    Archive(path).close()  # made before the section existed
    monkeypatch.setattr(migrations, "SECTIONS", (*SECTIONS, EVENTS))
    with Archive(path, readonly=True) as reader:  # a reader brings it up to date once
        assert "event_pages" in reader.db.view_names()
        assert reader.db.execute("SELECT COUNT(*) FROM event_pages").fetchone()[0] == 0
    with Archive(path) as archive:
        assert not migrations.is_behind(archive.db)


def test_the_watch_kinds_are_the_sections_kinds() -> None:
    assert watchconfig.LISTS["kinds"] is urls.KINDS
    assert tuple(s.kind for s in SECTIONS) == urls.KINDS


def page(kind: str, age_days: float) -> planner.PageView:
    born = NOW - timedelta(days=age_days)
    return planner.PageView(
        url=f"https://www.aalto.fi/en/x/{kind}",
        kind=kind,
        published=born,
        first_seen=born,
        last_checked=born,
        last_attempt=None,
        unchanged_days=0.0,
        changed_intervals=[],
    )


def test_the_planner_weighs_a_page_by_its_section(events: Section) -> None:
    assert planner.importance(page("event", 1), NOW) == events.importance
    assert planner.importance(page("event", 400), NOW) == events.importance
    # Only a section with a recent weight has "recent" pages (a shorter max interval too).
    assert planner.max_interval_days(page("event", 1), NOW, 6.0, 1.0) == 6.0
    assert planner.max_interval_days(page("news", 1), NOW, 6.0, 1.0) == 1.0
    assert planner.importance(page("news", 1), NOW) == urls.NEWS.recent_importance
    assert planner.importance(page("news", 400), NOW) == urls.NEWS.importance
    assert planner.importance(page("partnership", 1), NOW) == urls.PARTNERSHIPS.importance


def checks(kind: str, **stats: int) -> list[str]:
    run = RunStats.from_scrapy({f"aaltowatch/{k}": v for k, v in stats.items()})
    return [alert.check for alert in check_run(kind, run, HealthThresholds())]


def test_a_section_with_no_page_yet_is_healthy_until_it_has_had_pages(events: Section) -> None:
    assert checks("event") == []
    assert checks("event", known_live=3) == ["zero_items"]
    # The sections the site always has are unhealthy without pages, even on a fresh archive.
    assert checks("news") == checks("partnership") == ["zero_items"]


@pytest.mark.parametrize("spider", urls.SPIDER_NAMES)
def test_a_spider_s_budget_derives_from_its_own_schedule(tmp_path: Path, spider: str) -> None:
    """Half its own interval at the politeness delay, not the news spider's."""
    toml = tmp_path / "a.toml"
    toml.write_text(f"[aaltowatch.schedule]\n{spider}_interval_s = 600\n", encoding="utf-8")
    config = load_config(toml, environ={}).replace(db=tmp_path / "a.db")
    crawler = get_crawler(spider_class(spider), scrapy_settings(config))
    own = crawler.spidercls.from_crawler(crawler)
    try:
        own.plan_run()
    finally:
        Archive.from_crawler(crawler).close()
    assert own.budget.limit == planner.derive_budget(600, config.download_delay) == 300
