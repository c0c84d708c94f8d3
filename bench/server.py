"""Static server for a generated site, run as its own process so it never shares our GIL.

Serves ``manifest.json`` of :mod:`bench.sitegen` with strong ETags, Last-Modified and 304s
(the crawler's conditional GETs are what the recrawl figure measures), and counts answers by
status and by kind of page; ``GET /__stats`` returns the counts and ``GET /__reset`` zeroes them.

With ``--live`` it serves :class:`bench.livesite.LiveSite` instead, at a virtual time the bench
sets with ``GET /__time?t=EPOCH_SECONDS``; counts are then by request kind (article, listing,
sitemap, feed, partnership, robots) and status; ``GET /__stats?reset=1`` returns and zeroes them.

Run: ``python -m bench.server ROOT`` (or ``--live --pages N --days D --seed S``) prints the base
URL on its first line, then serves until its stdin closes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from aaltowatch.core.http import is_not_modified
from aaltowatch.testing.snapshot_server import BackgroundHTTPServer, RequestHandler
from bench.livesite import EPOCH, LiveSite, request_kind
from bench.sitegen import LAST_MODIFIED


class SiteServer(BackgroundHTTPServer):
    """The generated site; every request is counted as ``<kind> <status>``."""

    def __init__(self, root: Path, port: int = 0) -> None:
        super().__init__("127.0.0.1", port)
        self.root = root
        self.manifest: dict[str, dict[str, str]] = json.loads(
            (root / "manifest.json").read_text(encoding="utf-8")
        )
        self.counts: Counter[str] = Counter()

    def _record(self, record: object, extra: str) -> None:
        """No request log: a benchmark would only grow it."""

    def serve(self, handler: RequestHandler) -> None:
        path = handler.path
        if path.startswith("/__"):
            with self._lock:
                body = json.dumps(dict(self.counts)).encode()
                if path == "/__reset":
                    self.counts.clear()
            handler.respond(
                200, {"Content-Type": "application/json"}, body, content_length=len(body)
            )
            return
        entry = self.manifest.get(path)
        if entry is None:
            self._count(path, 404)
            handler.respond(404, {"Content-Type": "text/html"}, b"not found", content_length=9)
            return
        headers = {"ETag": entry["etag"], "Last-Modified": LAST_MODIFIED}
        if is_not_modified(handler.headers, entry["etag"], LAST_MODIFIED):
            self._count(path, 304)
            handler.respond(304, headers, b"", content_length=0)
            return
        body = (self.root / entry["file"]).read_bytes()
        headers["Content-Type"] = entry["content_type"]
        self._count(path, 200)
        handler.respond(200, headers, body, content_length=len(body))

    def _count(self, path: str, status: int) -> None:
        kind = "article" if "?" not in path and path.count("/") == 3 else "other"
        if "/feed" in path:
            kind = "other"
        with self._lock:
            self.counts[f"{kind} {status}"] += 1


class LiveSiteServer(BackgroundHTTPServer):
    """A :class:`LiveSite` at the virtual time last set through ``/__time``."""

    def __init__(self, site: LiveSite, port: int = 0) -> None:
        super().__init__("127.0.0.1", port)
        self.site = site
        self.view = site.view(EPOCH)
        self.counts: Counter[str] = Counter()

    def _record(self, record: object, extra: str) -> None:
        """The access log is the counter: a list of every request would only grow."""

    def set_time(self, t: datetime) -> None:
        view = self.site.view(t)
        with self._lock:
            self.view = view

    def serve(self, handler: RequestHandler) -> None:
        path = handler.path
        if path.startswith("/__"):
            self._control(handler, path)
            return
        view = self.view
        etag = view.etag(path)
        if etag is not None and is_not_modified(handler.headers, etag, None):
            self._count(path, 304)
            handler.respond(304, {"ETag": etag}, b"", content_length=0)
            return
        answer = view.get(path)
        headers = {"Content-Type": answer.content_type}
        for name, value in (("ETag", answer.etag), ("Last-Modified", answer.last_modified),
                            ("Location", answer.location)):  # fmt: skip
            if value:
                headers[name] = value
        if answer.etag and is_not_modified(handler.headers, answer.etag, answer.last_modified):
            self._count(path, 304)
            handler.respond(304, headers, b"", content_length=0)
            return
        self._count(path, answer.status)
        handler.respond(answer.status, headers, answer.body, content_length=len(answer.body))

    def _control(self, handler: RequestHandler, path: str) -> None:
        parts = urlsplit(path)
        query = parse_qs(parts.query)
        if parts.path == "/__time":
            self.set_time(datetime.fromtimestamp(float(query["t"][0]), UTC))
        with self._lock:
            body = json.dumps(dict(self.counts)).encode()
            if query.get("reset"):
                self.counts.clear()
        handler.respond(200, {"Content-Type": "application/json"}, body, content_length=len(body))

    def _count(self, path: str, status: int) -> None:
        with self._lock:
            self.counts[f"{request_kind(path)} {status}"] += 1


@contextmanager
def server_process(*args: str) -> Iterator[str]:
    """This server in its own process (its own GIL), started with `args`; yields its base URL
    and stops it (closing its stdin) on exit."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.server", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server")
    parser.add_argument("root", type=Path, nargs="?")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--live", action="store_true", help="serve a living site (bench.livesite)")
    parser.add_argument("--pages", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rare", type=float, default=1.0)
    args = parser.parse_args(argv)
    if args.live:
        server: BackgroundHTTPServer = LiveSiteServer(
            LiveSite(args.pages, args.days, args.seed, args.rare), args.port
        )
    elif args.root is None:
        parser.error("ROOT is required without --live")
    else:
        server = SiteServer(args.root, args.port)
    server.start()
    print(server.url, flush=True)
    try:
        sys.stdin.read()  # serve until the parent closes our stdin (or dies)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
