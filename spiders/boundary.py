"""The trust boundary as a downloader middleware: every request is checked before it leaves.

It sits first in the downloader chain (before Scrapy's offsite and robots.txt middlewares), so
it also sees the requests those make (robots.txt of a host) and every redirect Scrapy follows
(a redirect comes back through the chain as a new request). Scrapy's own OffsiteMiddleware
only compares host names; this one compares scheme, host and port, so a mirror on
127.0.0.1:8123 never opens the door to 127.0.0.1:22 or to 127.0.0.2.
"""

from __future__ import annotations

import logging

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse

from aaltowatch.core.boundary import Boundary, origin_of

log = logging.getLogger(__name__)

STEP_META = "aaltowatch_step"
"""Meta flag of the spider's own phase steps: answered here, never downloaded."""
REFUSED_STAT = "boundary/refused"


class OffBoundary(IgnoreRequest):
    """A request outside the trust boundary (another host, port or scheme)."""


class BoundaryMiddleware:
    """Refuses (and counts) every request outside the boundary; answers the spider's steps."""

    def __init__(self, crawler: Crawler, boundary: Boundary) -> None:
        self.crawler = crawler
        self.boundary = boundary
        self.logged: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BoundaryMiddleware:
        return cls(crawler, Boundary.from_config(crawler.settings.get("AALTOWATCH_CONFIG")))

    def process_request(self, request: Request, spider: Spider | None = None) -> Response | None:
        if request.meta.get(STEP_META):
            # A phase step carries no URL worth fetching; its callback only yields requests.
            return TextResponse(url=request.url, body=b"", encoding="utf-8", request=request)
        if self.boundary.allows(request.url):
            return None
        self.crawler.stats.inc_value(REFUSED_STAT)
        origin = origin_of(request.url)
        where = f"{origin[0]}://{origin[1]}:{origin[2]}" if origin else request.url.split(":")[0]
        if where not in self.logged:
            self.logged.add(where)
            log.warning(
                "refused: %s is outside the site's boundary (first link: %.200r); further"
                " requests there are counted in %s, not logged",
                where,
                request.url,
                REFUSED_STAT,
            )
        raise OffBoundary(f"outside the trust boundary: {request.url[:200]}")
