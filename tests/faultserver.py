"""A fault-injecting HTTP server on 127.0.0.1 for the crawler's reliability tests.

It serves a tiny aalto.fi-like site (:func:`site_pages`) and lets a test decide, per route, what
the next requests get: ``Page(ok, faults=[Fault.status(500), Fault.status(500)])`` answers 500
twice, then ``ok`` forever. Every fault is finite: slow answers are capped server-side, huge
bodies are streamed with a size cap, and after ``max_requests`` every request gets a 503, so a
crawler bug (a retry or redirect loop) ends a test instead of hanging it.

Usage::

    with FaultServer(site_pages()) as srv:
        srv.add_faults("/en/news", Fault.status(503), Fault.reset())
        ...crawl srv.url...
        assert [r.status for r in srv.requests if r.path == "/en/news"] == [503, 0, 200]
"""

from __future__ import annotations

import socket
import struct
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from html import escape

from aaltowatch.core.http import is_not_modified
from aaltowatch.testing.snapshot_server import (
    BackgroundHTTPServer,
    RequestHandler,
    RequestRecord,
    etag_for,
    split_target,
)

MAX_SLOW_SECONDS = 3.0
"""Server-side cap on the total wait of one request, whatever its slow faults ask for."""
MAX_HUGE_BYTES = 256 * 2**20
"""Cap on :meth:`Fault.huge` bodies."""
NO_RESPONSE = 0
"""``RequestRecord.status`` of a request answered by closing the connection (reset, stop)."""
HTML = "text/html; charset=utf-8"
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Fault:
    """One way to answer one request; build it with the class methods, not the constructor."""

    kind: str
    code: int = 200
    body: bytes = b""
    content_type: str = HTML
    headers: tuple[tuple[str, str], ...] = ()
    last_modified: str | None = None
    seconds: float = 0.0
    length: int = 0
    chunked: bool = False
    then: Fault | None = None

    @classmethod
    def ok(
        cls,
        body: bytes | str,
        content_type: str = HTML,
        *,
        headers: Mapping[str, str] | None = None,
        last_modified: str | None = None,
    ) -> Fault:
        """200 with a strong ETag (and Last-Modified if given); conditional GETs get 304."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        return cls("ok", 200, data, content_type, _pairs(headers), last_modified)

    @classmethod
    def status(
        cls, code: int, body: bytes | None = None, *, headers: Mapping[str, str] | None = None
    ) -> Fault:
        """Any status, e.g. ``Fault.status(429, headers={"Retry-After": "1"})``."""
        data = f"<html><body><h1>{code}</h1></body></html>".encode() if body is None else body
        return cls("status", code, data, HTML, _pairs(headers))

    @classmethod
    def redirect(cls, to: str, code: int = 301) -> Fault:
        """Redirect; a root-relative ``to`` becomes absolute on this server, like Drupal does."""
        return cls("redirect", code, b"<html><body>Moved</body></html>", HTML, (("Location", to),))

    @classmethod
    def reset(cls) -> Fault:
        """Read the request, then abort the connection with a TCP RST and no response."""
        return cls("reset", NO_RESPONSE)

    @classmethod
    def truncated(cls, body: bytes, declared_length: int, content_type: str = HTML) -> Fault:
        """Declare ``declared_length`` bytes, send ``body``, close: the client sees a short read."""
        if declared_length <= len(body):
            raise ValueError("declared_length must exceed the bytes actually sent")
        return cls("truncated", 200, body, content_type, length=declared_length)

    @classmethod
    def slow(cls, seconds: float, then: Fault | None = None) -> Fault:
        """Wait (at most MAX_SLOW_SECONDS) before answering with ``then`` or the route default."""
        return cls("slow", seconds=seconds, then=then)

    @classmethod
    def huge(cls, megabytes: float, *, chunked: bool = False, content_type: str = HTML) -> Fault:
        """A valid HTML page of ``megabytes`` MiB, streamed; ``chunked`` hides the size upfront."""
        size = int(megabytes * 2**20)
        if not 0 < size <= MAX_HUGE_BYTES:
            raise ValueError(f"huge bodies are 1 byte to {MAX_HUGE_BYTES} bytes")
        return cls("huge", 200, b"", content_type, length=size, chunked=chunked)


def _pairs(headers: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    return tuple((headers or {}).items())


@dataclass
class Page:
    """A route: each request takes the next of ``faults``; once they run out, ``default``."""

    default: Fault
    faults: list[Fault] = field(default_factory=list)


def html_page(
    text: str,
    *,
    encoding: str = "utf-8",
    declared: str | None = "utf-8",
    last_modified: str | None = None,
) -> Page:
    """HTML encoded with ``encoding`` but labelled ``declared`` (None: no charset at all).

    ``html_page("päivä", encoding="cp1252", declared="utf-8")`` lies about its charset.
    """
    content_type = f"text/html; charset={declared}" if declared else "text/html"
    return Page(Fault.ok(text.encode(encoding), content_type, last_modified=last_modified))


INVALID_HTML = (
    b"<html><head><title>Broken</title><body><div class=aalto-article><p>Unclosed <b>bold"
    b"<div><span>Stray close</div></span></p></table>&bogus; &#xZZ; \x00 NUL"
    b'<a href="/en/news/ok-story>never closed attr</body>'
)
"""Malformed markup (unclosed tags and attributes, stray end tags, bad entities, a NUL)."""


def robots_page(
    disallow: Iterable[str] = ("/en/search",),
    *,
    crawl_delay: float | None = None,
    sitemap: str | None = None,
) -> Page:
    """A robots.txt for ``User-agent: *``, e.g. ``robots_page(["/en/news/private"])``."""
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in disallow)]
    if crawl_delay is not None:
        lines.append(f"Crawl-delay: {crawl_delay:g}")
    if sitemap is not None:
        lines += ["", f"Sitemap: {sitemap}"]
    return Page(Fault.ok("\n".join(lines) + "\n", "text/plain; charset=utf-8"))


STORIES = {
    "first-story": ("First story from Otaniemi", "2026-01-19T08:00:00Z", "19.1.2026", "Campus"),
    "second-story": (
        "Second story about research",
        "2026-01-18T12:30:00Z",
        "18.1.2026",
        "Research",
    ),
}
"""slug -> (title, published UTC, displayed date, category) of the news on :func:`site_pages`."""

NORDIC_STORIES = {
    "/fi/uutiset/paivan-uutinen": (
        "Päivän uutinen Otaniemestä – kesä",
        "2026-01-17T07:15:00Z",
        "17.1.2026",
        "Kampus",
    ),
    "/sv/nyheter/dagens-nyhet": (
        "Dagens nyhet från Otnäs – vår",
        "2026-01-16T10:00:00Z",
        "16.1.2026",
        "Forskning",
    ),
}
"""path -> story of the fi and sv listings: non-ASCII titles, for the charset cases."""

LISTINGS = {"en": "/en/news", "fi": "/fi/uutiset", "sv": "/sv/nyheter"}
SITEMAP_LASTMOD = "2026-01-19T09:00:00+00:00"


def _all_stories() -> dict[str, tuple[str, str, str, str]]:
    """path -> story, for every article of the site."""
    stories = {f"/en/news/{slug}": story for slug, story in STORIES.items()}
    stories.update(NORDIC_STORIES)
    return stories


def _shell(path: str, title: str, main: str, charset: str | None = "utf-8") -> str:
    canonical = f"https://www.aalto.fi{path}"
    lang = path.split("/")[1] if path.count("/") > 1 else "en"
    meta = f'<meta charset="{charset}" />\n' if charset else ""
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}" dir="ltr">\n<head>\n{meta}'
        f'<link rel="canonical" href="{canonical}" />\n'
        f'<meta property="og:url" content="{canonical}" />\n'
        f"<title>{escape(title)} | Aalto University</title>\n</head>\n<body>\n"
        '<header class="aalto-header"><form class="aalto-search-form" action="/en/search" '
        'method="get"><input type="search" name="keys" /></form></header>\n'
        f'<main id="main-content">{main}</main>\n</body>\n</html>\n'
    )


def article_html(path: str, charset: str | None = "utf-8") -> str:
    """The article at ``path`` (any story of the site); ``charset=None`` drops its <meta>."""
    title, published, shown, _ = _all_stories()[path]
    info = "".join(
        '<div class="aalto-article__info-item">'
        f'<div class="aalto-article__info-title">{label}</div>'
        f'<div class="aalto-article__info-text"><time datetime="{published}">{shown}</time></div>'
        "</div>"
        for label in ("Published:", "Updated:")
    )
    main = (
        '<div class="aalto-article aalto-article--news">'
        '<div class="article-container aalto-article__top">'
        '<div class="aalto-article__label">News</div>'
        f'<h1 class="aalto-article__title"><span>{escape(title)}</span></h1>'
        f'<div class="aalto-article__ingress"><p>The lead of {escape(title)}.</p></div></div>'
        '<div class="article-container aalto-article__content">'
        '<div class="paragraph paragraph--type--text-text paragraph--view-mode--default">'
        '<div class="aalto-user-generated-content">'
        f"<p>Body text of {escape(title)}, written for the fault server.</p>"
        '<p>See the <a href="/en/news">news listing</a>.</p></div></div>'
        f'<div class="aalto-article__info">{info}</div></div></div>'
    )
    return _shell(path, title, main, charset)


def _listing(path: str = "/en/news") -> str:
    rows = "".join(
        '<div class="aalto-listing-row aalto-listing-row--news">'
        '<div class="aalto-listing-row__content-column"><div class="aalto-listing-row__meta">'
        '<span class="aalto-listing-row__meta-item aalto-listing-row__meta-item--category">'
        f"{category}</span> "
        '<span class="aalto-listing-row__meta-item aalto-listing-row__meta-item--date">'
        f'Published: <time datetime="{published}">{shown}</time></span></div>'
        '<h2 class="aalto-listing-row__title"><a class="aalto-listing-row__link" '
        f'href="{story_path}">{escape(title)}</a></h2>'
        f'<div class="aalto-listing-row__summary">The lead of {escape(title)}.</div></div></div>'
        for story_path, (title, published, shown, category) in _all_stories().items()
        if story_path.rsplit("/", 1)[0] == path
    )
    return _shell(path, "News", f'<div class="aalto-listing">{rows}</div>')


def _sitemap() -> str:
    urls = "".join(
        f"<url><loc>https://www.aalto.fi{path}</loc><lastmod>{SITEMAP_LASTMOD}</lastmod></url>"
        for path in _all_stories()
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>\n'
    )


def _feed() -> str:
    items = "".join(
        f"<item><title>{escape(title)}</title><link>https://www.aalto.fi/en/news/{slug}</link>"
        f"<description>&lt;p&gt;The lead of {escape(title)}.&lt;/p&gt;</description>"
        f"<category>{category}</category><guid>{slug}</guid></item>"
        for slug, (title, _, _, category) in STORIES.items()
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>Aalto University news</title><link>https://www.aalto.fi/en/news</link>{items}"
        "</channel></rss>\n"
    )


def site_pages(disallow: Iterable[str] = ("/en/search",)) -> dict[str, Page]:
    """A fresh tiny site shaped like aalto.fi for the news spider.

    robots.txt, the sitemap, the site feed, the en/fi/sv listings, their four stories and a
    search page. ``/en/search`` exists but robots.txt disallows it, so fetching it is a
    politeness bug.
    """
    xml = "application/xml; charset=utf-8"
    pages = {
        "/robots.txt": robots_page(disallow),
        "/sitemap.xml": Page(Fault.ok(_sitemap(), xml)),
        "/en/news/feed": Page(Fault.ok(_feed(), "application/rss+xml; charset=utf-8")),
        "/en/search": Page(Fault.ok(_shell("/en/search", "Search", "<p>Search results</p>"))),
    }
    pages.update({path: Page(Fault.ok(_listing(path))) for path in LISTINGS.values()})
    pages.update({path: Page(Fault.ok(article_html(path))) for path in _all_stories()})
    return pages


def huge_chunks(size: int) -> Iterator[bytes]:
    """Yield exactly ``size`` bytes of valid HTML without holding more than one chunk."""
    head, tail = b"<!DOCTYPE html><html><body>\n", b"</body></html>\n"
    if size < len(head) + len(tail):
        yield (b"x" * size)
        return
    line = b"<p>Aalto University news, repeated to make a huge page.</p>\n"
    block = line * (CHUNK // len(line))
    yield head
    left = size - len(head) - len(tail)
    while left > 0:
        piece = block[:left]
        left -= len(piece)
        yield piece
    yield tail


class FaultServer(BackgroundHTTPServer):
    """Serves ``pages`` (default: :func:`site_pages`) with the faults each route has queued."""

    def __init__(
        self,
        pages: Mapping[str, Page] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_requests: int = 1000,
        log: bool = False,
    ) -> None:
        super().__init__(host, port, log)
        self.max_requests = max_requests
        self._handled = 0
        self._routes: dict[str, tuple[Fault, deque[Fault]]] = {}
        self._times: list[tuple[str, float]] = []
        for path, page in (site_pages() if pages is None else pages).items():
            self.set_page(path, page)

    def set_page(self, path: str, page: Page) -> None:
        """Add or replace a route; ``path`` may include ``?query`` to match only that query.

        A request whose exact ``path?query`` has no route falls back to the route of its path.
        """
        fault: Fault | None = page.default
        while fault is not None and fault.kind == "slow":
            if fault.then is None:
                raise ValueError("a slow default must end in then=<answer>, not in itself")
            fault = fault.then
        with self._lock:
            self._routes[path] = (page.default, deque(page.faults))

    def add_faults(self, path: str, *faults: Fault) -> None:
        """Queue faults on an existing route, answered before its default."""
        with self._lock:
            self._routes[path][1].extend(faults)

    def pending(self, path: str) -> int:
        """How many queued faults of ``path`` are still unused."""
        with self._lock:
            return len(self._routes[path][1])

    def times(self, path: str) -> list[float]:
        """Monotonic times of the requests for exactly ``path`` (to check back-off waits)."""
        with self._lock:
            return [t for p, t in self._times if p == path]

    def _record(self, record: RequestRecord, extra: str) -> None:
        with self._lock:
            self._times.append((record.path, time.monotonic()))
        super()._record(record, extra)

    def _take(self, target: str) -> tuple[Fault, Fault] | None:
        """(fault for this request, route default), or None for an unknown route."""
        path, query = split_target(target)
        with self._lock:
            route = self._routes.get(f"{path}?{query}" if query else path) or self._routes.get(path)
            if route is None:
                return None
            default, queue = route
            return (queue.popleft() if queue else default), default

    def serve(self, handler: RequestHandler) -> None:
        """Answer one request according to its route's next fault."""
        with self._lock:
            self._handled += 1
            over_cap = self._handled > self.max_requests
        if over_cap:
            handler.close_connection = True
            body = b"request cap reached"
            headers = {"Content-Type": "text/plain", "Connection": "close"}
            handler.respond(503, headers, body, content_length=len(body))
            return
        taken = self._take(handler.path)
        if taken is None:
            not_found = b"<html><body><h1>Page not found</h1></body></html>"
            handler.respond(404, {"Content-Type": HTML}, not_found, content_length=len(not_found))
            return
        fault, default = taken
        budget = MAX_SLOW_SECONDS
        while fault.kind == "slow":  # ends: set_page makes every chain end in a real answer
            wait = min(fault.seconds, budget)
            budget -= wait
            if self.stopping.wait(wait):
                self._abort(handler)
                return
            fault = fault.then or default
        self._answer(handler, fault)

    def _answer(self, handler: RequestHandler, fault: Fault) -> None:
        headers = {"Content-Type": fault.content_type, **dict(fault.headers)}
        if fault.kind == "ok":
            etag = etag_for(fault.body)
            headers["ETag"] = etag
            if fault.last_modified:
                headers["Last-Modified"] = fault.last_modified
            code = 304 if is_not_modified(handler.headers, etag, fault.last_modified) else 200
            handler.respond(code, headers, fault.body, content_length=len(fault.body))
        elif fault.kind in ("status", "redirect"):
            if fault.kind == "redirect" and headers["Location"].startswith("/"):
                headers["Location"] = self.url + headers["Location"]
            handler.respond(fault.code, headers, fault.body, content_length=len(fault.body))
        elif fault.kind == "truncated":
            handler.close_connection = True
            handler.respond(200, headers, fault.body, content_length=fault.length)
        elif fault.kind == "reset":
            self._abort(handler)
        elif fault.kind == "huge":
            self._stream(handler, fault, headers)
        else:
            raise ValueError(f"unknown fault kind {fault.kind!r}")

    def _abort(self, handler: RequestHandler) -> None:
        """Close with SO_LINGER 0, so the kernel sends RST instead of a clean FIN."""
        handler.record(NO_RESPONSE, "reset")
        handler.close_connection = True
        conn = handler.connection
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.rfile.close()  # drop the makefile reference so close() really closes now
        conn.close()

    def _stream(self, handler: RequestHandler, fault: Fault, headers: dict[str, str]) -> None:
        handler.record(200, f"huge {fault.length}")
        handler.send_response(200)
        for name, value in headers.items():
            handler.send_header(name, value)
        if fault.chunked:
            handler.send_header("Transfer-Encoding", "chunked")
        else:
            handler.send_header("Content-Length", str(fault.length))
        handler.end_headers()
        if handler.command == "HEAD":
            return
        for piece in huge_chunks(fault.length):
            if self.stopping.is_set():
                handler.close_connection = True
                return
            if fault.chunked:
                piece = b"%x\r\n%s\r\n" % (len(piece), piece)
            handler.wfile.write(piece)
        if fault.chunked:
            handler.wfile.write(b"0\r\n\r\n")
