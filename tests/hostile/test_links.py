"""Every discovered link stands alone: one that cannot become a request (urllib or Scrapy raise
ValueError) is skipped and counted as an error of the run, and the links after it on the same
page are still followed, through every channel that yields links."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, XmlResponse
from scrapy.utils.test import get_crawler

from aaltowatch.core import runstats
from aaltowatch.core.config import load_config
from aaltowatch.crawl import spider_class
from pages import parse_article, parse_listing
from pages.hub import hub_links
from spiders.settings import scrapy_settings
from tests.conftest import run_cli
from tests.faultserver import Fault, Page, site_pages
from tests.hostile.conftest import hostile_run
from tests.hostile.server import HostileServer, article, listing, rss, sitemap

BASE = "http://127.0.0.1:8123"
# Links no URL parser accepts (urllib raises ValueError): every channel.
BAD_LINKS = (
    "http://[::1/en/news/x",  # Invalid IPv6 URL
    "http://a]/en/news/x",
    "http://[nothex]/en/news/x",  # not an IP address
    "https://www.aalto.fi\uff03@x/en/news/x",  # invalid characters under NFKC normalisation
)
# Parsed, but Scrapy refuses it as a request: the channels that request off-site links (for
# the trust boundary to refuse and count) meet it.
NO_REQUEST = "http://evil.example:99999/en/news/x?page=1"  # port out of range
BAD_STAT = runstats.BAD_LINKS


@pytest.fixture
def spider(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A spider as a crawl builds it (settings, stats, fetch cache on a tmp archive)."""
    name = getattr(request, "param", "news")
    config = load_config(environ={}).replace(db=tmp_path / "a.db", base_url=BASE)
    cls = spider_class(name)
    crawler = get_crawler(cls, settings_dict=scrapy_settings(config))
    crawler.spider = spider = cls.from_crawler(crawler)
    yield spider
    spider.cache.close()


def _urls(out: list[Any]) -> list[str]:
    return [o.url for o in out if isinstance(o, Request)]


def _bad(spider: Any) -> int:
    return spider.crawler.stats.get_value(BAD_STAT, 0)


def _xml(path: str, body: str) -> XmlResponse:
    return XmlResponse(BASE + path, body=body.encode(), request=Request(BASE + path))


def _html(path: str, body: str, **kwargs: Any) -> HtmlResponse:
    return HtmlResponse(BASE + path, body=body.encode(), request=Request(BASE + path), **kwargs)


@pytest.mark.parametrize("bad", [*BAD_LINKS, NO_REQUEST])
def test_sitemap_index(spider: Any, bad: str, caplog: pytest.LogCaptureFixture) -> None:
    body = sitemap([bad, "https://www.aalto.fi/sitemap-2.xml"], index=True)
    with caplog.at_level(logging.WARNING):
        out = list(spider.parse_sitemap(_xml("/sitemap.xml", body)))
    assert _urls(out) == [BASE + "/sitemap-2.xml"]
    assert _bad(spider) == 1
    assert "sitemap index link that cannot be requested" in caplog.text


@pytest.mark.parametrize("bad", BAD_LINKS)
def test_sitemap_urlset_then_its_deferred_phase(spider: Any, bad: str) -> None:
    body = sitemap([bad, "https://www.aalto.fi/en/news/good"])
    list(spider.parse_sitemap(_xml("/sitemap-2.xml", body)))
    out = list(spider.run_phase(_html("/", ""), "deferred"))
    assert _urls(out) == [BASE + "/en/news/good"]
    assert _bad(spider) == 1


@pytest.mark.parametrize("bad", BAD_LINKS)
def test_site_feed(spider: Any, bad: str) -> None:
    body = rss([(bad, "Bad", []), ("https://www.aalto.fi/en/news/good", "Good", [])])
    out = list(spider.parse_feed(_xml("/en/news/feed", body)))
    assert _urls(out) == [BASE + "/en/news/good"]
    assert _bad(spider) == 1


@pytest.mark.parametrize("bad", BAD_LINKS)
def test_listing_teasers_and_pager(spider: Any, bad: str) -> None:
    body = listing([(bad, "Bad"), ("/en/news/good", "Good")], pager=(bad, "/en/news?page=2"))
    out = list(spider.parse_listing(_html("/en/news", body)))
    assert BASE + "/en/news/good" in _urls(out)
    assert BASE + "/en/news?page=2" in _urls(out)
    assert _bad(spider) == 2


def test_pager_link_scrapy_refuses(spider: Any) -> None:
    body = listing([("/en/news/good", "Good")], pager=(NO_REQUEST, "/en/news?page=2"))
    out = list(spider.parse_listing(_html("/en/news", body)))
    assert _urls(out) == [BASE + "/en/news/good", BASE + "/en/news?page=2"]
    assert _bad(spider) == 1


def test_plan_mode_listing_and_feed(spider: Any) -> None:
    """Plan mode reads teasers and the pager by its own path: a bad link there costs itself."""
    from aaltowatch.core import planner

    spider.mode, spider.budget = planner.CrawlMode.PLAN, planner.Budget(100)
    body = listing([(BAD_LINKS[0], "Bad"), ("/en/news/good", "Good")], pager=(BAD_LINKS[0],))
    response = _html("/en/news", body)
    out = list(spider.parse_plan_listing(response, lang="en", page=0, how="scan"))
    assert BASE + "/en/news/good" in _urls(out)
    feed = rss([(BAD_LINKS[0], "Bad", []), ("https://www.aalto.fi/en/news/other", "Other", [])])
    out = list(spider.parse_feed(_xml("/en/news/feed", feed)))
    assert BASE + "/en/news/other" in _urls(out)
    assert _bad(spider) == 3


@pytest.mark.parametrize("spider", ["partnerships"], indirect=True)
@pytest.mark.parametrize("bad", BAD_LINKS)
def test_hub_links(spider: Any, bad: str) -> None:
    hub = "/en/collaboration/collaboration-with-cities-and-regions"
    extra = f'<a href="{bad}">Bad</a><a href="/en/collaboration/espoo">Espoo</a>'
    out = list(spider.parse_page(_html(hub, article(hub, "Cities", extra=extra))))
    assert BASE + "/en/collaboration/espoo" in _urls(out)
    assert any(getattr(o, "url", "") == f"https://www.aalto.fi{hub}" for o in out)  # stored
    assert _bad(spider) == 1


@pytest.mark.parametrize("bad", BAD_LINKS[:3])  # a header is latin-1: no U+FF03 there
def test_redirect_location(spider: Any, bad: str) -> None:
    path = "/en/news/moved"
    response = _html(path, "", status=301, headers={"Location": bad})
    assert list(spider.parse_page(response)) == []
    assert _bad(spider) == 1


def test_page_objects_keep_every_good_link_after_a_bad_one() -> None:
    """Pure parsing: hub link texts, drifted listings, canonical and hreflang translations."""
    bad = BAD_LINKS[0]
    hub = f'<main><a href="{bad}">Bad</a><a href="/en/collaboration/espoo">Espoo</a></main>'
    assert hub_links(hub.encode(), BASE + "/en/collaboration/h", base_url=BASE) == {
        "https://www.aalto.fi/en/collaboration/espoo": ["Espoo"]
    }
    drifted = f'<main><p><a href="{bad}">Bad</a></p><p><a href="/en/news/good">Good</a></p></main>'
    page = parse_listing(drifted.encode(), BASE + "/en/news", base_url=BASE)
    assert [t.url for t in page.teasers] == ["https://www.aalto.fi/en/news/good"]
    head = (
        f'<link rel="alternate" hreflang="fi" href="{bad}">'
        '<link rel="alternate" hreflang="sv" href="/sv/nyheter/x">'
    )
    html = article("/en/news/a", "A", canonical=bad).replace("<title>", head + "<title>")
    item = parse_article(html.encode(), BASE + "/en/news/a", base_url=BASE)
    assert item.url == "https://www.aalto.fi/en/news/a"
    assert item.translations.get("sv") == "https://www.aalto.fi/sv/nyheter/x"


def test_a_crawl_stores_every_page_behind_bad_links_and_says_so(tmp_path: Path) -> None:
    """Each story reachable only past a bad link: sitemap index, feed, pager, listing teaser;
    and redirects to a bad Location, of a listing and of a story."""
    bad = BAD_LINKS[0]
    pages = site_pages()
    pages["/sitemap.xml"] = Page(
        Fault.ok(sitemap([bad, "https://www.aalto.fi/sitemap-2.xml"], index=True), "text/xml")
    )
    pages["/sitemap-2.xml"] = Page(
        Fault.ok(sitemap(["https://www.aalto.fi/en/news/from-sitemap"]), "text/xml")
    )
    pages["/en/news/feed"] = Page(
        Fault.ok(
            rss([(bad, "Bad", []), ("https://www.aalto.fi/en/news/from-feed", "Feed", [])]),
            "application/rss+xml",
        )
    )
    pages["/en/news"] = Page(
        Fault.ok(
            listing(
                [(bad, "Bad"), ("/en/news/first-story", "First"), ("/en/news/second-story", "2")],
                pager=(bad, "?page=2"),
            )
        )
    )
    pages["/en/news?page=2"] = Page(Fault.ok(listing([("/en/news/from-pager", "Pager")])))
    pages["/sv/nyheter"] = Page(Fault.redirect(bad))  # Scrapy's redirect: that request fails
    pages["/en/news/second-story"] = Page(Fault.redirect(bad))  # a content page's Location
    for slug in ("from-sitemap", "from-feed", "from-pager"):
        pages[f"/en/news/{slug}"] = Page(Fault.ok(article(f"/en/news/{slug}", slug)))
    with HostileServer(pages) as srv:
        run = hostile_run(tmp_path, srv.url)
    stored = {p["url"].rsplit("/", 1)[1] for p in run.export()}
    assert {"from-sitemap", "from-feed", "from-pager", "first-story"} <= stored
    assert run.stats[BAD_STAT] >= 4
    assert "link that cannot be requested" in run.proc.stderr
    runs = json.loads(run_cli("status", "--json", db=run.db).stdout)["runs"]
    assert runs[0]["bad_links"] == run.stats[BAD_STAT] and runs[0]["errors"] >= 4
