"""Archive API: every read and write of the SQLite archive goes through here.

`Archive` opens the one connection (migrating it first), closes it with its upkeep, and holds
one small store per group of tables over that connection: `archive.runs`, `archive.pages`,
`archive.fetches`, ... (sqlite-utils' `db[table]` habit). Writers hold one transaction per page
(`with archive.transaction():`), so a crawl killed at any point leaves whole pages or nothing;
readers work alongside a crawl thanks to WAL.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from sqlite_utils import Database

from aaltowatch.core.errors import AaltowatchError, NotAnArchiveError
from aaltowatch.core.fetchcache import ARCHIVE_SETTING, CrawlCache
from aaltowatch.core.text import utc_now
from storage import migrations
from storage.connection import Connection, write_failure
from storage.dashboard import ChartStore
from storage.feednames import FeedNameStore
from storage.fetches import FetchStore
from storage.history import History
from storage.notifications import NotificationStore
from storage.pages import PageStore
from storage.partners import PartnerStore
from storage.plan import PlanStore
from storage.queries import ReadQueries
from storage.rendered import RenderedDiffStore
from storage.runs import RunStore
from storage.search import SearchStore
from storage.watches import WatchStore

__all__ = ["Archive", "open_archive"]

log = logging.getLogger(__name__)


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


def _use_wal(conn: sqlite3.Connection, timeout_s: float = 10.0) -> None:
    """Switch to WAL. The switch needs the file to itself, and when two first runs open a new
    file at once SQLite answers "database is locked" at once rather than wait (a lock upgrade
    that could deadlock), so the busy timeout does not help: retry for a while."""
    deadline = time.monotonic() + timeout_s
    delay = 0.01
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def _upgrade_if_behind(path: Path) -> None:
    """An archive written by an older aaltowatch gets its pending migrations before a reader
    opens it (the only write a reader makes, and only once), as `browse` does. One that is not
    ours, or sits where nothing may be written, is left as it is."""
    conn = _connect_readonly(path)
    try:
        db = Database(conn)
        behind = migrations.is_ours(db) is True and migrations.is_behind(db)
    finally:
        conn.close()
    if behind and os.access(path, os.W_OK) and os.access(path.parent, os.W_OK):
        Archive(path).close()


def open_archive(path: str | Path, *, readonly: bool = False) -> Archive:
    return Archive(Path(path), readonly=readonly)


# Archives opened for a crawl that no runner handed one to (plain `scrapy crawl`): one each.
_CRAWL_ARCHIVES: WeakKeyDictionary[Any, Archive] = WeakKeyDictionary()


class Archive(Connection):
    """The archive: one SQLite connection, its transactions and lifecycle, and a store for
    each group of tables, all over that connection."""

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
                if ours is None:  # a new file: `prune` can then give space back cheaply
                    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
                _use_wal(conn)
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
        self.runs = RunStore(self)
        self.fetches = FetchStore(self)
        self.pages = PageStore(self)
        self.plan = PlanStore(self)
        self.history = History(self, self.fetches, self.pages, self.plan, self.runs)
        self.queries = ReadQueries(self)
        self.search = SearchStore(self)
        self.charts = ChartStore(self)
        self.watches = WatchStore(self)
        self.notifications = NotificationStore(self)
        self.partners = PartnerStore(self)
        self.feed_names = FeedNameStore(self)
        self.rendered = RenderedDiffStore(self)

    @classmethod
    def from_crawler(cls, crawler: Any) -> Archive:
        """The crawl's fetch cache (aaltowatch.core.fetchcache): the archive its runner handed over,
        else the configured database, opened once per crawler."""
        archive = crawler.settings.get(ARCHIVE_SETTING)
        if archive is None:
            archive = _CRAWL_ARCHIVES.get(crawler)
        if archive is None:
            config = crawler.settings.get("AALTOWATCH_CONFIG")
            archive = _CRAWL_ARCHIVES[crawler] = cls(Path(config.db))
        return archive

    def close(self) -> None:
        if not self.readonly:
            self._maintain()
        self.conn.close()

    def _maintain(self) -> None:
        """Upkeep a writer does on its way out, best effort: the raw-body dictionary once there
        are enough bodies to train it, and fresh planner statistics (ANALYZE where they are
        stale), so the per-run queries keep their indexes as the tables grow."""
        if self._in_tx or self.write_refused:
            return
        try:
            self.fetches.train_raw_dictionary(utc_now())
            self.conn.execute("PRAGMA analysis_limit = 1000")  # bounded: rows sampled per index
            self.conn.execute("PRAGMA optimize")
        except sqlite3.Error as exc:
            log.warning("archive upkeep skipped: %s", exc)

    def reclaim_space(self) -> str:
        """Give the free pages back to the file system. An archive in incremental auto-vacuum
        mode (every archive created since 0007, or once pruned) moves just the free pages,
        without rewriting the file; an older one is rewritten once by a full VACUUM (needs the
        archive's size free on disk and excludes every other writer) that switches it to the
        incremental mode. Returns which one ran."""
        if self.conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:
            # Stepped to the end: a plain execute() would free one page per step it makes.
            self.conn.executescript("PRAGMA incremental_vacuum;")
            mode = "incremental"
        else:
            self.conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            self.conn.execute("VACUUM")
            mode = "full"
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the file itself shrinks now
        return mode

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- facts about the archive itself (table meta) ---------------------------------------
    def meta(self) -> dict[str, str]:
        """Key/value facts about the archive, e.g. the site it holds (aaltowatch.core.site)."""
        if "meta" not in self.db.table_names():  # a reader of an archive it cannot upgrade
            return {}
        return {k: v for k, v in self.conn.execute("SELECT key, value FROM meta")}

    def set_meta(self, values: dict[str, str]) -> None:
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO meta (key, value, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value,"
                " updated_at = excluded.updated_at",
                [(k, v, utc_now()) for k, v in values.items()],
            )


if TYPE_CHECKING:  # mypy checks that an Archive is all that crawling asks for
    _AS_CRAWL_CACHE: type[CrawlCache] = Archive
