"""Servers for the hostile-site tests: the tiny fault site plus attack routes, and an
"internal service" on 127.0.0.2 standing in for the operator's network.

Linux routes all of 127/8 to loopback, so a server bound to 127.0.0.2 is another host as far
as the crawler can tell; it records every request, and every test asserts it got none.
Attack routes stream what they send and stop by themselves (a byte or time cap), so a crawler
bug fails a test instead of hanging it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from html import escape

from aaltowatch.testing.snapshot_server import RequestHandler, split_target
from tests.faultserver import HTML, FaultServer, Page, site_pages

INTERNAL_HOST = "127.0.0.2"
SECRET = "INTERNAL-SECRET-7f3a"
"""Text only the internal service serves: it must never reach the archive or a feed."""
STREAM_CAP_BYTES = 64 * 2**20
"""Most an endless route sends before it gives up (the crawler must stop long before)."""
STREAM_CAP_SECONDS = 20.0

Route = Callable[[RequestHandler, str], None]
"""An attack route: (handler, query) -> writes a whole response itself."""


class InternalService(FaultServer):
    """Answers every path with a page holding SECRET and a canonical naming an Aalto page."""

    def __init__(self) -> None:
        super().__init__({}, host=INTERNAL_HOST)

    def serve(self, handler: RequestHandler) -> None:
        body = (
            '<html lang="en"><head><link rel="canonical" href="https://www.aalto.fi/en/news/'
            f'first-story"><title>{SECRET}</title></head><body><main><div class="aalto-article">'
            f'<h1 class="aalto-article__title">{SECRET}</h1><p>{SECRET}</p></div></main>'
            "</body></html>"
        ).encode()
        handler.respond(200, {"Content-Type": HTML}, body, content_length=len(body))


class HostileServer(FaultServer):
    """The fault site (tests/faultserver.py) on 127.0.0.1 with attack routes on top."""

    def __init__(
        self, pages: Mapping[str, Page] | None = None, routes: Mapping[str, Route] | None = None
    ) -> None:
        super().__init__(site_pages() if pages is None else pages, max_requests=5000)
        self.routes = dict(routes or {})

    def serve(self, handler: RequestHandler) -> None:
        path, query = split_target(handler.path)
        route = self.routes.get(path)
        if route is None:
            super().serve(handler)
            return
        try:
            route(handler, query)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the crawler hung up: that is what a bound does
        handler.close_connection = True

    def hits(self, path: str) -> int:
        """Requests for `path` (any query)."""
        return sum(1 for r in self.requests if split_target(r.path)[0] == path)


def stream(
    handler: RequestHandler,
    status: str,
    headers: Mapping[str, str],
    chunks: Iterator[bytes],
    *,
    delay: float = 0.0,
) -> None:
    """Write a raw response: status line, headers, then chunks (capped in bytes and time)."""
    handler.record(200, "stream")
    out = handler.wfile
    head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    out.write((head + "\r\n").encode())
    sent, start = 0, time.monotonic()
    for chunk in chunks:
        if sent > STREAM_CAP_BYTES or time.monotonic() - start > STREAM_CAP_SECONDS:
            return
        out.write(chunk)
        out.flush()
        sent += len(chunk)
        if delay:
            time.sleep(delay)


def endless_headers(handler: RequestHandler, query: str) -> None:
    """A status line, then header lines forever: the header section never ends."""
    handler.record(200, "endless headers")
    out = handler.wfile
    out.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n")
    line = b"X-Filler: " + b"a" * 100 + b"\r\n"
    start, sent = time.monotonic(), 0
    while sent < STREAM_CAP_BYTES and time.monotonic() - start < STREAM_CAP_SECONDS:
        out.write(line * 100)
        sent += len(line) * 100


def slow_drip(handler: RequestHandler, query: str) -> None:
    """Headers at once, then one byte of the body every 0.2 s."""
    body = iter(lambda: b"<", None)
    stream(handler, "200 OK", {"Content-Type": HTML, "Content-Length": "100000"}, body, delay=0.2)


def _listing_page(n: int) -> bytes:
    """Page N of an endless listing: one story never seen before (so no run ever reaches a
    known frontier) and pager links to N+1, N+2 and N+3."""
    pager = tuple(f"/en/news?page={n + k}" for k in (1, 2, 3))
    return listing([(f"/en/news/endless-story-{n}", f"Endless story {n}")], pager).encode()


def endless_pager(handler: RequestHandler, query: str) -> None:
    """/en/news?page=N always links to pages N+1, N+2 and N+3: the pager never ends."""
    n = int(dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("page", "0"))
    body = _listing_page(n)
    handler.respond(200, {"Content-Type": HTML}, body, content_length=len(body))


def sitemap_chain(handler: RequestHandler, query: str) -> None:
    """An index whose only child is the next index, forever (?level=N)."""
    n = int(query.split("=", 1)[1]) if query.startswith("level=") else 0
    body = (
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>https://www.aalto.fi/sitemap.xml?level={n + 1}</loc></sitemap>"
        "</sitemapindex>"
    ).encode()
    handler.respond(200, {"Content-Type": "application/xml"}, body, content_length=len(body))


def huge_sitemap(count: int) -> Route:
    """A urlset of `count` news URLs, generated while it is sent (never held whole)."""

    def route(handler: RequestHandler, query: str) -> None:
        def chunks() -> Iterator[bytes]:
            yield b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            for start in range(0, count, 1000):
                yield "".join(
                    f"<url><loc>https://www.aalto.fi/en/news/generated-{i}</loc></url>"
                    for i in range(start, min(start + 1000, count))
                ).encode()
            yield b"</urlset>"

        stream(
            handler, "200 OK", {"Content-Type": "application/xml", "Connection": "close"}, chunks()
        )

    return route


def article(path: str, title: str, *, canonical: str | None = None, extra: str = "") -> str:
    """A minimal article page of the site's markup, with any canonical href (raw, unescaped)."""
    href = canonical if canonical is not None else f"https://www.aalto.fi{path}"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<link rel="canonical" href="{href}"><title>{escape(title)} | Aalto University</title>'
        '</head><body><main><div class="aalto-article aalto-article--news">'
        '<div class="article-container aalto-article__top">'
        f'<h1 class="aalto-article__title"><span>{escape(title)}</span></h1>'
        f'<div class="aalto-article__ingress"><p>Lead of {escape(title)}.</p></div></div>'
        '<div class="paragraph paragraph--type--text-text"><div class="aalto-user-generated-'
        f'content"><p>Body of {escape(title)}.</p>{extra}</div></div>'
        '<div class="aalto-article__info"><div class="aalto-article__info-item">'
        '<div class="aalto-article__info-title">Published:</div><div class="aalto-article__'
        'info-text"><time datetime="2026-01-10T08:00:00Z">10.1.2026</time></div></div></div>'
        "</div></main></body></html>"
    )


def listing(rows: list[tuple[str, str]], pager: tuple[str, ...] = ()) -> str:
    """A news listing page: teaser rows (href, title) and pager links (hrefs, raw)."""
    teasers = "".join(
        '<div class="aalto-listing-row"><div class="aalto-listing-row__meta">'
        '<span class="aalto-listing-row__meta-item--category">Campus</span></div>'
        f'<a class="aalto-listing-row__link" href="{href}">{escape(title)}</a>'
        '<div class="aalto-listing-row__summary">A teaser.</div></div>'
        for href, title in rows
    )
    links = "".join(f'<a class="aalto-pager__item-link" href="{href}">next</a>' for href in pager)
    return (
        '<html lang="en"><body><main><div class="aalto-listing">'
        f"{teasers}</div><nav>{links}</nav></main></body></html>"
    )


def rss(items: list[tuple[str, str, list[str]]]) -> str:
    """The site feed: items (link, title, categories)."""
    body = "".join(
        f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
        + "".join(f"<category>{escape(c)}</category>" for c in categories)
        + "</item>"
        for link, title, categories in items
    )
    channel = f"<channel><title>News</title>{body}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'


def sitemap(locs: list[str], *, index: bool = False) -> str:
    """A urlset of `locs`, or (index=True) a sitemap index of them."""
    root, item = ("sitemapindex", "sitemap") if index else ("urlset", "url")
    entries = "".join(f"<{item}><loc>{escape(loc)}</loc></{item}>" for loc in locs)
    return (
        f'<?xml version="1.0"?><{root} xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"{entries}</{root}>"
    )
