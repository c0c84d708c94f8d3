"""What every store of the archive stands on: one SQLite connection, its transactions and
row reads. Each store (runs, fetches, pages, plan, watches, ...) is a `Store` over the one
`Connection` that `Archive` opens."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from aaltowatch.core.errors import ArchiveWriteError
from storage.rows import _decode_row

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


class Connection:
    """The archive's one SQLite connection and its transactions, which every store shares:
    `Archive` opens and closes it, the stores (storage/*.py) read and write through it."""

    conn: sqlite3.Connection
    path: Path
    readonly: bool = False
    _in_tx: bool = False
    # The disk refused a write: the command ends with that error, and optional writes
    # (the upkeep on close) are not tried again to fail a second time.
    write_refused: ArchiveWriteError | None = None

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
            self.write_refused = failure
            raise failure from exc


class Store:
    """A small typed store over the archive's one connection, one per group of tables
    (sqlite-utils' `db[table]` habit): `archive.runs`, `archive.pages`, ... Its writes join
    the caller's transaction, so one page's writes across stores stay one unit."""

    def __init__(self, db: Connection) -> None:
        self._db = db

    @property
    def conn(self) -> sqlite3.Connection:
        return self._db.conn

    @property
    def path(self) -> Path:
        return self._db.path

    @property
    def readonly(self) -> bool:
        return self._db.readonly

    def transaction(self) -> AbstractContextManager[None]:
        return self._db.transaction()

    def _one(self, sql: str, params: tuple | list = ()) -> dict[str, Any] | None:
        return _decode_row(self.conn.execute(sql, params).fetchone())

    def _all(self, sql: str, params: tuple | list = ()) -> list[dict[str, Any]]:
        return [_decode_row(r) for r in self.conn.execute(sql, params).fetchall()]  # type: ignore[misc]
