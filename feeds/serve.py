"""Serve the feeds directory over HTTP with validators, so readers poll cheaply (ETag/304).

Standard library only (ThreadingHTTPServer). Files are looked up strictly inside the feeds
directory: no traversal, no hidden (temporary) files, no directory listings.
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
HOST_HEADER = re.compile(r"(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?")


class FeedHandler(BaseHTTPRequestHandler):
    server_version = "aaltowatch"
    root: Path
    # Seconds a connection may stay silent (before or between requests) before it is closed:
    # each open connection holds a thread.
    timeout: float | None = IDLE_TIMEOUT_S

    def _own_urls(self, data: bytes) -> bytes:
        """Feeds built without `feeds_base_url` name themselves by file:// URL (feeds.opml,
        rel="self"); served over HTTP they name the address this request reached instead."""
        file_base = (self.root.as_uri() + "/").encode()
        if file_base not in data:
            return data
        host = self.headers.get("Host", "")
        if not HOST_HEADER.fullmatch(host):
            address, port = self.server.server_address[:2]
            host = f"[{address}]:{port}" if ":" in str(address) else f"{address}:{port}"
        return data.replace(file_base, f"http://{host}/".encode())

    def do_GET(self) -> None:
        self._respond(with_body=True)

    def do_HEAD(self) -> None:
        self._respond(with_body=False)

    def _respond(self, *, with_body: bool) -> None:
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
        self.send_header(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src https:",
        )
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if with_body:
            self.wfile.write(data)

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
    ) -> None:
        root = Path(feeds_dir).resolve()
        handler = type("BoundFeedHandler", (FeedHandler,), {"root": root, "timeout": idle_timeout})
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
    feeds_dir: Path, *, host: str = "127.0.0.1", port: int = 8080, console: Any = None
) -> None:
    """Serve until Ctrl-C; prints the real URL (useful with port 0)."""

    def say(message: str) -> None:
        if console is not None:
            console.print(message, markup=False, highlight=False, soft_wrap=True)
        else:
            print(message, file=sys.stderr, flush=True)

    feeds_dir = Path(feeds_dir)
    if not (feeds_dir / "index.html").is_file():
        say(f"note: {feeds_dir} has no index.html yet: run `aaltowatch feeds` first")
    try:
        server = FeedServer(feeds_dir, host=host, port=port, log=say)
    except OSError as exc:
        from aaltowatch.core.errors import PortError

        raise PortError.binding(host, port, exc) from None
    say(f"serving {feeds_dir.resolve()} at {server.url} (Ctrl-C stops)")
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        say("stopped")
    finally:
        server.httpd.server_close()
