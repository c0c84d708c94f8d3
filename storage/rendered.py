"""Rendered diffs kept between feed builds (table `rendered_diffs`, feeds.htmldiff.DiffMemo).

A cache, bounded by what the feeds show: each build keeps exactly the diffs it used, so the
table holds at most the feeds' entries, whatever the archive's age. Losing it costs one
build's rendering, never a wrong feed (keys are the inputs and the renderer's source).
"""

from __future__ import annotations

import logging
import sqlite3

from aaltowatch.core.errors import ArchiveWriteError
from storage.connection import Store

log = logging.getLogger(__name__)


class RenderedDiffStore(Store):
    """Rendered diffs kept between feed builds."""

    def diffs(self) -> dict[str, str]:
        try:
            return dict(self.conn.execute("SELECT key, html FROM rendered_diffs").fetchall())
        except sqlite3.OperationalError:  # a read-only archive older than the table
            return {}

    def keep(self, used: dict[str, str]) -> None:
        """What this build rendered becomes the table (a read-only archive keeps nothing)."""
        if self.readonly:
            return
        try:
            with self.transaction():
                known = {k for (k,) in self.conn.execute("SELECT key FROM rendered_diffs")}
                self.conn.executemany(
                    "DELETE FROM rendered_diffs WHERE key = ?", [(k,) for k in known - used.keys()]
                )
                self.conn.executemany(
                    "INSERT INTO rendered_diffs (key, html) VALUES (?, ?)",
                    [(k, html) for k, html in used.items() if k not in known],
                )
        except (ArchiveWriteError, sqlite3.Error) as exc:  # a cache: the feeds are written anyway
            log.warning("rendered diffs not kept for the next build: %s", exc)
