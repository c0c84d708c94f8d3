"""Serve the bundled offline snapshot of www.aalto.fi on 127.0.0.1.

Tests and local runs crawl this server instead of the real site. It follows
``snapshot/SNAPSHOT_README.md`` ("What a server must do"): manifest lookup with tracking
parameters ignored, strong ETags, conditional GETs, redirects onto its own host, and the
manifest's 404/410 pages. Standard library only, so it runs anywhere the package is installed.

Run it in the foreground with
``python -m aaltowatch.testing.snapshot_server --state state-1 --port 8123``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import socket
import sys
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Self
from urllib.parse import unquote_plus, urlsplit

from aaltowatch.core.http import is_not_modified
from aaltowatch.core.urls import is_tracking_param

logger = logging.getLogger(__name__)

Transform = Callable[[str, bytes], bytes]


def snapshot_root() -> Path:
    """Locate the bundled snapshot through the package, so it works from any cwd once installed."""
    root = files("aaltowatch") / "snapshot"
    if not isinstance(root, Path):
        raise RuntimeError(f"the aaltowatch snapshot is not on the file system: {root!r}")
    return root


def load_manifest(root: Path | None = None) -> dict[str, Any]:
    """Read ``manifest.json``: the only source of truth for which URL maps to which file."""
    root = snapshot_root() if root is None else Path(root)
    return json.loads((root / "manifest.json").read_text(encoding="utf-8"))


def etag_for(body: bytes) -> str:
    """Strong, quoted ETag over exactly the bytes sent, as the snapshot contract requires."""
    return '"' + hashlib.sha256(body).hexdigest() + '"'


def split_target(target: str) -> tuple[str, str]:
    """Split a request target into raw path and raw query, keeping them exactly as sent."""
    if not target.startswith("/"):  # absolute-form, as sent to proxies
        parts = urlsplit(target)
        return parts.path or "/", parts.query
    path, _, query = target.partition("?")
    return path, query.partition("#")[0]


def strip_tracking(query: str) -> str:
    """Drop tracking parameters (utm_*, fbclid, gclid, ... as the crawler's URL rules name them)
    from a raw query, keeping the rest in order and as sent."""
    return "&".join(
        p
        for p in query.split("&")
        if p and not is_tracking_param(unquote_plus(p.partition("=")[0]))
    )


class RequestRecord(NamedTuple):
    """One handled request, kept so tests can check politeness and count 304s."""

    method: str
    path: str
    """The request target as sent: path plus ``?query``."""
    status: int
    headers: dict[str, str]

    def header(self, name: str) -> str | None:
        """Case-insensitive request header lookup."""
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], owner: BackgroundHTTPServer) -> None:
        self.owner = owner
        super().__init__(address, RequestHandler)


class RequestHandler(BaseHTTPRequestHandler):
    """Keep-alive GET/HEAD handler: the owning server answers, the handler logs the final status."""

    protocol_version = "HTTP/1.1"
    timeout = 60  # idle keep-alive connections end instead of holding a thread forever
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle plus delayed ACKs
        # stall every keep-alive request by ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.owner._track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._untrack(self.connection)

    def handle(self) -> None:
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away mid-response; nothing to answer

    def do_GET(self) -> None:
        self.server.owner.serve(self)

    def do_HEAD(self) -> None:
        self.server.owner.serve(self)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: :meth:`record` logs every request once, with its final status."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Record unsupported methods (501) and malformed requests (400) too."""
        self.record(code, "error")
        super().send_error(code, message, explain)

    def log_message(self, fmt: str, *args: Any) -> None:
        """Route http.server's own messages (timeouts, bad requests) to the logger, not stderr."""
        logger.debug("%s %s", self.address_string(), fmt % args)

    def record(self, status: int, extra: str = "") -> None:
        """Log and keep one request record."""
        # A malformed request line fails before command, path or headers are set.
        headers = getattr(self, "headers", None)
        record = RequestRecord(
            self.command or "-",
            getattr(self, "path", "-"),
            status,
            dict(headers.items()) if headers is not None else {},
        )
        self.server.owner._record(record, extra)

    def respond(
        self, status: int, headers: Mapping[str, str], body: bytes, *, content_length: int
    ) -> None:
        """Send a complete response; HEAD and 304 get the headers only.

        The request is recorded first, so a client that got the response always finds it logged.
        """
        self.record(status, f"{content_length}")
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(content_length))
        self.end_headers()
        if self.command != "HEAD" and status != 304:
            self.wfile.write(body)


class BackgroundHTTPServer:
    """A ThreadingHTTPServer in a daemon thread with a request log; subclasses implement serve."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, log: bool = False) -> None:
        self.host = host
        self._requested_port = port
        self.log = log
        self._httpd: _HTTPServer | None = None
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._requests: list[RequestRecord] = []
        self._connections: set[socket.socket] = set()
        self.stopping = threading.Event()

    def start(self) -> Self:
        """Bind and serve in the background; returns self so ``srv = X().start()`` reads well."""
        if self._httpd is not None:
            raise RuntimeError("server already started")
        self.stopping.clear()
        self._httpd = _HTTPServer((self.host, self._requested_port), self)
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, and cut open keep-alive connections so no handler outlives the server."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def serve(self, handler: RequestHandler) -> None:
        """Answer one GET or HEAD through ``handler.respond`` (or by writing to it directly)."""
        raise NotImplementedError

    @property
    def port(self) -> int:
        """The bound port (still known after stop, so tests can build expected URLs)."""
        if self._port is None:
            raise RuntimeError("server not started")
        return self._port

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:54321``."""
        return f"http://{self.host}:{self.port}"

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def _record(self, record: RequestRecord, extra: str) -> None:
        with self._lock:
            self._requests.append(record)
        line = f"{record.method} {record.path} {record.status} {extra}".rstrip()
        logger.info("%s", line)
        if self.log:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def _track(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.add(conn)

    def _untrack(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.discard(conn)


class SnapshotServer(BackgroundHTTPServer):
    """The snapshot site on 127.0.0.1; ``set_state`` switches day 1 to day 2 while running."""

    def __init__(
        self,
        state: str = "state-1",
        root: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        transform: Transform | None = None,
        log: bool = False,
    ) -> None:
        super().__init__(host, port, log)
        self.root = snapshot_root() if root is None else Path(root)
        self.manifest = load_manifest(self.root)
        self.transform = transform
        self._check_state(state)
        self._state = state

    def _check_state(self, state: str) -> None:
        if state not in self.manifest["states"]:
            known = ", ".join(sorted(self.manifest["states"]))
            raise ValueError(f"unknown snapshot state {state!r} (known: {known})")

    @property
    def state(self) -> str:
        with self._lock:
            return self._state

    def set_state(self, state: str) -> None:
        """Serve another state from the next request on, e.g. to simulate the next day."""
        self._check_state(state)
        with self._lock:
            self._state = state

    def lookup(self, target: str, state: str | None = None) -> tuple[str, dict[str, Any]]:
        """Map a request target to (manifest key, entry); unknown targets get ``not_found``."""
        states = self.manifest["states"]
        urls = states[state or self.state]["urls"]
        path, query = split_target(target)
        key = f"{path}?{query}" if query else path
        if key not in urls:
            stripped = strip_tracking(query)
            key = f"{path}?{stripped}" if stripped else path
        entry = urls.get(key)
        if entry is None:
            return key, {**states[state or self.state]["not_found"], "last_modified": None}
        return key, entry

    def serve(self, handler: RequestHandler) -> None:
        """Answer one GET or HEAD from the state current when the request arrived."""
        state = self.state
        key, entry = self.lookup(handler.path, state)
        body = (self.root / entry["file"]).read_bytes()
        status = entry["status"]
        headers = {"Content-Type": entry["content_type"]}
        if status == 200:
            if self.transform is not None:
                body = self.transform(key, body)
            etag = etag_for(body)
            headers.update({"Last-Modified": entry["last_modified"], "ETag": etag})
            if is_not_modified(handler.headers, etag, entry["last_modified"]):
                status = 304
                del headers["Content-Type"]
        elif status in (301, 302, 307, 308):
            headers["Location"] = self.url + entry["location"]
        handler.respond(status, headers, body, content_length=len(body))


def main(argv: list[str] | None = None) -> int:
    """Foreground server for manual crawls; Ctrl-C stops it."""
    parser = argparse.ArgumentParser(
        prog="python -m aaltowatch.testing.snapshot_server",
        description="Serve the offline www.aalto.fi snapshot on 127.0.0.1.",
    )
    parser.add_argument("--state", default="state-1", help="state to serve (default: state-1)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123, help="0 picks a free port")
    parser.add_argument("--root", type=Path, default=None, help="default: the bundled one")
    parser.add_argument("--quiet", action="store_true", help="do not print one line per request")
    args = parser.parse_args(argv)
    try:
        server = SnapshotServer(
            args.state, root=args.root, host=args.host, port=args.port, log=not args.quiet
        )
        server.start()
    except (ValueError, OSError) as exc:
        parser.error(str(exc))
    try:  # from the banner on, Ctrl-C is the way to stop: a caller may send it at once
        print(f"Serving {server.state} of {server.root} at {server.url} (Ctrl-C stops)", flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
