"""Property tests: whatever bytes or text arrive, page objects fail only with ExtractionError."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aaltowatch.core.errors import ExtractionError
from pages import decode_html, parse_article, parse_feed, parse_listing, parse_sitemap

URL = "http://127.0.0.1:8123/en/news/some-story"
BASE = "http://127.0.0.1:8123"
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Fragments of the site's markup, so generated documents reach the extraction code paths.
PIECES = [
    "<html>", "<head>", "<body>", "<main>", "</main>", "<div class='aalto-article'>", "</div>",
    "<div class='aalto-article__top'><h1><span>T</span></h1>",
    "<div class='aalto-article__ingress'>",
    "<div class='aalto-user-generated-content'>", "<p>", "</p>", "<br>", "<script>", "</script>",
    "<figure><img src='/a.jpg?itok=1' alt='a'><figcaption>Photo: X</figcaption></figure>",
    "<time datetime='2020-01-01T00:00:00Z'>", "Published:", "Further information:",
    "<link rel='canonical' href='https://www.aalto.fi/en/news/x'>", "<ul><li>", "</li></ul>",
    "<a href='javascript:x'>", "<a class='aalto-listing-row__link' href='/en/news/y'>", "</a>",
    "<div class='aalto-listing-row'>", "<rss><channel><item><link>/en/news/z</link>",
    "<pubDate>nonsense</pubDate>", "</item></channel></rss>", "<urlset><url><loc>x</loc>",
    "<lastmod>2020-13-45</lastmod>", "</url></urlset>", "<sitemapindex><sitemap><loc>/s</loc>",
    "ä", "\ud800", "&amp;", "&#0;", "\x00", " ", "tel. +358 1", "a@b.fi", ",", ":",
]  # fmt: skip
markup = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=20)), max_size=40).map(
    "".join
)
PARSERS: list[Callable] = [
    lambda b: parse_article(b, URL, base_url=BASE),
    lambda b: parse_article(b, URL, content_type="text/html; charset=utf-8"),
    lambda b: parse_listing(b, BASE + "/en/news", base_url=BASE),
    lambda b: parse_feed(b, BASE + "/en/news/feed", base_url=BASE),
    lambda b: parse_sitemap(b, BASE + "/sitemap.xml", base_url=BASE),
]
IDS = ["article", "article-ctype", "listing", "feed", "sitemap"]


def only_extraction_errors(parse: Callable, data: bytes | str) -> None:
    try:
        parse(data)
    except ExtractionError:
        pass


@FUZZ
@given(st.binary(max_size=2000))
def test_decode_never_raises(data: bytes) -> None:
    assert isinstance(decode_html(data), str)
    assert isinstance(decode_html(data, "text/html; charset=bogus-charset"), str)


@pytest.mark.parametrize("parse", PARSERS, ids=IDS)
@FUZZ
@given(data=st.binary(max_size=2000))
def test_arbitrary_bytes(parse: Callable, data: bytes) -> None:
    only_extraction_errors(parse, data)


@pytest.mark.parametrize("parse", PARSERS, ids=IDS)
@FUZZ
@given(text=markup)
def test_arbitrary_markup(parse: Callable, text: str) -> None:
    only_extraction_errors(parse, text)
    only_extraction_errors(parse, text.encode("utf-8", errors="surrogatepass"))
