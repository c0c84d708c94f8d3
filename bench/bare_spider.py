"""The yardstick: a bare Scrapy spider that fetches the same article URLs and reads the title.

Same concurrency and reactor as our crawl, no discovery, no pipeline, no storage: what Scrapy
alone costs per page on this machine. Run: ``python -m bench.bare_spider BASE_URL URLS_FILE``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response


class BareSpider(scrapy.Spider):
    name = "bare"

    def __init__(self, urls: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.urls = urls

    async def start(self) -> Any:
        for url in self.urls:
            yield scrapy.Request(url, callback=self.parse)

    def parse(self, response: Response) -> Iterator[dict[str, Any]]:
        yield {"title": response.css("div.aalto-article__top h1 span::text").get()}


def main(argv: list[str]) -> int:
    base, urls_file = argv
    urls = [base + line for line in Path(urls_file).read_text().split()]
    process = CrawlerProcess(
        {
            "CONCURRENT_REQUESTS": 16,
            "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
            "CONCURRENT_ITEMS": 10,
            "DOWNLOAD_DELAY": 0,
            "ROBOTSTXT_OBEY": False,
            "COOKIES_ENABLED": False,
            "TELNETCONSOLE_ENABLED": False,
            "LOG_LEVEL": "WARNING",
            "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        }
    )
    crawler = process.create_crawler(BareSpider)
    process.crawl(crawler, urls=urls)
    process.start()
    items = crawler.stats.get_value("item_scraped_count", 0)
    print(items, flush=True)
    return 0 if items == len(urls) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
