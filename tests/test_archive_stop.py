"""A refused archive write inside a spider callback closes the crawl once, without a traceback."""

from __future__ import annotations

import pytest
from scrapy.http import HtmlResponse, Request

from aaltowatch.core import crawlstop
from aaltowatch.core.config import Config
from aaltowatch.core.crawlstop import ARCHIVE_UNWRITABLE, unwritable
from aaltowatch.core.errors import ArchiveWriteError
from spiders.archivestop import ArchiveStopMiddleware
from spiders.settings import scrapy_settings
from tests.fakeengine import ClosingEngine, crawler_with_engine


@pytest.fixture(autouse=True)
def _no_reactor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("scrapy.utils.defer.deferred_from_coro", lambda coro: coro)


def _middleware() -> tuple[ArchiveStopMiddleware, ClosingEngine]:
    crawler, engine = crawler_with_engine(scrapy_settings(Config()))
    return ArchiveStopMiddleware.from_crawler(crawler), engine


def _response() -> HtmlResponse:
    url = "http://127.0.0.1:1/en/news"
    return HtmlResponse(url, body=b"<html></html>", request=Request(url))


def test_the_crawl_installs_the_stop_closest_to_the_spider() -> None:
    middlewares = scrapy_settings(Config())["SPIDER_MIDDLEWARES"]
    assert max(middlewares, key=middlewares.get) == "spiders.archivestop.ArchiveStopMiddleware"


def test_a_refused_write_in_a_callback_stops_the_crawl_once() -> None:
    mw, engine = _middleware()
    first = ArchiveWriteError("cannot write the archive a.db: an I/O error (is the disk full?)")
    for exc in (first, ArchiveWriteError("again")):
        handled = mw.process_spider_exception(_response(), exc)
        assert handled is not None and list(handled) == []  # handled: nothing more from it
    assert unwritable(mw.crawler)
    assert mw.crawler.stats.get_value(crawlstop.STAT) == str(first)
    assert engine.closed == [ARCHIVE_UNWRITABLE]


def test_other_callback_errors_stay_spider_errors() -> None:
    mw, engine = _middleware()
    assert mw.process_spider_exception(_response(), ValueError("bad markup")) is None
    assert not unwritable(mw.crawler) and engine.closed == []
