"""Static server for a generated site, run as its own process so it never shares our GIL.

Serves ``manifest.json`` of :mod:`bench.sitegen` with strong ETags, Last-Modified and 304s
(the crawler's conditional GETs are what the recrawl figure measures), and counts answers by
status and by kind of page; ``GET /__stats`` returns the counts and ``GET /__reset`` zeroes them.

Run: ``python -m bench.server ROOT`` prints the base URL on its first line, then serves.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from aaltowatch.core.http import is_not_modified
from aaltowatch.testing.snapshot_server import BackgroundHTTPServer, RequestHandler
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server")
    parser.add_argument("root", type=Path)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    server = SiteServer(args.root, args.port).start()
    print(server.url, flush=True)
    try:
        sys.stdin.read()  # serve until the parent closes our stdin (or dies)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
