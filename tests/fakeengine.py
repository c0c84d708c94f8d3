"""What crawl-stopping code asks of Scrapy's engine, without a reactor: close the spider, with
a reason, recorded for the test to read."""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler
from scrapy.utils.test import get_crawler


class ClosingEngine:
    spider = object()

    def __init__(self) -> None:
        self.closed: list[str] = []

    def close_spider_async(self, reason: str) -> str:
        self.closed.append(reason)
        return reason


def crawler_with_engine(settings: dict[str, Any]) -> tuple[Crawler, ClosingEngine]:
    """A crawler with open stats and the recording engine."""
    crawler = get_crawler(settings_dict=settings)
    crawler.stats.open_spider()
    engine = ClosingEngine()
    crawler.engine = engine  # type: ignore[assignment]
    return crawler, engine
