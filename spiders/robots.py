"""robots.txt read as Google reads it: the first 500 KiB only, parsed once per run.

RFC 9309 §2.5 lets a crawler stop reading robots.txt after a limit of at least 500 kibibytes,
the limit Google documents. A longer file is cut at its last full line within the limit (and
counted); the rest is not read. The spider (for Crawl-delay) and Scrapy's robots.txt middleware
(ROBOTSTXT_PARSER, for Allow/Disallow) each download the file, but they share one parse: a
4.6 MB file took about 15 s to parse, twice, and each parsed rule is matched on every request.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from protego import Protego
from scrapy.robotstxt import RobotParser, decode_robotstxt

log = logging.getLogger(__name__)

MAX_ROBOTS_BYTES = 500 * 1024
STAT = "aaltowatch/robots/truncated"  # the run's robots.txt was longer and cut


def robots_part(body: bytes) -> bytes:
    """The part of a robots.txt that is read: at most MAX_ROBOTS_BYTES, ending with a line."""
    if len(body) <= MAX_ROBOTS_BYTES:
        return body
    head = body[:MAX_ROBOTS_BYTES]
    end = max(head.rfind(b"\n"), head.rfind(b"\r"))
    return head[: end + 1] if end >= 0 else head


@lru_cache(maxsize=4)  # the run's robots.txt (and the empty one Scrapy checks its parser with)
def _parsed(part: bytes) -> Protego:
    return Protego.parse(decode_robotstxt(part, None))


def parse_robots(body: bytes, stats: Any = None) -> Protego:
    """The rules of a robots.txt body; the same body is parsed once (per process). With the
    run's `stats` (the spider's reading), a cut is logged and counted."""
    part = robots_part(body)
    if len(part) < len(body) and stats is not None:
        log.warning("robots.txt of %d bytes: only its first %d are read", len(body), len(part))
        stats.set_value(STAT, len(body))
    return _parsed(part)


class BoundedRobotParser(RobotParser):
    """Scrapy's Protego parser over the bounded, shared parse (setting ROBOTSTXT_PARSER)."""

    def __init__(self, rules: Protego) -> None:
        self.rp = rules

    @classmethod
    def from_crawler(cls, crawler: Any, robotstxt_body: bytes) -> BoundedRobotParser:
        return cls(parse_robots(robotstxt_body))  # the spider's reading counts a cut

    def allowed(self, url: str | bytes, user_agent: str | bytes) -> bool:
        url = url.decode() if isinstance(url, bytes) else url
        agent = user_agent.decode() if isinstance(user_agent, bytes) else user_agent
        return self.rp.can_fetch(url, agent)

    def crawl_delay(self, user_agent: str | bytes) -> float | None:
        agent = user_agent.decode() if isinstance(user_agent, bytes) else user_agent
        return self.rp.crawl_delay(agent)
