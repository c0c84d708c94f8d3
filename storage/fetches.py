"""The fetch cache: raw responses (compressed, by sha256) and each URL's HTTP validators.

A mixin of `Archive`; crawling reaches it through aaltowatch.core.fetchcache, never directly.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

from storage.connection import Store


class FetchStore(Store):
    """Methods of `Archive` (self.conn, self.transaction, self._one, self._all)."""

    conn: Any

    # -- raw responses and HTTP validators -------------------------------------------------
    def record_fetch(
        self,
        url: str,
        *,
        status: int,
        fetched_at: str,
        body: bytes | None = None,
        sha256: str | None = None,
        content_type: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> None:
        """Keep the raw bytes (compressed, by sha256) and the validators for conditional GET."""
        with self.transaction():
            if body is not None and sha256:
                self.conn.execute(
                    "INSERT OR IGNORE INTO responses (sha256, url, content_type, size, body,"
                    " first_fetched_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (sha256, url, content_type, len(body), zlib.compress(body, 1), fetched_at),
                )
            self.conn.execute(
                "INSERT INTO fetches (url, etag, last_modified, raw_sha256, content_type,"
                " http_status, fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(url) DO UPDATE SET"
                " etag = COALESCE(excluded.etag, CASE WHEN excluded.http_status = 304"
                " THEN fetches.etag END),"
                " last_modified = COALESCE(excluded.last_modified, CASE WHEN"
                " excluded.http_status = 304 THEN fetches.last_modified END),"
                " raw_sha256 = COALESCE(excluded.raw_sha256, fetches.raw_sha256),"
                " content_type = COALESCE(excluded.content_type, fetches.content_type),"
                " http_status = excluded.http_status, fetched_at = excluded.fetched_at",
                (url, etag, last_modified, sha256, content_type, status, fetched_at),
            )

    def fetch_info(self, url: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM fetches WHERE url = ?", (url,))

    def raw_body(self, sha256: str) -> bytes | None:
        row = self.conn.execute("SELECT body FROM responses WHERE sha256 = ?", (sha256,)).fetchone()
        return zlib.decompress(row[0]) if row else None

    def cached_response(self, url: str) -> tuple[bytes, str | None] | None:
        """The last 200 body for a URL: what a 304 means."""
        info = self.fetch_info(url)
        if not info or not info["raw_sha256"]:
            return None
        body = self.raw_body(info["raw_sha256"])
        return (body, info["content_type"]) if body is not None else None

    def set_sitemap_lastmods(self, lastmods: dict[str, str]) -> None:
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO fetches (url, sitemap_lastmod) VALUES (?, ?)"
                " ON CONFLICT(url) DO UPDATE SET sitemap_lastmod = excluded.sitemap_lastmod",
                list(lastmods.items()),
            )

    def stored_responses(self) -> Iterator[dict[str, Any]]:
        """Latest raw 200 body per fetched URL, for `reextract`."""
        for row in self.conn.execute(
            "SELECT f.url, f.fetched_at, f.raw_sha256, f.content_type FROM fetches f"
            " WHERE f.raw_sha256 IS NOT NULL ORDER BY f.url"
        ):
            yield dict(row)
