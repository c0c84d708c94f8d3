"""Numbered schema migrations (sqlite-utils Migrations): an archive only ever moves forward."""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("aaltowatch")


@migrations(name="0001_initial")
def m0001_initial(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            spider TEXT NOT NULL,
            base_url TEXT,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            -- running | ok | failed | unhealthy | interrupted
            status TEXT NOT NULL DEFAULT 'running',
            exit_code INTEGER,
            requests INTEGER NOT NULL DEFAULT 0,
            pages_fetched INTEGER NOT NULL DEFAULT 0,
            not_modified INTEGER NOT NULL DEFAULT 0,
            skipped INTEGER NOT NULL DEFAULT 0,
            errors INTEGER NOT NULL DEFAULT 0,
            new INTEGER NOT NULL DEFAULT 0,
            modified INTEGER NOT NULL DEFAULT 0,
            removed INTEGER NOT NULL DEFAULT 0,
            moved INTEGER NOT NULL DEFAULT 0,
            restored INTEGER NOT NULL DEFAULT 0,
            stats TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE pages (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            lang TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'live',       -- live | removed | moved
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            last_changed TEXT NOT NULL,
            version_count INTEGER NOT NULL DEFAULT 0,
            current_version INTEGER,
            content_hash TEXT,
            dup_hash TEXT,
            simhash INTEGER,
            sh0 INTEGER, sh1 INTEGER, sh2 INTEGER, sh3 INTEGER,
            duplicate_of TEXT,
            near_duplicate_of TEXT,
            moved_to TEXT,
            http_status INTEGER,
            extraction TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX pages_kind_lang ON pages(kind, lang, status);
        CREATE INDEX pages_dup_hash ON pages(dup_hash);
        CREATE INDEX pages_sh0 ON pages(sh0);
        CREATE INDEX pages_sh1 ON pages(sh1);
        CREATE INDEX pages_sh2 ON pages(sh2);
        CREATE INDEX pages_sh3 ON pages(sh3);
        CREATE TABLE versions (
            id INTEGER PRIMARY KEY,
            page_id INTEGER NOT NULL REFERENCES pages(id),
            version INTEGER NOT NULL,
            run_id INTEGER REFERENCES runs(id),
            url TEXT NOT NULL,
            fetched_at TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            title TEXT,
            lead TEXT,
            body TEXT NOT NULL DEFAULT '',
            body_html TEXT NOT NULL DEFAULT '',
            published TEXT,
            updated TEXT,
            categories TEXT NOT NULL DEFAULT '[]',
            contacts TEXT NOT NULL DEFAULT '[]',
            images TEXT NOT NULL DEFAULT '[]',
            translations TEXT NOT NULL DEFAULT '{}',
            http_status INTEGER,
            raw_sha256 TEXT,
            UNIQUE(page_id, version)
        );
        CREATE TABLE changes (
            id INTEGER PRIMARY KEY,
            page_id INTEGER NOT NULL REFERENCES pages(id),
            run_id INTEGER REFERENCES runs(id),
            url TEXT NOT NULL,
            change TEXT NOT NULL,    -- new | modified | removed | restored | moved | duplicate
            fields TEXT NOT NULL DEFAULT '[]',
            detected_at TEXT NOT NULL,
            version INTEGER,
            previous_version INTEGER,
            moved_from TEXT,
            diff TEXT
        );
        CREATE INDEX changes_detected ON changes(detected_at);
        CREATE INDEX changes_page ON changes(page_id);
        CREATE TABLE responses (
            sha256 TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            content_type TEXT,
            size INTEGER NOT NULL,
            body BLOB NOT NULL,       -- zlib-compressed raw bytes
            first_fetched_at TEXT NOT NULL
        );
        CREATE TABLE fetches (
            url TEXT PRIMARY KEY,     -- canonical public URL of what was requested
            etag TEXT,
            last_modified TEXT,
            raw_sha256 TEXT,
            content_type TEXT,
            http_status INTEGER,
            fetched_at TEXT,
            sitemap_lastmod TEXT
        );
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            run_id INTEGER REFERENCES runs(id),
            created_at TEXT NOT NULL,
            check_name TEXT NOT NULL,
            severity TEXT NOT NULL DEFAULT 'error',
            message TEXT NOT NULL,
            url TEXT
        );
        CREATE VIRTUAL TABLE pages_fts USING fts5(
            title, lead, body, tokenize='unicode61 remove_diacritics 2'
        );
        """
    )


# Views for analysts (Datasette, sqlite3, exports): the current state without hand-written joins.
VIEWS = {
    "current_pages": """
        SELECT p.id, p.url, p.kind, p.lang, p.status, v.title, v.lead, v.body, v.published,
            v.updated, v.categories, p.first_seen, p.last_seen, p.last_changed, p.version_count,
            p.current_version, p.content_hash, p.duplicate_of
        FROM pages p
        LEFT JOIN versions v ON v.page_id = p.id AND v.version = p.current_version
    """,
    "news": """
        SELECT * FROM current_pages
        WHERE kind = 'news' AND status = 'live' AND duplicate_of IS NULL
    """,
    "partnership_pages": """
        SELECT * FROM current_pages
        WHERE kind = 'partnership' AND status = 'live' AND duplicate_of IS NULL
    """,
    "change_log": """
        SELECT c.id, COALESCE(v.title, cur.title) AS title, c.url, p.kind, p.lang, c.change,
            c.fields, c.detected_at, c.version, c.previous_version, c.moved_from, c.diff,
            c.page_id, c.run_id
        FROM changes c
        JOIN pages p ON p.id = c.page_id
        LEFT JOIN versions v ON v.page_id = c.page_id AND v.version = c.version
        LEFT JOIN versions cur ON cur.page_id = p.id AND cur.version = p.current_version
    """,
    "category_counts_by_month": """
        SELECT cat.value AS category, substr(n.published, 1, 7) AS month, n.lang,
            COUNT(*) AS count
        FROM news n, json_each(n.categories) AS cat
        WHERE n.published IS NOT NULL
        GROUP BY cat.value, month, n.lang
        ORDER BY month DESC, count DESC, category, n.lang
    """,
}


@migrations(name="0002_views")
def m0002_views(db: Database) -> None:
    for name, sql in VIEWS.items():
        db.create_view(name, sql.strip())


@migrations(name="0004_checks")
def m0004_checks(db: Database) -> None:
    """Every check of a content page, a per-page summary the planner reads in one query, the
    crawl plan a killed run leaves (queue, cursors) and what the listings last said."""
    db.executescript(
        """
        CREATE TABLE checks (
            id INTEGER PRIMARY KEY,
            page_id INTEGER REFERENCES pages(id),
            url TEXT NOT NULL,
            run_id INTEGER REFERENCES runs(id),
            checked_at TEXT NOT NULL,
            -- new | changed | same | not_modified | gone | moved | error
            outcome TEXT NOT NULL,
            http_status INTEGER
        );
        CREATE INDEX checks_page ON checks(page_id, id);
        CREATE INDEX checks_run ON checks(run_id);
        CREATE TABLE check_stats (
            page_id INTEGER PRIMARY KEY REFERENCES pages(id),
            last_checked TEXT,
            last_attempt TEXT,
            checks INTEGER NOT NULL DEFAULT 0,
            changes INTEGER NOT NULL DEFAULT 0,
            unchanged_days REAL NOT NULL DEFAULT 0,
            changed_intervals TEXT NOT NULL DEFAULT '[]'
        );
        CREATE TABLE crawl_queue (
            url TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            lang TEXT,
            tier INTEGER NOT NULL,
            sort_key TEXT NOT NULL DEFAULT '',
            lastmod TEXT,
            categories TEXT NOT NULL DEFAULT '[]',
            queued_at TEXT NOT NULL
        );
        CREATE INDEX crawl_queue_order ON crawl_queue(tier, sort_key);
        CREATE TABLE crawl_state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        ALTER TABLE fetches ADD COLUMN teaser_hash TEXT;
        """
    )


def apply(db: Database) -> None:
    migrations.apply(db)
