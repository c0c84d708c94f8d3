"""robots.txt is read as Google reads it (issue #20.5): its first 500 KiB, parsed once a run.

A 4.6 MB robots.txt was parsed twice (the spider's Crawl-delay and Scrapy's robots.txt
middleware), about 11-15 s each, then cost about 0.3 s per request. What lies past the limit
is not read: here a `Disallow: /` at the very end, which would otherwise stop the whole crawl.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from protego import Protego

import spiders.robots as robots
from aaltowatch.core.config import Config
from spiders.robots import MAX_ROBOTS_BYTES, STAT, BoundedRobotParser, parse_robots, robots_part
from spiders.settings import scrapy_settings
from tests.faultserver import Fault, Page, site_pages
from tests.hostile.conftest import hostile_run
from tests.hostile.server import HostileServer

SIZE = int(4.6 * 2**20)
SITE = "http://127.0.0.1:8000"


def huge_robots(size: int = SIZE) -> bytes:
    """`size` bytes of rules that allow the news, and a `Disallow: /` past 500 KiB."""
    head = "User-agent: *\nDisallow: /en/search\n"
    rule = "Disallow: /archive/{:07d}/*/private$\n"
    count = (size - len(head)) // len(rule.format(0))
    return (head + "".join(rule.format(n) for n in range(count)) + "Disallow: /\n").encode()


class Stats:
    def __init__(self) -> None:
        self.values: dict[str, int] = {}

    def set_value(self, key: str, value: int) -> None:
        self.values[key] = value


def test_a_huge_robots_txt_is_cut_at_500_kib_on_a_line_end() -> None:
    body = huge_robots()
    part = robots_part(body)
    assert MAX_ROBOTS_BYTES - 100 < len(part) <= MAX_ROBOTS_BYTES == 500 * 1024
    assert part.endswith(b"\n") and body.startswith(part)
    assert robots_part(b"User-agent: *\nDisallow: /\n") == b"User-agent: *\nDisallow: /\n"


def test_rules_past_the_limit_are_not_read() -> None:
    stats, body = Stats(), huge_robots()
    rules = parse_robots(body, stats)
    assert rules.can_fetch(f"{SITE}/en/news/first-story", "aaltowatch")
    assert not rules.can_fetch(f"{SITE}/en/search", "aaltowatch")  # a rule within the limit
    assert stats.values == {STAT: len(body)}  # the cut is counted on the run


def test_the_spider_and_scrapys_middleware_share_one_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = Protego.parse

    def counting(text: str) -> Protego:
        calls.append(len(text))
        return real(text)

    robots._parsed.cache_clear()
    monkeypatch.setattr(robots.Protego, "parse", counting)
    body = huge_robots(2 * MAX_ROBOTS_BYTES)
    spider_rules = parse_robots(body, Stats())  # spiders.base: Crawl-delay
    middleware = BoundedRobotParser.from_crawler(None, body)  # Scrapy: Allow/Disallow
    assert middleware.rp is spider_rules
    assert len(calls) == 1 and calls[0] <= MAX_ROBOTS_BYTES
    assert middleware.allowed(f"{SITE}/en/news/x", "aaltowatch")
    assert scrapy_settings(Config())["ROBOTSTXT_PARSER"] == "spiders.robots.BoundedRobotParser"


def test_a_crawl_under_a_huge_robots_txt_still_works(tmp_path: Path) -> None:
    body = huge_robots()
    pages = site_pages()
    pages["/robots.txt"] = Page(Fault.ok(body, "text/plain; charset=utf-8"))
    with HostileServer(pages) as srv:
        run = hostile_run(tmp_path, srv.url, timeout=90)
        searched = srv.hits("/en/search")
    assert run.stats.get(STAT) == len(body)
    assert len(run.export()) == 4  # the `Disallow: /` past 500 KiB was not read
    assert searched == 0  # the rules within the limit are obeyed
