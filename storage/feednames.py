"""Feed file names kept in the archive (table `feed_names`): once a subject has a name, its feed
URL never changes subject, whatever arrives later (feeds.names decides the names)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable, Set

from aaltowatch.core.errors import ArchiveWriteError
from aaltowatch.core.text import utc_now
from storage.connection import Store

log = logging.getLogger(__name__)

Decide = Callable[[str, Iterable[str], Set[str]], dict[str, str]]
Rows = list[tuple[str, str, str]]


def _names(rows: Rows, kind: str, labels: list[str], decide: Decide) -> dict[str, str]:
    known = {label: name for k, label, name in rows if k == kind}
    taken = {name for _, _, name in rows}
    return known | decide(kind, [label for label in labels if label not in known], taken)


class FeedNameStore(Store):
    """Feed file names, once given never reused for another subject."""

    def assign(self, kind: str, labels: list[str], decide: Decide) -> dict[str, str]:
        """label -> file stem for every label of `kind`. Subjects without a name get one from
        `decide(kind, newcomers, taken names)`, stored in the same transaction that read the taken
        names, so two builds at once cannot give one name twice. An archive that cannot be
        written (read-only, disk full) gets the same decision without keeping it: the feeds are
        still written, and the failed write is the crawl's to report."""
        if not self.readonly:
            try:
                with self.transaction():
                    rows = self._kept()
                    names = _names(rows, kind, labels, decide)
                    known = {label for k, label, _ in rows if k == kind}
                    now = utc_now()
                    self.conn.executemany(
                        "INSERT INTO feed_names (kind, label, name, assigned_at)"
                        " VALUES (?, ?, ?, ?)",
                        [(kind, label, names[label], now) for label in sorted(set(labels) - known)],
                    )
                return names
            except ArchiveWriteError as exc:
                log.warning("new feed names not kept, this build only: %s", exc)
        return _names(self._kept(), kind, labels, decide)

    def _kept(self) -> Rows:
        try:
            return self.conn.execute("SELECT kind, label, name FROM feed_names").fetchall()
        except sqlite3.OperationalError as exc:
            # An old archive a reader could not upgrade (a read-only file system): nothing kept.
            if self.readonly and "no such table" in str(exc):
                return []
            raise
