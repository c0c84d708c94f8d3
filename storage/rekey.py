"""Re-key an archive after the rules of page identity changed, merging pages that now share
a key (`caf%c3%a9`, `caf%C3%A9` and `café` were three pages; they are one).

Nothing is dropped: the pages' versions are merged into one history, renumbered in the order
they were fetched, and every change, check and reference follows them. The page that was seen
first keeps its id, so feed entries and links to it stay valid.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlite_utils import Database

# Columns that hold a page key (text). Primary-key columns are re-keyed with the collision rule
# of their table; the others are plain updates.
URL_COLUMNS = (
    ("pages", "duplicate_of"),
    ("pages", "near_duplicate_of"),
    ("pages", "moved_to"),
    ("versions", "url"),
    ("changes", "url"),
    ("changes", "moved_from"),
    ("checks", "url"),
    ("alerts", "url"),
    ("responses", "url"),
)
KEYED_TABLES = ("fetches", "crawl_queue")  # url PRIMARY KEY: the newest row wins


def _rows(db: Database, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    cursor = db.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def rekey(db: Database, canonical: Callable[[str], str]) -> int:
    """Apply `canonical` to every stored page key; returns how many pages were merged away."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for page in _rows(db, "SELECT id, url FROM pages ORDER BY id"):
        groups[canonical(page["url"])].append(page)
    merged = 0
    for key, pages in groups.items():
        survivor, *absorbed = pages
        for page in absorbed:
            _merge(db, survivor["id"], page["id"])
            merged += 1
        if survivor["url"] != key:
            db.execute("UPDATE pages SET url = ? WHERE id = ?", (key, survivor["id"]))
    _rekey_columns(db, canonical)
    return merged


def _rekey_columns(db: Database, canonical: Callable[[str], str]) -> None:
    tables = set(db.table_names())
    for table, column in URL_COLUMNS:
        if table not in tables:
            continue
        values = db.execute(
            f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL"
        ).fetchall()
        for (old,) in values:
            new = canonical(old)
            if new != old:
                db.execute(f"UPDATE {table} SET {column} = ? WHERE {column} = ?", (new, old))
    for table in KEYED_TABLES:
        if table not in tables:
            continue
        for (old,) in db.execute(f"SELECT url FROM {table}").fetchall():
            new = canonical(old)
            if new == old:
                continue
            if db.execute(f"SELECT 1 FROM {table} WHERE url = ?", (new,)).fetchone():
                db.execute(f"DELETE FROM {table} WHERE url = ?", (old,))
            else:
                db.execute(f"UPDATE {table} SET url = ? WHERE url = ?", (new, old))


def _merge(db: Database, keep: int, gone: int) -> None:
    """Fold page `gone` into page `keep`: one history, ordered by fetch time."""
    versions = _rows(
        db,
        "SELECT id, page_id, version, title, lead, body FROM versions WHERE page_id IN (?, ?)"
        " ORDER BY fetched_at, page_id = ?, version",
        (keep, gone, gone),
    )
    number = {(v["page_id"], v["version"]): n for n, v in enumerate(versions, start=1)}
    # Renumber through negative numbers first: UNIQUE(page_id, version) holds at every step.
    for v in versions:
        db.execute("UPDATE versions SET version = ? WHERE id = ?", (-v["id"], v["id"]))
    for v in versions:
        new = number[(v["page_id"], v["version"])]
        db.execute(
            "UPDATE versions SET page_id = ?, version = ? WHERE id = ?", (keep, new, v["id"])
        )
    for change in _rows(
        db,
        "SELECT id, page_id, version, previous_version FROM changes WHERE page_id IN (?, ?)",
        (keep, gone),
    ):
        old_page = change["page_id"]
        db.execute(
            "UPDATE changes SET page_id = ?, version = ?, previous_version = ? WHERE id = ?",
            (
                keep,
                number.get((old_page, change["version"])),
                number.get((old_page, change["previous_version"])),
                change["id"],
            ),
        )
    db.execute("UPDATE checks SET page_id = ? WHERE page_id = ?", (keep, gone))
    db.execute("DELETE FROM check_stats WHERE page_id = ?", (gone,))
    if "partner_pages" in db.table_names():
        db.execute("DELETE FROM partner_pages WHERE page_id = ?", (gone,))
    _fold_page_row(db, keep, gone, versions)


def _fold_page_row(db: Database, keep: int, gone: int, versions: list[dict[str, Any]]) -> None:
    """The merged page's dates span both; its state is the one of whoever was seen last;
    `versions` is its merged history, in order."""
    a, b = (_rows(db, "SELECT * FROM pages WHERE id = ?", (i,))[0] for i in (keep, gone))
    latest = b if b["last_seen"] > a["last_seen"] else a
    state = {k: value for k, value in latest.items() if k not in ("id", "url")} | {
        "first_seen": min(a["first_seen"], b["first_seen"]),
        "last_seen": max(a["last_seen"], b["last_seen"]),
        "last_changed": max(a["last_changed"], b["last_changed"]),
        "version_count": len(versions),
        "current_version": len(versions) or None,
    }
    current = versions[-1] if versions else None
    sets = ", ".join(f"{k} = ?" for k in state)
    db.execute("DELETE FROM pages_fts WHERE rowid IN (?, ?)", (keep, gone))
    db.execute("DELETE FROM pages WHERE id = ?", (gone,))
    db.execute(f"UPDATE pages SET {sets} WHERE id = ?", (*state.values(), keep))
    if current is not None:
        db.execute(
            "INSERT INTO pages_fts (rowid, title, lead, body) VALUES (?, ?, ?, ?)",
            (keep, current["title"] or "", current["lead"] or "", current["body"] or ""),
        )
