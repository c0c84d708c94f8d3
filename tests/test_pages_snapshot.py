"""Accuracy of the page objects against the snapshot's ground truth (both states, every page)."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from aaltowatch.core.urls import content_kind
from pages import parse_article, parse_feed, parse_listing, parse_sitemap

SNAPSHOT = Path(__file__).resolve().parent.parent / "aaltowatch" / "snapshot"
ORIGIN = "https://www.aalto.fi"
BASE = "http://127.0.0.1:8123"
STATES = ("state-1", "state-2")
FIELDS = (
    "kind", "lang", "title", "lead", "published", "updated", "contacts", "images",
    "translations", "body", "flags",
)  # fmt: skip


@cache
def manifest() -> dict:
    return json.loads((SNAPSHOT / "manifest.json").read_text("utf-8"))


@cache
def expected() -> dict:
    return json.loads((SNAPSHOT / "expected.json").read_text("utf-8"))


def served(state: str, key: str) -> tuple[bytes, str]:
    entry = manifest()["states"][state]["urls"][key]
    return (SNAPSHOT / entry["file"]).read_bytes(), entry["content_type"]


def body_summary(body: str) -> dict:
    words = re.findall(r"\w+", unicodedata.normalize("NFC", body))
    return {
        "body_first_words": " ".join(words[:12]),
        "body_last_words": " ".join(words[-12:]),
        "body_word_count": len(words),
        "body_words_sha256": hashlib.sha256(" ".join(words).encode()).hexdigest(),
    }


def compare(state: str, page: dict) -> dict[str, bool]:
    """Field -> matches, for one expected page parsed as fetched from a local mirror."""
    key = page["url"].removeprefix(ORIGIN)
    raw, ctype = served(state, key)
    item = parse_article(raw, BASE + key, content_type=ctype, base_url=BASE)
    got = item.to_dict()
    ok = {"url": got["url"] == page["url"]}
    for field in ("kind", "lang", "title", "lead", "published", "updated", "contacts"):
        ok[field] = got[field] == page[field]
    ok["translations"] = got["translations"] == page["translations"]
    ok["images"] = [
        {k: im[k] for k in ("alt", "caption", "credit")} for im in got["images"]
    ] == page["images"]
    summary = body_summary(got["body"])
    ok["body"] = all(summary[k] == page[k] for k in summary)
    ok["flags"] = ("empty_body" in got["flags"]) == ("empty_body" in page["flags"])
    return ok


def all_pages() -> list[tuple[str, dict]]:
    return [(state, page) for state in STATES for page in expected()[state]["pages"]]


@pytest.mark.parametrize(
    ("state", "page"),
    all_pages(),
    ids=lambda v: v if isinstance(v, str) else v["url"].removeprefix(ORIGIN),
)
def test_page_matches_ground_truth(state: str, page: dict) -> None:
    ok = compare(state, page)
    assert all(ok.values()), [field for field, good in ok.items() if not good]


def test_accuracy_report(capsys: pytest.CaptureFixture[str]) -> None:
    """Per-field exact-match counts for each state (printed; every field must be exact)."""
    lines = []
    for state in STATES:
        tally: Counter[str] = Counter()
        pages = expected()[state]["pages"]
        for page in pages:
            tally.update(field for field, good in compare(state, page).items() if good)
        lines.append(
            f"{state}: " + ", ".join(f"{f} {tally[f]}/{len(pages)}" for f in ("url", *FIELDS))
        )
        assert all(tally[f] == len(pages) for f in ("url", *FIELDS)), lines[-1]
    with capsys.disabled():
        print("\n" + "\n".join(lines))


@pytest.mark.parametrize("state", STATES)
def test_listings_give_every_news_teaser(state: str) -> None:
    urls = manifest()["states"][state]["urls"]
    teasers = {}
    for key, entry in urls.items():
        path = key.split("?")[0]
        if path in ("/en/news", "/fi/uutiset", "/sv/nyheter") and entry["status"] == 200:
            raw, _ = served(state, key)
            listing = parse_listing(raw, BASE + key, base_url=BASE)
            for teaser in listing.teasers:
                teasers[teaser.url] = teaser
            for nxt in listing.next_urls:
                assert nxt.startswith(BASE + path + "?page=")
    news = {p["url"]: p for p in expected()[state]["pages"] if p["kind"] == "news"}
    assert set(news) <= set(teasers)
    for url, page in news.items():
        assert teasers[url].categories == page["categories"], url
        assert teasers[url].title == page["title"]
        assert teasers[url].published == page["published"]


@pytest.mark.parametrize("state", STATES)
def test_feed_parses(state: str) -> None:
    raw, _ = served(state, "/en/news/feed")
    teasers = parse_feed(raw, BASE + "/en/news/feed", base_url=BASE)
    assert len(teasers) == 10
    pages = {p["url"]: p for p in expected()[state]["pages"]}
    for teaser in teasers:
        assert teaser.url in pages
        assert teaser.categories == pages[teaser.url]["categories"]
        assert teaser.published == pages[teaser.url]["published"]
        assert teaser.lead == pages[teaser.url]["lead"]


@pytest.mark.parametrize("state", STATES)
def test_sitemaps_parse(state: str) -> None:
    raw, _ = served(state, "/sitemap.xml")
    index = parse_sitemap(raw, BASE + "/sitemap.xml", base_url=BASE)
    assert [s.loc for s in index.sitemaps] == [
        BASE + "/sitemap.xml?page=1",
        BASE + "/sitemap.xml?page=2",
    ]
    assert all(s.lastmod and s.lastmod.endswith("Z") for s in index.sitemaps)
    locs = {}
    for entry in index.sitemaps:
        key = entry.loc.removeprefix(BASE)
        raw, _ = served(state, key)
        for url in parse_sitemap(raw, entry.loc, base_url=BASE).entries:
            assert url.loc.startswith(ORIGIN + "/") and url.lastmod.endswith("Z")
            locs[url.loc] = url
    pages = expected()[state]["pages"]
    assert {p["url"] for p in pages} <= set(locs)
    for page in pages:
        alternates = {k: v for k, v in locs[page["url"]].alternates.items() if k != page["lang"]}
        assert alternates == page["translations"] or not alternates
    assert all(content_kind(p["url"]) for p in pages)


def test_listing_fallback_when_classes_drift() -> None:
    raw, _ = served("state-1", "/en/news?page=1")
    url = BASE + "/en/news?page=1"
    drifted = re.sub(rb"aalto-(listing|pager)", rb"zz-\1", raw)
    assert parse_listing(drifted, url, base_url=BASE) == parse_listing(raw, url, base_url=BASE)
