"""The site model and the crawl/archive boundary: what derives from `SECTIONS`, and how the
fetch cache reaches a crawl (a dotted-path setting, built by `from_crawler`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from scrapy.crawler import Crawler
from scrapy.utils.test import get_crawler

from aaltowatch.cli import cli
from aaltowatch.core.config import load_config
from aaltowatch.core.errors import ConfigError
from aaltowatch.core.fetchcache import ARCHIVE_SETTING, SETTING, fetch_cache
from aaltowatch.core.urls import KINDS, SECTIONS, SPIDER_NAMES, content_kind
from aaltowatch.crawl import spider_class
from scheduler import build_scheduler
from spiders.base import AaltoSpider
from spiders.settings import scrapy_settings
from storage import Archive


def test_every_section_has_its_spider_named_and_kinded_from_the_model() -> None:
    for section in SECTIONS:
        cls = spider_class(section.spider)
        assert issubclass(cls, AaltoSpider)
        assert (cls.name, cls.kind) == (section.spider, section.kind)


@pytest.mark.parametrize("section", SECTIONS, ids=lambda s: s.spider)
def test_content_urls_of_each_section_and_language(section: Any) -> None:
    for lang, slug in section.slugs.items():
        assert content_kind(f"https://www.aalto.fi/{lang}/{slug}/a-page") == (section.kind, lang)
        assert content_kind(f"/{lang}/{slug}/a/deeper/page") == (
            (section.kind, lang) if section.nested else None
        )
        for not_page in section.not_pages:
            assert content_kind(f"/{lang}/{slug}/{not_page}") is None


def test_cli_choices_come_from_the_model() -> None:
    runner = CliRunner()
    crawl_help = runner.invoke(cli, ["crawl", "--help"]).output
    assert f"[{'|'.join(SPIDER_NAMES)}|all]" in crawl_help
    bad = runner.invoke(cli, ["changes", "--kind", "nonsense"])
    assert bad.exit_code == 2
    assert all(kind in bad.output for kind in KINDS)


def test_schedule_is_one_entry_per_spider_from_the_toml_table(tmp_path: Path) -> None:
    toml = tmp_path / "a.toml"
    toml.write_text(
        '[aaltowatch.schedule]\nnews = "*/5 * * * *"\npartnerships_interval_s = 7\n',
        encoding="utf-8",
    )
    config = load_config(toml, environ={})
    defaults = {s.spider: (s.cron, 0.0) for s in SECTIONS}
    assert config.schedule.entries == {
        **defaults,
        "news": ("*/5 * * * *", 0.0),
        "partnerships": (defaults["partnerships"][0], 7.0),
    }
    jobs = build_scheduler(config.replace(db=tmp_path / "a.db"), toml).get_jobs()
    assert sorted(job.id for job in jobs) == sorted(SPIDER_NAMES)
    toml.write_text('[aaltowatch.schedule]\nnews = "never"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[schedule\] news = 'never'"):
        load_config(toml, environ={})


class CountingCache:
    """A fetch cache of its own: the setting, not the archive, decides what crawling uses."""

    built: list[Any] = []

    @classmethod
    def from_crawler(cls, crawler: Any) -> CountingCache:
        cls.built.append(crawler)
        return cls()


def test_fetch_cache_is_the_class_the_setting_names(tmp_path: Path) -> None:
    settings = scrapy_settings(load_config(environ={}).replace(db=tmp_path / "a.db"))
    crawler = get_crawler(settings_dict={**settings, SETTING: f"{__name__}.CountingCache"})
    assert isinstance(fetch_cache(crawler), CountingCache)
    assert CountingCache.built == [crawler]


def test_the_default_fetch_cache_is_the_handed_over_archive_else_one_per_crawler(
    tmp_path: Path,
) -> None:
    settings = scrapy_settings(load_config(environ={}).replace(db=tmp_path / "a.db"))
    with Archive(tmp_path / "given.db") as given:
        crawler = Crawler(spider_class("news"), settings)  # as the runner makes one
        crawler.settings.set(ARCHIVE_SETTING, given)
        assert fetch_cache(crawler) is given
    own = Crawler(spider_class("news"), settings)
    opened = fetch_cache(own)
    try:
        assert opened.path == tmp_path / "a.db"
        assert fetch_cache(own) is opened  # middlewares, spider and pipeline share it
        assert Archive.from_crawler(own) is opened
    finally:
        opened.close()
