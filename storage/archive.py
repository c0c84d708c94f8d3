"""Archive API: every read and write of the SQLite archive goes through here.

Writers hold one transaction per page (`with archive.transaction():`), so a crawl killed at any
point leaves whole pages or nothing; readers work alongside a crawl thanks to WAL.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from aaltowatch.core.errors import AaltowatchError, ArchiveWriteError, NotAnArchiveError
from aaltowatch.core.fields import JSON_FIELDS, VERSION_COLUMNS
from storage import migrations
from storage.plan import PlanStore

JSON_COLUMNS = (
    *JSON_FIELDS,
    "fields",
    "extraction",
    "stats",
    "flags",
    "names",
    "aliases",
)


# A page's current version beside its row: `http_status` is the page's own (last seen).
_CURRENT_VERSION_COLUMNS = ", ".join(
    f"v.{name} AS version_{name}" if name == "http_status" else f"v.{name}"
    for name in (*VERSION_COLUMNS, "fetched_at")
)


def utcnow() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _decode_row(row: sqlite3.Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    out = dict(row)
    for key in JSON_COLUMNS:
        if key in out and isinstance(out[key], str):
            out[key] = json.loads(out[key])
    return out


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=False)


# SQLite primary result codes of a write the file system refused (extended codes share them).
_WRITE_FAILURES = {
    sqlite3.SQLITE_FULL: "the disk (or the file size limit) is full",
    sqlite3.SQLITE_IOERR: "an I/O error (is the disk full?)",
    sqlite3.SQLITE_READONLY: "it is read-only",
    sqlite3.SQLITE_CANTOPEN: "its files cannot be created",
}


def write_failure(exc: BaseException, path: Path) -> ArchiveWriteError | None:
    """The clear error for a write the disk refused, or None for any other database error."""
    code = getattr(exc, "sqlite_errorcode", None)
    reason = _WRITE_FAILURES.get(code & 0xFF) if isinstance(code, int) else None
    if reason is None:
        return None
    return ArchiveWriteError(f"cannot write the archive {path}: {reason} ({exc})")


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """A reader's connection. A WAL archive needs its -shm index, which a reader on a read-only
    filesystem (or directory) cannot create: then the file is opened `immutable`, which reads
    it without any index or lock. Nothing can be writing it there; a -wal left by a crash
    that was never checkpointed would not be seen."""
    uri = path.resolve().as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, check_same_thread=False)
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        conn.close()
        if os.access(path.parent, os.W_OK) and os.access(path, os.W_OK):
            raise
        conn = sqlite3.connect(f"{uri}?immutable=1", uri=True, check_same_thread=False)
    return conn


def _upgrade_if_behind(path: Path) -> None:
    """An archive written by an older aaltowatch gets its pending migrations before a reader
    opens it (the only write a reader makes, and only once), as `browse` does. One that is not
    ours, or sits where nothing may be written, is left as it is."""
    conn = _connect_readonly(path)
    try:
        db = Database(conn)
        behind = migrations.is_ours(db) is True and bool(migrations.migrations.pending(db))
    finally:
        conn.close()
    if behind and os.access(path, os.W_OK) and os.access(path.parent, os.W_OK):
        Archive(path).close()


def open_archive(path: str | Path, *, readonly: bool = False) -> Archive:
    return Archive(Path(path), readonly=readonly)


class Archive(PlanStore):
    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        if readonly:
            if not self.path.exists():
                raise AaltowatchError(f"no archive at {self.path}: run `aaltowatch crawl` first")
            _upgrade_if_behind(self.path)
            conn = _connect_readonly(self.path)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 10000")
        self.db = Database(conn)
        self.conn = conn
        # Before anything is written (even the journal mode): never touch another app's file.
        ours = migrations.is_ours(self.db)
        if readonly and ours is None:
            conn.close()
            raise AaltowatchError(f"{self.path} is not an aaltowatch archive (it is empty)")
        if ours is False:
            conn.close()
            raise NotAnArchiveError(
                f"{self.path} is not an aaltowatch archive (another application's SQLite"
                " database?); refusing to use it: point --db at an aaltowatch archive or a new file"
            )
        if not readonly:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute("PRAGMA foreign_keys = ON")
                migrations.apply(self.db)
            except sqlite3.OperationalError as exc:
                conn.close()
                failure = write_failure(exc, self.path)
                if failure is None:
                    raise
                raise failure from exc
        self._in_tx = False

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit (a page); nested use joins the outer transaction."""
        if self._in_tx:
            yield
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            self._in_tx = True
            try:
                yield
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")
            finally:
                self._in_tx = False
        except sqlite3.OperationalError as exc:
            failure = write_failure(exc, self.path)
            if failure is None:
                raise
            raise failure from exc

    def _one(self, sql: str, params: tuple | list = ()) -> dict[str, Any] | None:
        return _decode_row(self.conn.execute(sql, params).fetchone())

    def _all(self, sql: str, params: tuple | list = ()) -> list[dict[str, Any]]:
        return [_decode_row(r) for r in self.conn.execute(sql, params).fetchall()]  # type: ignore[misc]

    # -- runs -----------------------------------------------------------------------------
    def start_run(self, spider: str, base_url: str) -> int:
        """A `running` row that names its process, so a run killed mid-way can be told apart."""
        with self.transaction():
            cur = self.conn.execute(
                "INSERT INTO runs (spider, base_url, started_at, pid, host) VALUES (?, ?, ?, ?, ?)",
                (spider, base_url, utcnow(), os.getpid(), socket.gethostname()),
            )
        return int(cur.lastrowid)

    def bump_run(self, run_id: int, **counters: int) -> None:
        sets = ", ".join(f"{k} = {k} + ?" for k in counters)
        with self.transaction():
            self.conn.execute(f"UPDATE runs SET {sets} WHERE id = ?", (*counters.values(), run_id))

    def finish_run(
        self, run_id: int, *, status: str, exit_code: int, stats: dict[str, Any] | None = None
    ) -> None:
        with self.transaction():
            self.conn.execute(
                "UPDATE runs SET finished_at = ?, status = ?, exit_code = ?, stats = ?"
                " WHERE id = ?",
                (utcnow(), status, exit_code, _dumps(stats or {}), run_id),
            )

    def run(self, run_id: int) -> dict[str, Any] | None:
        return self._one("SELECT * FROM runs WHERE id = ?", (run_id,))

    def runs(self, limit: int = 10) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))

    def running_runs(self) -> list[dict[str, Any]]:
        """Runs still marked `running`, oldest first (live ones, or ones whose process died)."""
        return self._all("SELECT * FROM runs WHERE status = 'running' ORDER BY id")

    def abandon_run(self, run_id: int, check: str, message: str) -> bool:
        """Finish a run whose process died as `abandoned` (exit 1) with its alert, atomically;
        False when another process finished it first."""
        with self.transaction():
            cur = self.conn.execute(
                "UPDATE runs SET status = 'abandoned', finished_at = ?, exit_code = 1"
                " WHERE id = ? AND status = 'running'",
                (utcnow(), run_id),
            )
            if cur.rowcount:
                self.add_alert(run_id, check, message)
        return bool(cur.rowcount)

    def interrupt_runs_of(self, pid: int) -> int:
        """Finish the runs of a crawl process that was stopped and then killed (the scheduler
        knows it did it) as `interrupted`, not left to be found abandoned."""
        with self.transaction():
            cur = self.conn.execute(
                "UPDATE runs SET status = 'interrupted', finished_at = ?, exit_code = 1"
                " WHERE status = 'running' AND pid = ? AND host = ?",
                (utcnow(), pid, socket.gethostname()),
            )
        return cur.rowcount

    def fail_runs(self, run_ids: list[int], check: str, message: str) -> None:
        """Record that runs which crawled fine failed afterwards (e.g. feeds not written), so
        the row says what the process's exit code says."""
        with self.transaction():
            for run_id in run_ids:
                self.conn.execute(
                    "UPDATE runs SET status = 'failed', exit_code = 1 WHERE id = ?", (run_id,)
                )
                self.add_alert(run_id, check, message)

    # -- alerts ---------------------------------------------------------------------------
    def add_alert(
        self,
        run_id: int | None,
        check: str,
        message: str,
        *,
        severity: str = "error",
        url: str | None = None,
    ) -> int:
        with self.transaction():
            cur = self.conn.execute(
                "INSERT INTO alerts (run_id, created_at, check_name, severity, message, url)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, utcnow(), check, severity, message, url),
            )
        return int(cur.lastrowid)

    def alerts(self, limit: int = 50, run_id: int | None = None) -> list[dict[str, Any]]:
        if run_id is not None:
            return self._all("SELECT * FROM alerts WHERE run_id = ? ORDER BY id DESC", (run_id,))
        return self._all("SELECT * FROM alerts ORDER BY id DESC LIMIT ?", (limit,))

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

    # -- pages, versions, changes ------------------------------------------------------------
    def page(self, url: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM pages WHERE url = ?", (url,))

    def page_by_id(self, page_id: int) -> dict[str, Any] | None:
        return self._one("SELECT * FROM pages WHERE id = ?", (page_id,))

    def known_urls(self, kind: str | None = None, status: str = "live") -> list[str]:
        if kind:
            rows = self.conn.execute(
                "SELECT url FROM pages WHERE status = ? AND kind = ? ORDER BY url", (status, kind)
            )
        else:
            rows = self.conn.execute(
                "SELECT url FROM pages WHERE status = ? ORDER BY url", (status,)
            )
        return [r[0] for r in rows]

    def count_pages(self, kind: str | None = None, status: str = "live") -> int:
        if kind:
            sql, params = "SELECT COUNT(*) FROM pages WHERE status = ? AND kind = ?", (status, kind)
        else:
            sql, params = "SELECT COUNT(*) FROM pages WHERE status = ?", (status,)
        return int(self.conn.execute(sql, params).fetchone()[0])

    def version(self, page_id: int, version: int | None = None) -> dict[str, Any] | None:
        if version is None:
            return self._one(
                "SELECT * FROM versions WHERE page_id = ? ORDER BY version DESC LIMIT 1", (page_id,)
            )
        return self._one(
            "SELECT * FROM versions WHERE page_id = ? AND version = ?", (page_id, version)
        )

    def versions(self, page_id: int) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM versions WHERE page_id = ? ORDER BY version", (page_id,))

    def _insert(self, table: str, row: dict[str, Any]) -> int:
        """One row; lists and dicts are stored as JSON text. Column names come from code."""
        values = [_dumps(v) if isinstance(v, dict | list) else v for v in row.values()]
        marks = ", ".join("?" for _ in row)
        cur = self.conn.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({marks})", values)
        return int(cur.lastrowid)

    def insert_page(self, row: dict[str, Any]) -> int:
        return self._insert("pages", row)

    def update_page(self, page_id: int, **values: Any) -> None:
        sets = ", ".join(f"{k} = ?" for k in values)
        params = [_dumps(v) if isinstance(v, dict | list) else v for v in values.values()]
        self.conn.execute(f"UPDATE pages SET {sets} WHERE id = ?", (*params, page_id))

    def duplicates_of(self, url: str, *, other_than: str | None) -> list[dict[str, Any]]:
        """Live pages marked as duplicates of `url` whose content hash is not `other_than`."""
        return self._all(
            "SELECT id, url, dup_hash FROM pages WHERE duplicate_of = ? AND status = 'live'"
            " AND (? IS NULL OR dup_hash IS NOT ?) ORDER BY url",
            (url, other_than, other_than),
        )

    def repoint_duplicates(self, old_url: str, new_url: str) -> None:
        self.conn.execute(
            "UPDATE pages SET duplicate_of = ? WHERE duplicate_of = ?", (new_url, old_url)
        )

    def retag_new_as_duplicate(self, page_id: int, run_id: int | None) -> None:
        self.conn.execute(
            "UPDATE changes SET change = 'duplicate' WHERE page_id = ? AND run_id IS ?"
            " AND change = 'new'",
            (page_id, run_id),
        )

    def discard_page(self, page_id: int) -> None:
        """Forget a page stored earlier in the current run (a 301 target seen before its 301)."""
        url = self.conn.execute("SELECT url FROM pages WHERE id = ?", (page_id,)).fetchone()[0]
        self.conn.execute("UPDATE pages SET duplicate_of = NULL WHERE duplicate_of = ?", (url,))
        self.conn.execute("DELETE FROM changes WHERE page_id = ?", (page_id,))
        self.conn.execute("DELETE FROM versions WHERE page_id = ?", (page_id,))
        self.conn.execute("DELETE FROM pages_fts WHERE rowid = ?", (page_id,))
        self.conn.execute("DELETE FROM pages WHERE id = ?", (page_id,))

    def add_version(self, row: dict[str, Any]) -> int:
        version_id = self._insert("versions", row)
        page_id = row["page_id"]
        # Keep full-text search on the current text, in the same transaction.
        if row["version"] > 1:
            self.conn.execute("DELETE FROM pages_fts WHERE rowid = ?", (page_id,))
        self.conn.execute(
            "INSERT INTO pages_fts (rowid, title, lead, body) VALUES (?, ?, ?, ?)",
            (page_id, row.get("title") or "", row.get("lead") or "", row.get("body") or ""),
        )
        return version_id

    def add_change(self, row: dict[str, Any]) -> int:
        return self._insert("changes", row)

    def changes_of_page(self, page_id: int) -> list[dict[str, Any]]:
        return self._all(
            "SELECT c.*, p.kind, p.lang FROM changes c JOIN pages p ON p.id = c.page_id"
            " WHERE c.page_id = ? ORDER BY c.id DESC",
            (page_id,),
        )

    def page_moved_from(self, url: str) -> dict[str, Any] | None:
        """The page that now lives elsewhere after a 301 from `url`."""
        return self._one(
            "SELECT * FROM pages WHERE id = (SELECT page_id FROM changes WHERE moved_from = ?"
            " ORDER BY id DESC LIMIT 1)",
            (url,),
        )

    def near_duplicate_candidates(
        self, bands: tuple[int, int, int, int], lang: str, exclude_id: int | None
    ) -> list[dict[str, Any]]:
        return self._all(
            "SELECT id, url, simhash FROM pages WHERE status = 'live' AND lang = ? AND id != ?"
            " AND (sh0 = ? OR sh1 = ? OR sh2 = ? OR sh3 = ?)",
            (lang, exclude_id or -1, *bands),
        )

    def live_pages_with_dup_hash(
        self, dup_hash: str, exclude_id: int | None
    ) -> list[dict[str, Any]]:
        return self._all(
            "SELECT id, url, duplicate_of FROM pages WHERE dup_hash = ? AND status = 'live'"
            " AND id != ? ORDER BY url",
            (dup_hash, exclude_id or -1),
        )

    # -- queries for the CLI, feeds and exports ----------------------------------------------
    def changes(
        self,
        *,
        since: str | None = None,
        kind: str | None = None,
        lang: str | None = None,
        change: str | None = None,
        run_id: int | None = None,
        limit: int | None = None,
        include_duplicates: bool = True,
    ) -> list[dict[str, Any]]:
        where, params = ["1 = 1"], []
        if since:
            where.append("c.detected_at >= ?")
            params.append(since)
        if kind:
            where.append("p.kind = ?")
            params.append(kind)
        if lang:
            where.append("p.lang = ?")
            params.append(lang)
        if change:
            where.append("c.change = ?")
            params.append(change)
        if run_id is not None:
            where.append("c.run_id = ?")
            params.append(run_id)
        if not include_duplicates:
            where.append("p.duplicate_of IS NULL AND c.change != 'duplicate'")
        sql = (
            "SELECT c.id, c.url, p.kind, p.lang, c.change, c.fields, c.detected_at, c.version,"
            " c.previous_version, c.moved_from, c.diff, c.run_id, c.page_id, p.url AS page_url,"
            " c.flags"
            f" FROM changes c JOIN pages p ON p.id = c.page_id WHERE {' AND '.join(where)}"
            " ORDER BY c.id DESC"
        )
        if limit:
            sql += f" LIMIT {int(limit)}"
        return self._all(sql, params)

    def current_pages(
        self,
        *,
        since: str | None = None,
        kind: str | None = None,
        lang: str | None = None,
        status: str | None = None,
        published_since: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Pages joined with their current version, streamed (exports can be large)."""
        where, params = ["1 = 1"], []
        if since:
            where.append("p.last_changed >= ?")
            params.append(since)
        if published_since:
            where.append("v.published >= ?")
            params.append(published_since)
        if kind:
            where.append("p.kind = ?")
            params.append(kind)
        if lang:
            where.append("p.lang = ?")
            params.append(lang)
        if status:
            where.append("p.status = ?")
            params.append(status)
        sql = (
            f"SELECT p.*, {_CURRENT_VERSION_COLUMNS}"
            " FROM pages p LEFT JOIN versions v"
            " ON v.page_id = p.id AND v.version = p.current_version"
            f" WHERE {' AND '.join(where)} ORDER BY p.url"
        )
        for row in self.conn.execute(sql, params):
            yield _decode_row(row)  # type: ignore[misc]

    def news_entries(self, lang: str, limit: int) -> list[dict[str, Any]]:
        """Live, non-duplicate news of one language, newest published first."""
        return self._all(
            "SELECT p.url, p.id AS page_id, p.first_seen, p.last_changed, v.* FROM pages p"
            " JOIN versions v ON v.page_id = p.id AND v.version = p.current_version"
            " WHERE p.kind = 'news' AND p.lang = ? AND p.status = 'live' AND p.duplicate_of IS NULL"
            " ORDER BY COALESCE(v.published, p.first_seen) DESC, p.url LIMIT ?",
            (lang, limit),
        )

    def category_entries(self, category: str, limit: int) -> list[dict[str, Any]]:
        return self._all(
            "SELECT p.url, p.id AS page_id, p.first_seen, p.last_changed, v.* FROM pages p"
            " JOIN versions v ON v.page_id = p.id AND v.version = p.current_version"
            " WHERE p.status = 'live' AND p.duplicate_of IS NULL"
            " AND EXISTS (SELECT 1 FROM json_each(v.categories) WHERE json_each.value = ?)"
            " ORDER BY COALESCE(v.published, p.first_seen) DESC, p.url LIMIT ?",
            (category, limit),
        )

    def totals(self) -> dict[str, Any]:
        """Pages, versions and change events by kind: the archive at a glance."""
        one = self.conn.execute
        return {
            "pages": one("SELECT COUNT(*) FROM pages").fetchone()[0],
            "versions": one("SELECT COUNT(*) FROM versions").fetchone()[0],
            "changes": dict(one("SELECT change, COUNT(*) FROM changes GROUP BY change").fetchall()),
        }

    def categories(self, limit: int | None = None) -> list[str]:
        """Categories of live pages by name; with `limit`, only the ones with most pages."""
        rows = self.conn.execute(
            "SELECT json_each.value FROM pages p"
            " JOIN versions v ON v.page_id = p.id AND v.version = p.current_version,"
            " json_each(v.categories) WHERE p.status = 'live'"
            " GROUP BY 1 ORDER BY COUNT(*) DESC, 1 LIMIT ?",
            (-1 if limit is None else limit,),
        )
        return sorted(r[0] for r in rows)
