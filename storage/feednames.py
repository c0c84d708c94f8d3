"""Feed file names kept in the archive (table `feed_names`): once a subject has a name, its feed
URL never changes subject, whatever arrives later (feeds.names decides the names)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Set

from storage.archive import Archive
from storage.rows import utcnow

Decide = Callable[[str, Iterable[str], Set[str]], dict[str, str]]


def _kept(archive: Archive) -> list[tuple[str, str, str]]:
    try:
        return archive.conn.execute("SELECT kind, label, name FROM feed_names").fetchall()
    except sqlite3.OperationalError as exc:
        # An old archive a reader could not upgrade (a read-only file system): nothing kept.
        if archive.readonly and "no such table" in str(exc):
            return []
        raise


def feed_names(archive: Archive, kind: str, labels: list[str], decide: Decide) -> dict[str, str]:
    """label -> file stem for every label of `kind`. Subjects without a name get one from
    `decide(kind, newcomers, taken names)`, stored in the same transaction that read the taken
    names, so two builds at once cannot give one name twice. A read-only archive gets the
    same decision without keeping it."""
    if archive.readonly:
        return _names(_kept(archive), kind, labels, decide)
    with archive.transaction():
        rows = _kept(archive)
        names = _names(rows, kind, labels, decide)
        known = {label for k, label, _ in rows if k == kind}
        now = utcnow()
        archive.conn.executemany(
            "INSERT INTO feed_names (kind, label, name, assigned_at) VALUES (?, ?, ?, ?)",
            [(kind, label, names[label], now) for label in sorted(set(labels) - known)],
        )
    return names


def _names(
    rows: list[tuple[str, str, str]], kind: str, labels: list[str], decide: Decide
) -> dict[str, str]:
    known = {label: name for k, label, name in rows if k == kind}
    taken = {name for _, _, name in rows}
    return known | decide(kind, [label for label in labels if label not in known], taken)
