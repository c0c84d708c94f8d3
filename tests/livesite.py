"""A small living aalto.fi on 127.0.0.1 for the crawl planner's tests.

A few hundred news stories in en/fi/sv with paginated listings (12 per page, 0-based ?page=N,
Drupal-like pager), a sitemap index with one child, the English RSS feed, ETags and 304s.
A test changes it between runs: publish a story (top of its listing, in the sitemap and feed),
edit one (optionally silently: the lastmod stays), remove one (404).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape

from aaltowatch.core.urls import LISTING_PATHS, NEWS_SECTIONS
from aaltowatch.testing.snapshot_server import BackgroundHTTPServer, RequestHandler, split_target

PER_PAGE = 12
CATEGORIES = ("University", "Research", "Campus")
START = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass
class Story:
    lang: str
    n: int
    published: str
    category: str
    body: str
    lastmod: str
    slug: str = ""  # default: story-<lang>-<n>; a moved story gets another

    @property
    def path(self) -> str:
        slug = self.slug or f"story-{self.lang}-{self.n}"
        return f"/{self.lang}/{NEWS_SECTIONS[self.lang]}/{slug}"

    @property
    def title(self) -> str:
        return f"Story {self.n} in {self.lang}"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _shell(path: str, lang: str, title: str, main: str) -> str:
    canonical = f"https://www.aalto.fi{path}"
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8" />'
        f'<link rel="canonical" href="{canonical}" /><title>{escape(title)} | Aalto University'
        f'</title></head><body><main id="main-content">{main}</main></body></html>\n'
    )


class LiveSite(BackgroundHTTPServer):
    """The site's state lives in `stories`; every answer is computed from it."""

    def __init__(self, per_lang: dict[str, int], delay_s: float = 0.0) -> None:
        super().__init__("127.0.0.1", 0)
        self.delay_s = delay_s
        self.stories: dict[str, Story] = {}
        self.ghosts: list[str] = []  # paths a stale sitemap still lists: they answer 404
        self.redirects: dict[str, str] = {}  # old path -> new path: a 301
        self.clock = START
        for lang, count in per_lang.items():
            for _ in range(count):
                self.publish(lang)

    # -- changes ---------------------------------------------------------------------------
    def publish(self, lang: str) -> Story:
        self.clock += timedelta(hours=1)
        n = sum(1 for s in self.stories.values() if s.lang == lang)
        stamp = _iso(self.clock)
        story = Story(lang, n, stamp, CATEGORIES[n % 3], f"First text of story {n}.", stamp)
        self.stories[story.path] = story
        return story

    def edit(self, path: str, *, silent: bool = False) -> None:
        story = self.stories[path]
        story.body += " An added sentence."
        if not silent:
            self.clock += timedelta(minutes=5)
            story.lastmod = _iso(self.clock)

    def remove(self, path: str) -> None:
        del self.stories[path]

    def move(self, path: str) -> str:
        """The story goes to a new URL with the same content; the old one answers 301."""
        story = self.stories.pop(path)
        story.slug = f"story-{story.lang}-{story.n}-renamed"
        self.stories[story.path] = story
        self.redirects[path] = story.path
        return story.path

    def newest(self, lang: str, count: int) -> list[Story]:
        return self._listed(lang)[:count]

    def _listed(self, lang: str) -> list[Story]:
        mine = [s for s in self.stories.values() if s.lang == lang]
        return sorted(mine, key=lambda s: s.published, reverse=True)

    # -- pages -----------------------------------------------------------------------------
    def article(self, story: Story) -> str:
        info = "".join(
            '<div class="aalto-article__info-item">'
            f'<div class="aalto-article__info-title">{label}</div>'
            '<div class="aalto-article__info-text">'
            f'<time datetime="{story.published}">x</time></div></div>'
            for label in ("Published:", "Updated:")
        )
        main = (
            '<div class="aalto-article aalto-article--news">'
            '<div class="article-container aalto-article__top">'
            f'<h1 class="aalto-article__title"><span>{escape(story.title)}</span></h1>'
            f'<div class="aalto-article__ingress"><p>Lead of {escape(story.title)}.</p></div>'
            '</div><div class="article-container aalto-article__content">'
            '<div class="paragraph paragraph--type--text-text">'
            f'<div class="aalto-user-generated-content"><p>{escape(story.body)}</p></div></div>'
            f'<div class="aalto-article__info">{info}</div></div></div>'
        )
        return _shell(story.path, story.lang, story.title, main)

    def listing(self, lang: str, page: int) -> str | None:
        stories = self._listed(lang)
        pages = max(1, -(-len(stories) // PER_PAGE))
        if page >= pages:
            return None
        rows = "".join(
            '<div class="aalto-listing-row aalto-listing-row--news">'
            '<div class="aalto-listing-row__meta">'
            '<span class="aalto-listing-row__meta-item aalto-listing-row__meta-item--category">'
            f"{s.category}</span> "
            '<span class="aalto-listing-row__meta-item aalto-listing-row__meta-item--date">'
            f'Published: <time datetime="{s.published}">x</time></span></div>'
            '<h2 class="aalto-listing-row__title"><a class="aalto-listing-row__link" '
            f'href="{s.path}">{escape(s.title)}</a></h2></div>'
            for s in stories[page * PER_PAGE : (page + 1) * PER_PAGE]
        )
        pager = "".join(
            f'<a class="aalto-pager__item-link" href="?page={n}">{n + 1}</a>'
            for n in (0, page - 1, page + 1, pages - 1)
            if 0 <= n < pages and n != page
        )
        main = f'<div class="aalto-listing">{rows}</div><nav class="aalto-pager">{pager}</nav>'
        return _shell(LISTING_PATHS[lang], lang, "News", main)

    def sitemap(self, child: bool) -> str:
        if not child:
            return (
                '<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.'
                'sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>https://www.aalto.fi/'
                "sitemap.xml?page=1</loc></sitemap></sitemapindex>"
            )
        urls = "".join(
            f"<url><loc>https://www.aalto.fi{s.path}</loc><lastmod>{s.lastmod}</lastmod></url>"
            for s in self.stories.values()
        ) + "".join(f"<url><loc>https://www.aalto.fi{path}</loc></url>" for path in self.ghosts)
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/'
            f'schemas/sitemap/0.9">{urls}</urlset>'
        )

    def feed(self) -> str:
        items = "".join(
            f"<item><title>{escape(s.title)}</title><link>https://www.aalto.fi{s.path}</link>"
            f"<category>{s.category}</category><guid>{s.path}</guid></item>"
            for s in self.newest("en", 10)
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            f"<title>News</title><link>https://www.aalto.fi/en/news</link>{items}"
            "</channel></rss>\n"
        )

    def render(self, target: str) -> tuple[str, str] | None:
        path, query = split_target(target)
        page = int(query.removeprefix("page=")) if query.startswith("page=") else 0
        html, xml = "text/html; charset=utf-8", "application/xml; charset=utf-8"
        if path == "/robots.txt":
            return "User-agent: *\nDisallow: /en/search\n", "text/plain"
        if path == "/sitemap.xml":
            return self.sitemap(child=bool(query)), xml
        if path == "/en/news/feed":
            return self.feed(), "application/rss+xml; charset=utf-8"
        for lang, listing in LISTING_PATHS.items():
            if path == listing:
                text = self.listing(lang, page)
                return (text, html) if text else None
        story = self.stories.get(path)
        return (self.article(story), html) if story else None

    def serve(self, handler: RequestHandler) -> None:
        if self.delay_s and split_target(handler.path)[0] in self.stories:
            self.stopping.wait(self.delay_s)
        with self._lock:
            moved_to = self.redirects.get(split_target(handler.path)[0])
            found = self.render(handler.path)
        if moved_to is not None:
            handler.respond(301, {"Location": moved_to}, b"", content_length=0)
            return
        if found is None:
            handler.respond(404, {"Content-Type": "text/html"}, b"gone", content_length=4)
            return
        text, content_type = found
        body = text.encode("utf-8")
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        headers = {"ETag": etag, "Content-Type": content_type}
        if handler.headers.get("If-None-Match") == etag:
            handler.respond(304, headers, b"", content_length=0)
            return
        handler.respond(200, headers, body, content_length=len(body))

    # -- what the crawler asked --------------------------------------------------------------
    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def article_requests(self) -> list[str]:
        return [p for p in self.paths() if "?" not in p and p.count("/") == 3 and "feed" not in p]

    def listing_requests(self, lang: str) -> list[str]:
        return [p for p in self.paths() if p.split("?")[0] == LISTING_PATHS[lang]]
