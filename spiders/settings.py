"""Scrapy settings, built from the aaltowatch Config (and a static default for `scrapy list`)."""

from __future__ import annotations

from typing import Any

from aaltowatch.core import fetchcache
from aaltowatch.core.config import Config, load_config

SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"


def scrapy_settings(config: Config) -> dict[str, Any]:
    """Politeness for the real site; the limits drop only for a mirror on 127.0.0.1
    (`Config.skip_delays`, which also covers robots.txt's Crawl-delay in spiders/base.py).

    Spiders and middlewares reach the archive only through the fetch cache the
    `AALTOWATCH_FETCH_CACHE` setting names (aaltowatch/fetchcache.py).
    """
    local = config.skip_delays
    settings: dict[str, Any] = {
        "BOT_NAME": "aaltowatch",
        "SPIDER_MODULES": SPIDER_MODULES,
        "NEWSPIDER_MODULE": NEWSPIDER_MODULE,
        "USER_AGENT": config.user_agent,
        "ROBOTSTXT_OBEY": True,
        "ROBOTSTXT_USER_AGENT": "aaltowatch",
        "ROBOTSTXT_PARSER": "spiders.robots.BoundedRobotParser",  # 500 KiB, one parse per run
        "DOWNLOAD_DELAY": config.download_delay,
        "DOWNLOAD_DELAY_JITTER": 0.5,
        "CONCURRENT_REQUESTS": 16,
        "CONCURRENT_REQUESTS_PER_DOMAIN": config.concurrent_requests_per_domain,
        # Scrapy spawns CONCURRENT_ITEMS tasks per callback result; 10 measured +40-85% here.
        "CONCURRENT_ITEMS": 10,
        # Scrapy re-parses a callback's source per response to warn about `return` in
        # generators (bound methods defeat its cache): ~4% of a crawl's CPU here.
        "WARN_ON_GENERATOR_RETURN_VALUE": False,
        "AUTOTHROTTLE_ENABLED": config.autothrottle,
        "AUTOTHROTTLE_START_DELAY": max(config.download_delay, 1.0),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": 1.0,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": config.retry_times,
        "RETRY_HTTP_CODES": [429, 500, 502, 503, 504, 522, 524, 408],
        "DOWNLOAD_TIMEOUT": config.download_timeout,
        "DOWNLOAD_MAXSIZE": config.max_page_bytes,
        "DOWNLOAD_WARNSIZE": max(config.max_page_bytes // 4, 1),
        "REDIRECT_MAX_TIMES": 5,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": config.log_level,
        "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        # The trust boundary: only http(s), through the handler that bounds response headers.
        # No file:, data:, ftp:, s3: handlers: nothing a page links to can reach the disk.
        "DOWNLOAD_HANDLERS": {
            "http": "spiders.handlers.BoundedHTTPDownloadHandler",
            "https": "spiders.handlers.BoundedHTTPDownloadHandler",
            "file": None,
            "data": None,
            "ftp": None,
            "s3": None,
        },
        "DOWNLOADER_MIDDLEWARES": {
            # First in the chain: sees every request, robots.txt and redirects included.
            "spiders.boundary.BoundaryMiddleware": 40,
            # Above RetryMiddleware: process_exception runs high to low.
            "spiders.middlewares.TimeoutRetryMiddleware": 560,
            # Above RetryMiddleware and TimeoutRetryMiddleware: sees every failed attempt
            # first, and once the site counts as unreachable nothing is retried.
            "spiders.middlewares.UnreachableSiteMiddleware": 565,
            # Above RetryMiddleware (550): process_response runs high to low, so the wait
            # must happen before the retry is scheduled.
            "spiders.middlewares.RetryAfterMiddleware": 555,
            "spiders.middlewares.ConditionalGetMiddleware": 580,
            # After robots.txt (100), which drops disallowed requests before they count.
            "spiders.middlewares.RequestBudgetMiddleware": 120,
        },
        # Closest to the spider: a callback's refused archive write stops the crawl first.
        "SPIDER_MIDDLEWARES": {"spiders.archivestop.ArchiveStopMiddleware": 950},
        "ITEM_PIPELINES": {"pipeline.scrapy_pipeline.ArchivePipeline": 300},
        # Health checks also as Spidermon monitors (same function, same thresholds).
        "SPIDERMON_ENABLED": True,
        "EXTENSIONS": {
            "spidermon.contrib.scrapy.extensions.Spidermon": 500,
            "spiders.bounds.RunBounds": 510,
        },
        "SPIDERMON_SPIDER_CLOSE_MONITORS": ["spiders.monitors.SpiderCloseMonitorSuite"],
        "AALTOWATCH_CONFIG": config,
        fetchcache.SETTING: fetchcache.DEFAULT,
    }
    if local:
        settings.update(
            {
                "DOWNLOAD_DELAY": 0,
                "DOWNLOAD_DELAY_JITTER": 0,
                "AUTOTHROTTLE_ENABLED": False,
                "CONCURRENT_REQUESTS_PER_DOMAIN": max(config.concurrent_requests_per_domain, 8),
            }
        )
    return settings


# Module-level values so `scrapy list` / `scrapy crawl` work from scrapy.cfg.
globals().update(scrapy_settings(load_config()))
