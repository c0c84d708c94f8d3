"""The fetch cache: raw responses (compressed, by sha256) and each URL's HTTP validators.

Raw bodies are kept while something refers to them: the version extracted from them (for
`reextract`) or the URL's latest 200 (what a 304 stands for). A body that only differs from
the last one by the site's noise replaces it instead of piling up, so raw storage grows with
content, not with the number of runs. A new body is stored as a delta against its URL's
keyframe (storage.rawcodec), so a keyframe is kept while a delta refers to it.

`archive.fetches`: the store of tables fetches, responses and response_dicts; crawling
reaches it through aaltowatch.core.fetchcache, never directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from storage import rawcodec
from storage.connection import Store

# A raw body nothing refers to: neither a version (reextract), nor a URL's latest fetch (304),
# nor a delta stored against it.
UNREFERENCED = (
    "NOT EXISTS (SELECT 1 FROM versions v WHERE v.raw_sha256 = responses.sha256)"
    " AND NOT EXISTS (SELECT 1 FROM fetches f WHERE f.raw_sha256 = responses.sha256)"
    " AND NOT EXISTS (SELECT 1 FROM responses d WHERE d.base = responses.sha256)"
)


class FetchStore(Store):
    """Raw bodies and each URL's validators."""

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
        """Keep the raw bytes (compressed, by sha256) and the validators for conditional GET;
        the URL's previous body goes unless a version refers to it."""
        with self.transaction():
            previous = None
            if body is not None and sha256:
                row = self.conn.execute(
                    "SELECT raw_sha256 FROM fetches WHERE url = ?", (url,)
                ).fetchone()
                previous = row[0] if row else None
                if not self.conn.execute(
                    "SELECT 1 FROM responses WHERE sha256 = ?", (sha256,)
                ).fetchone():
                    blob, codec, dict_id, base = self._encode(body, previous)
                    self.conn.execute(
                        "INSERT INTO responses (sha256, url, content_type, size, body,"
                        " first_fetched_at, codec, dict_id, base)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (sha256, url, content_type, len(body), blob, fetched_at, codec,
                         dict_id, base),
                    )  # fmt: skip
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
            if previous and previous != sha256:
                self.conn.execute(
                    f"DELETE FROM responses WHERE sha256 = ? AND {UNREFERENCED}", (previous,)
                )

    def fetch_info(self, url: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM fetches WHERE url = ?", (url,))

    def raw_body(self, sha256: str) -> bytes | None:
        row = self.conn.execute(
            "SELECT body, codec, dict_id, base FROM responses WHERE sha256 = ?", (sha256,)
        ).fetchone()
        if row is None:
            return None
        base = self.raw_body(row[3]) if row[3] else None  # a keyframe: one level deep
        if row[3] and base is None:
            return None
        return rawcodec.decompress(row[0], row[1], self._dict(row[2]), base)

    def _encode(
        self, body: bytes, previous: str | None
    ) -> tuple[bytes, str, int | None, str | None]:
        """The body's blob, codec, dictionary and keyframe: a delta against the keyframe of
        the URL's previous body where that pays (rawcodec.delta), else a new keyframe."""
        if previous:
            key = self.conn.execute(
                "SELECT k.sha256, length(k.body) FROM responses p JOIN responses k"
                " ON k.sha256 = COALESCE(p.base, p.sha256) WHERE p.sha256 = ?",
                (previous,),
            ).fetchone()
            base = self.raw_body(key[0]) if key else None
            delta = rawcodec.delta(body, base, key[1]) if base is not None else None
            if delta is not None:
                return delta, rawcodec.DELTA, None, key[0]
        dict_id, zdict = self._newest_dict()
        return rawcodec.compress(body, zdict), rawcodec.ZSTD, dict_id, None

    # -- the zstd dictionaries -------------------------------------------------------------
    def _dict(self, dict_id: int | None) -> Any:
        """A stored dictionary by id, loaded once per connection."""
        if dict_id is None:
            return None
        cache = self.__dict__.setdefault("_raw_dicts", {})
        if dict_id not in cache:
            row = self.conn.execute(
                "SELECT content FROM response_dicts WHERE id = ?", (dict_id,)
            ).fetchone()
            cache[dict_id] = rawcodec.load_dict(row[0])
        return cache[dict_id]

    def _newest_dict(self) -> tuple[int | None, Any]:
        row = self.conn.execute("SELECT MAX(id) FROM response_dicts").fetchone()
        return row[0], self._dict(row[0])

    def train_raw_dictionary(self, now: str) -> int | None:
        """The archive's dictionary, trained once on the latest stored bodies when there are
        enough of them; returns its id, or None when none was trained now."""
        if self._newest_dict()[0] is not None:
            return None
        shas = [
            r[0]
            for r in self.conn.execute(
                "SELECT raw_sha256 FROM fetches WHERE raw_sha256 IS NOT NULL"
                " ORDER BY fetched_at DESC LIMIT ?",
                (rawcodec.TRAIN_SAMPLES,),
            )
        ]
        if len(shas) < rawcodec.MIN_TRAIN_SAMPLES:
            return None
        samples = [b for b in map(self.raw_body, shas) if b]
        try:
            content = rawcodec.train(samples)
        except rawcodec.TrainError:  # too few or too alike: bodies stay without a dictionary
            return None
        with self.transaction():
            cur = self.conn.execute(
                "INSERT INTO response_dicts (content, samples, created_at) VALUES (?, ?, ?)",
                (content, len(samples), now),
            )
        assert cur.lastrowid is not None  # an INSERT on a rowid table
        return cur.lastrowid

    def recompress_raws(self, batch: int = 500) -> int:
        """Bring every kept keyframe to zstd with the newest dictionary (zlib bodies of older
        archives included); returns how many were rewritten. Deltas stay: they are stored
        against their keyframe's raw bytes, not its blob."""
        dict_id, zdict = self._newest_dict()
        done = 0
        while True:
            rows = self.conn.execute(
                "SELECT sha256 FROM responses WHERE base IS NULL"
                " AND (codec != ? OR dict_id IS NOT ?) LIMIT ?",
                (rawcodec.ZSTD, dict_id, batch),
            ).fetchall()
            if not rows:
                return done
            with self.transaction():
                for (sha,) in rows:
                    body = self.raw_body(sha)
                    self.conn.execute(
                        "UPDATE responses SET body = ?, codec = ?, dict_id = ? WHERE sha256 = ?",
                        (rawcodec.compress(body or b"", zdict), rawcodec.ZSTD, dict_id, sha),
                    )
            done += len(rows)

    def drop_unreferenced_raws(self) -> int:
        """Remove the raw bodies nothing refers to; returns how many went. A second pass takes
        the keyframes whose deltas went in the first."""
        dropped = 0
        while True:
            with self.transaction():
                cur = self.conn.execute(f"DELETE FROM responses WHERE {UNREFERENCED}")
            if not cur.rowcount:
                return dropped
            dropped += cur.rowcount

    def delta_raws(self, batch: int = 500) -> int:
        """Store each URL's other keyframes as deltas against its first one (bodies written
        before deltas existed, or re-keyed since), where that is smaller and no delta refers
        to them; returns how many were rewritten."""
        keyframes: dict[str, str] = {}
        todo: list[tuple[str, str, int]] = []
        for url, sha, length in self.conn.execute(
            "SELECT url, sha256, length(body) FROM responses WHERE base IS NULL"
            " ORDER BY url, first_fetched_at, sha256"
        ).fetchall():
            if keyframes.setdefault(url, sha) != sha:
                todo.append((keyframes[url], sha, length))
        done = 0
        for start in range(0, len(todo), batch):
            with self.transaction():
                for key, sha, length in todo[start : start + batch]:
                    if self.conn.execute(
                        "SELECT 1 FROM responses WHERE base = ?", (sha,)
                    ).fetchone():
                        continue  # a keyframe itself
                    base, body = self.raw_body(key), self.raw_body(sha)
                    if base is None or body is None:
                        continue
                    delta = rawcodec.delta(body, base, length)
                    if delta is not None:
                        # Written anew at the table's end, not updated in place: the pages
                        # the old blobs leave are freed whole, so a vacuum gives them back.
                        row = self.conn.execute(
                            "DELETE FROM responses WHERE sha256 = ?"
                            " RETURNING url, content_type, size, first_fetched_at",
                            (sha,),
                        ).fetchone()
                        self.conn.execute(
                            "INSERT INTO responses (sha256, url, content_type, size,"
                            " first_fetched_at, body, codec, base)"
                            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            (sha, *row, delta, rawcodec.DELTA, key),
                        )
                        done += 1
        return done

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
