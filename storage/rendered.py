"""Rendered diffs kept between feed builds (table `rendered_diffs`, feeds.htmldiff.DiffMemo).

A cache, bounded by what the feeds show: each build keeps exactly the diffs it used, so the
table holds at most the feeds' entries, whatever the archive's age. Losing it costs one
build's rendering, never a wrong feed (keys are the inputs and the renderer's source).
"""

from __future__ import annotations

import logging
import sqlite3

from aaltowatch.core.errors import ArchiveWriteError
from storage.archive import Archive

log = logging.getLogger(__name__)


def rendered_diffs(archive: Archive) -> dict[str, str]:
    try:
        return dict(archive.conn.execute("SELECT key, html FROM rendered_diffs").fetchall())
    except sqlite3.OperationalError:  # a read-only archive older than the table
        return {}


def keep_rendered_diffs(archive: Archive, used: dict[str, str]) -> None:
    """What this build rendered becomes the table (a read-only archive keeps nothing)."""
    if archive.readonly:
        return
    try:
        with archive.transaction():
            known = {k for (k,) in archive.conn.execute("SELECT key FROM rendered_diffs")}
            archive.conn.executemany(
                "DELETE FROM rendered_diffs WHERE key = ?", [(k,) for k in known - used.keys()]
            )
            archive.conn.executemany(
                "INSERT INTO rendered_diffs (key, html) VALUES (?, ?)",
                [(k, html) for k, html in used.items() if k not in known],
            )
    except (ArchiveWriteError, sqlite3.Error) as exc:  # a cache: the feeds are written anyway
        log.warning("rendered diffs not kept for the next build: %s", exc)
