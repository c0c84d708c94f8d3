"""Serve the feeds directory over HTTP with validators, so readers poll cheaply (ETag/304).

Standard library only (a ThreadingHTTPServer with limits, `FeedHTTPServer`). Files are looked
up strictly inside the feeds directory: no traversal, no hidden (temporary) files, no directory
listings. A crowd of slow clients cannot lock readers out: a request head must arrive within
`head_timeout`, connections are capped below the open-files limit, and at the cap the client
that has waited longest without sending a request makes room. For the Internet, put a reverse
proxy in front (docs/operations.md). Given the archive, it also answers ad-hoc search feeds,
`/search.xml?q=…` and `/search.atom?q=…` (feeds.search).
"""

from __future__ import annotations

import errno
import hashlib
import re
import resource
import socket
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
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
HEAD_TIMEOUT_S = 10.0
FD_RESERVE = 32  # descriptors kept for the process itself (stdio, listener, logs, imports)
MOST_CONNECTIONS = 512  # one thread each


def connection_cap(reserve: int = FD_RESERVE, most: int = MOST_CONNECTIONS) -> int:
    """Connections held at once: half the descriptors the open-files limit (RLIMIT_NOFILE)
    leaves after `reserve`, as a connection briefly holds the file it sends too."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 2 * (most + reserve)
    return max(4, min(most, (soft - reserve) // 2))


class FeedHTTPServer(ThreadingHTTPServer):
    """A thread per connection, with limits: the head of each request (request line and
    headers, or the next request on a kept-alive connection) must arrive within
    `head_timeout` seconds, and at most `max_connections` are open. A new connection at the cap
    closes the one that has waited longest for its request head (slow clients go first, a
    reader that sent its request at once is already being served); only when every
    connection is being served is the newcomer turned away."""

    daemon_threads = True
    request_queue_size = 128  # the listen backlog: readers queue while threads finish
    server_address: tuple[str, int] | tuple[str, int, int, int]  # IPv4 or IPv6

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        *,
        max_connections: int | None = None,
        head_timeout: float = HEAD_TIMEOUT_S,
    ) -> None:
        self.max_connections = max_connections or connection_cap()
        self.head_timeout = head_timeout
        self._lock = threading.Lock()
        self._waiting: dict[socket.socket, float] = {}  # awaiting a request head, since
        self._serving: set[socket.socket] = set()
        super().__init__(address, handler)

    # -- the handler reports where each connection is ----------------------------------------
    def awaiting_head(self, conn: socket.socket) -> None:
        with self._lock:
            if conn in self._serving:
                self._serving.discard(conn)
                self._waiting[conn] = time.monotonic()

    def head_arrived(self, conn: socket.socket) -> bool:
        """False when the connection was closed for its slowness meanwhile: answer nothing."""
        with self._lock:
            if self._waiting.pop(conn, None) is None:
                return False
            self._serving.add(conn)
            return True

    def _close(self, conn: socket.socket) -> None:
        """Hang up on a waiting connection (its thread sees end of stream and ends)."""
        self._waiting.pop(conn, None)
        try:
            conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- socketserver hooks -------------------------------------------------------------------
    def get_request(self) -> tuple[socket.socket, Any]:
        try:
            return super().get_request()
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE):
                # No descriptor left (other files of the process): the listener stays readable,
                # so back off instead of spinning until a thread closes one.
                time.sleep(0.1)
            raise

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            full = len(self._waiting) + len(self._serving) >= self.max_connections
            if full and self._waiting:
                self._close(min(self._waiting, key=self._waiting.__getitem__))
                full = False
            if not full:
                self._waiting[request] = time.monotonic()
        if full:  # every connection is sending a response: turn the newcomer away
            super().shutdown_request(request)
            return
        super().process_request(request, client_address)

    def service_actions(self) -> None:
        """Each turn of serve_forever (at least every half second): close the connections
        whose request head is later than `head_timeout`."""
        late = time.monotonic() - self.head_timeout
        with self._lock:
            for conn in [c for c, since in self._waiting.items() if since < late]:
                self._close(conn)

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._waiting.pop(request, None)
            self._serving.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (or was hung up on) is no error worth a traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


HOST_HEADER = re.compile(r"(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?")


class FeedHandler(BaseHTTPRequestHandler):
    server_version = "aaltowatch"
    root: Path
    # Seconds one read or write on the socket may wait: a client that stops reading its
    # response is closed (a request head has its own deadline, FeedHTTPServer.head_timeout).
    timeout: ClassVar[float | None] = IDLE_TIMEOUT_S
    # The search feeds, when `serve` was given the archive; without it they are 404.
    search: SearchFeeds | None = None

    def _origin(self) -> str:
        """http://host:port this request reached (its Host header when well-formed)."""
        host = self.headers.get("Host", "")
        if not HOST_HEADER.fullmatch(host):
            address, port = self.server.server_address[:2]
            host = f"[{address}]:{port}" if ":" in str(address) else f"{address}:{port}"
        return f"http://{host}"

    server: FeedHTTPServer

    def handle_one_request(self) -> None:
        self.server.awaiting_head(self.connection)
        super().handle_one_request()

    def parse_request(self) -> bool:
        """The request head has been read (or the connection was closed for being slow)."""
        parsed = super().parse_request()
        if not self.server.head_arrived(self.connection):
            self.close_connection = True
            return False
        return parsed

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
        head_timeout: float = HEAD_TIMEOUT_S,
        max_connections: int | None = None,
    ) -> None:
        root = Path(feeds_dir).resolve()
        handler = type(
            "BoundFeedHandler",
            (FeedHandler,),
            {"root": root, "timeout": idle_timeout, "search": search},
        )
        self.httpd = FeedHTTPServer(
            (host, port), handler, max_connections=max_connections, head_timeout=head_timeout
        )
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
    try:  # from the banner on, Ctrl-C is the way to stop: a caller may send it at once
        say(f"serving {feeds_dir.resolve()} at {server.url} (Ctrl-C stops)")
        if search is not None:
            say(f"search feeds: {server.url}search.xml?q=Vantaa (or .atom; kind, lang, change)")
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        say("stopped")
    finally:
        server.httpd.server_close()
