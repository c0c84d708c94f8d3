"""The freshness bench's living site: deterministic history, pages the page objects read, 304s."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.error import HTTPError
from urllib.request import HTTPRedirectHandler, Request, build_opener

import pytest

from bench.livesite import DAY, EPOCH, FEED_PATH, HUB_PATHS, Kind, LiveSite, request_kind
from bench.server import LiveSiteServer
from pages import parse_article, parse_feed, parse_listing, parse_sitemap
from pages.fields import HASHED_FIELDS
from pipeline.fingerprint import content_hash

BASE = "http://127.0.0.1:1"


@pytest.fixture(scope="module")
def site() -> LiveSite:
    return LiveSite(pages=400, days=30, seed=3)


def record(body: bytes, path: str) -> dict:
    item = parse_article(body, BASE + path, base_url=BASE)
    return {f: getattr(item, f) for f in HASHED_FIELDS} | {"updated": item.updated}


def first(site: LiveSite, kind: Kind):
    return next(e for e in site.events if e.kind is kind)


def test_history_is_a_function_of_the_seed(site: LiveSite) -> None:
    again = LiveSite(pages=400, days=30, seed=3)
    assert again.events == site.events
    assert LiveSite(pages=400, days=30, seed=4).events != site.events
    kinds = {e.kind for e in site.events}
    assert kinds == set(Kind)
    assert sum(e.kind is Kind.NEW for e in site.events) == 30 * 8
    assert all(a.at <= b.at for a, b in zip(site.events, site.events[1:], strict=False))


def test_pages_parse_with_the_page_objects(site: LiveSite) -> None:
    view = site.view(EPOCH + timedelta(days=2))
    newest = view.news["en"][0]
    page = parse_article(view.get(newest.path()).body, BASE + newest.path(), base_url=BASE)
    assert page.title == newest.title and page.url.endswith(newest.path())
    listing = parse_listing(view.get("/en/news?page=1").body, BASE + "/en/news", base_url=BASE)
    assert [t.title for t in listing.teasers] == [p.title for p in view.news["en"][12:24]]
    assert any(u.endswith("page=2") for u in listing.next_urls)
    index = parse_sitemap(view.get("/sitemap.xml").body, BASE + "/sitemap.xml", base_url=BASE)
    child = index.sitemaps[0].loc.replace(BASE, "")
    urls = parse_sitemap(view.get(child).body, BASE + child, base_url=BASE).entries
    assert urls and all(e.lastmod for e in urls)
    teasers = parse_feed(view.get(FEED_PATH).body, BASE + FEED_PATH, base_url=BASE)
    assert teasers[0].url.endswith(newest.path())
    hub = view.get(HUB_PATHS["en"]).body.decode()
    assert all(p.path() in hub for p in view.partners["en"])


def test_noise_is_not_a_change_but_edits_are(site: LiveSite) -> None:
    quiet = next(p for p in site.pages if p.kind == "news" and not p.edits and p.end is None)
    path = quiet.path()
    day0, day1 = site.view(EPOCH).get(path).body, site.view(EPOCH + DAY).get(path).body
    assert day0 != day1  # teaser cards and itok rotate daily
    assert content_hash(record(day0, path)) == content_hash(record(day1, path))
    edit, silent = first(site, Kind.EDIT_OLD), first(site, Kind.SILENT)
    for event in (edit, silent):
        path = site.pages[event.page].path()
        old = record(site.view(event.at - timedelta(seconds=1)).get(path).body, path)
        new = record(site.view(event.at).get(path).body, path)
        assert content_hash(new) != content_hash(old)
        moved = (event is edit) == (new["updated"] != old["updated"])
        assert moved, "a visible edit moves Updated:, a silent one does not"


def test_server_answers_304_gone_and_moved(site: LiveSite) -> None:
    removal, move = first(site, Kind.REMOVAL), first(site, Kind.MOVE)
    old_path = site.pages[move.page].path()
    gone_path = site.pages[removal.page].path()
    opener = build_opener(
        type("NoRedirect", (HTTPRedirectHandler,), {"redirect_request": lambda *a: None})
    )

    def get(url: str, **headers: str):
        try:
            return opener.open(Request(url, headers=headers))
        except HTTPError as exc:
            return exc

    with LiveSiteServer(site) as server:
        url = server.url
        path = site.view(EPOCH).news["fi"][0].path()
        first_answer = get(url + path)
        etag = first_answer.headers["ETag"]
        assert first_answer.status == 200 and etag
        assert get(url + path, **{"If-None-Match": etag}).status == 304
        later = max(removal.at, move.at)
        with get(f"{url}/__time?t={later.timestamp()}") as answer:
            json.loads(answer.read())
        assert get(url + gone_path).status in (404, 410)
        moved = get(url + old_path)
        assert moved.status == 301 and moved.headers["Location"].endswith(
            move.url[len("https://www.aalto.fi") :]
        )
        with get(f"{url}/__stats?reset=1") as answer:
            counts = json.loads(answer.read())
    assert counts["article 304"] == 1 and counts["article 301"] == 1
    assert request_kind("/sv/nyheter?page=3") == "listing"
    assert request_kind("/sitemap.xml?page=2") == "sitemap"
