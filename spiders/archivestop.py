"""A spider callback whose archive write was refused ends the crawl with one line.

Callbacks write planning state (listing cursors, teaser hashes, sitemap lastmods) through the
fetch cache. When the disk is full that write raises ArchiveWriteError inside the callback,
where Scrapy would log it as a spider error with a traceback and go on crawling, each later
write failing the same way. Here it closes the crawl like a refused page write does
(aaltowatch.core.crawlstop), and the callback's remaining output is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from scrapy.crawler import Crawler
from scrapy.http import Response

from aaltowatch.core.crawlstop import stop_unwritable
from aaltowatch.core.errors import ArchiveWriteError


class ArchiveStopMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchiveStopMiddleware:
        return cls(crawler)

    def process_spider_exception(
        self, response: Response, exception: Exception
    ) -> Iterable[Any] | None:
        if not isinstance(exception, ArchiveWriteError):
            return None  # Scrapy's own handling: a spider error, logged, the crawl goes on
        stop_unwritable(self.crawler, exception)
        return ()
