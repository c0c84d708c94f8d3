"""Serve the feeds directory over HTTP with validators, so readers poll cheaply (ETag/304).

Standard library only (ThreadingHTTPServer). Files are looked up strictly inside the feeds
directory: no traversal, no hidden (temporary) files, no directory listings. Given the archive,
it also answers ad-hoc search feeds, `/search.xml?q=…` and `/search.atom?q=…` (feeds.search).
"""

from __future__ import annotations

import hashlib
import re
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from aaltowatch.core.http import is_not_modified
from feeds.search import SearchError, SearchFeeds, SearchUnavailable

CONTENT_TYPES = {
    ".xml": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}


def _resolve(root: Path, raw_path: str) -> Path | None:
    """The file a request path names inside `root`, or None (unknown, hidden or outside)."""
    path = unquote(urlsplit(raw_path).path)
    if "\x00" in path or "\\" in path:
        return None
    parts = [p for p in path.split("/") if p]
    if not parts:
        parts = ["index.html"]
    if any(p in (".", "..") or p.startswith(".") for p in parts):
        return None
    candidate = root.joinpath(*parts)
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not resolved.is_relative_to(root) or not resolved.is_file():
        return None
    return resolved if resolved.suffix in CONTENT_TYPES else None


IDLE_TIMEOUT_S = 30.0
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src https:"
HOST_HEADER = re.compile(r"(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?")


class FeedHandler(BaseHTTPRequestHandler):
    server_version = "aaltowatch"
    root: Path
    # Seconds a connection may stay silent (before or between requests) before it is closed:
    # each open connection holds a thread.
    timeout: float | None = IDLE_TIMEOUT_S
    # The search feeds, when `serve` was given the archive; without it they are 404.
    search: SearchFeeds | None = None

    def _origin(self) -> str:
        """http://host:port this request reached (its Host header when well-formed)."""
        host = self.headers.get("Host", "")
        if not HOST_HEADER.fullmatch(host):
            address, port = self.server.server_address[:2]
            host = f"[{address}]:{port}" if ":" in str(address) else f"{address}:{port}"
        return f"http://{host}"

    def _own_urls(self, data: bytes) -> bytes:
        """Feeds built without `feeds_base_url` name themselves by file:// URL (feeds.opml,
        rel="self"); served over HTTP they name the address this request reached instead."""
        file_base = (self.root.as_uri() + "/").encode()
        if file_base not in data:
            return data
        return data.replace(file_base, f"{self._origin()}/".encode())

    def do_GET(self) -> None:
        self._respond(with_body=True)

    def do_HEAD(self) -> None:
        self._respond(with_body=False)

    def _respond(self, *, with_body: bool) -> None:
        if self.search is not None and self.search.handles(urlsplit(self.path).path):
            self._search(with_body=with_body)
            return
        target = _resolve(self.root, self.path)
        if target is None:
            self.send_error(HTTPStatus.NOT_FOUND, "Not found")
            return
        data = self._own_urls(target.read_bytes())
        mtime = int(target.stat().st_mtime)
        etag = f'"{hashlib.sha256(data).hexdigest()[:32]}"'
        headers = {
            "ETag": etag,
            "Last-Modified": formatdate(mtime, usegmt=True),
            "Cache-Control": "no-cache",
        }
        if is_not_modified(self.headers, etag, datetime.fromtimestamp(mtime, UTC)):
            self.send_response(HTTPStatus.NOT_MODIFIED)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", CONTENT_TYPES[target.suffix])
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", CSP)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if with_body:
            self.wfile.write(data)

    def _search(self, *, with_body: bool) -> None:
        """A search feed rendered for this request, with validators like the files' own."""
        url = urlsplit(self.path)
        try:
            data, updated = self.search(url.path, url.query, self._origin())  # type: ignore[misc]
        except SearchError as exc:
            self._plain(HTTPStatus.BAD_REQUEST, str(exc), with_body=with_body)
            return
        except SearchUnavailable as exc:
            self.log_message("search: %s (%s)", exc, exc.__cause__)
            self._plain(HTTPStatus.SERVICE_UNAVAILABLE, str(exc), with_body=with_body)
            return
        etag = f'"{hashlib.sha256(data).hexdigest()[:32]}"'
        not_modified = is_not_modified(self.headers, etag, updated)
        self.send_response(HTTPStatus.NOT_MODIFIED if not_modified else HTTPStatus.OK)
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", formatdate(updated.timestamp(), usegmt=True))
        self.send_header("Cache-Control", "no-cache")
        if not_modified:
            self.end_headers()
            return
        self.send_header("Content-Type", CONTENT_TYPES[Path(url.path).suffix])
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", CSP)
        self.end_headers()
        if with_body:
            self.wfile.write(data)

    def _plain(self, status: HTTPStatus, text: str, *, with_body: bool) -> None:
        """A short text answer (what is wrong with a search URL): never HTML, never sniffed."""
        body = f"{text}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log = getattr(self.server, "log", None)
        if log is not None:
            log(f"{self.address_string()} {format % args}")


class FeedServer:
    """The feeds directory on http://host:port/ in a background thread (port 0 = any free)."""

    def __init__(
        self,
        feeds_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log: Callable[[str], None] | None = None,
        idle_timeout: float = IDLE_TIMEOUT_S,
        search: SearchFeeds | None = None,
    ) -> None:
        root = Path(feeds_dir).resolve()
        handler = type(
            "BoundFeedHandler",
            (FeedHandler,),
            {"root": root, "timeout": idle_timeout, "search": search},
        )
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.httpd.log = log  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        host = f"[{host}]" if ":" in str(host) else host
        return f"http://{host}:{port}/"

    def start(self) -> FeedServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.httpd.server_close()

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(
    feeds_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    console: Any = None,
    archive: Path | None = None,
    max_entries: int = 50,
) -> None:
    """Serve until Ctrl-C; prints the real URL (useful with port 0). With `archive`, search
    feeds are answered from it (read-only), `max_entries` entries at most."""

    def say(message: str) -> None:
        if console is not None:
            console.print(message, markup=False, highlight=False, soft_wrap=True)
        else:
            print(message, file=sys.stderr, flush=True)

    feeds_dir = Path(feeds_dir)
    if not (feeds_dir / "index.html").is_file():
        say(f"note: {feeds_dir} has no index.html yet: run `aaltowatch feeds` first")
    try:
        search = SearchFeeds(archive, max_entries) if archive is not None else None
        server = FeedServer(feeds_dir, host=host, port=port, log=say, search=search)
    except OSError as exc:
        from aaltowatch.core.errors import PortError

        raise PortError.binding(host, port, exc) from None
    say(f"serving {feeds_dir.resolve()} at {server.url} (Ctrl-C stops)")
    if search is not None:
        say(f"search feeds: {server.url}search.xml?q=Vantaa (or .atom; kind, lang, change)")
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        say("stopped")
    finally:
        server.httpd.server_close()
