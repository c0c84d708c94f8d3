"""Numbered schema migrations (sqlite-utils Migrations): an archive only ever moves forward."""

from __future__ import annotations

from sqlite_utils import Database, Migrations

from aaltowatch.core.text import utc_now
from aaltowatch.core.urls import SECTIONS
from pages.fields import BY_NAME, VERSION_COLUMNS, VIEW_FIELDS
from storage.rows import plausible_sql

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


def section_view(kind: str) -> str:
    """A section's view (`Section.view_name`): its live pages that are no duplicates."""
    return f"""
        SELECT * FROM current_pages
        WHERE kind = '{kind}' AND status = 'live' AND duplicate_of IS NULL
    """


def sync_section_views(db: Database) -> None:
    """Every section of the site model has its view: a section added since the archive was
    made gets its view when a writer next opens it (the views of the sections it had stay)."""
    views = set(db.view_names())
    for section in SECTIONS:
        if section.view_name not in views:
            db.create_view(section.view_name, section_view(section.kind).strip())


# Views for analysts (Datasette, sqlite3, exports): the current state without hand-written joins.
_PUBLISHED = plausible_sql("n.published", "n.last_seen")  # a news row's month, if plausible
VIEWS = {
    # The current version's fields are the page object's `viewed` ones (sync_fields).
    "current_pages": f"""
        SELECT p.id, p.url, p.kind, p.lang, p.status, {", ".join(f"v.{n}" for n in VIEW_FIELDS)},
            p.first_seen, p.last_seen, p.last_changed, p.version_count,
            p.current_version, p.content_hash, p.duplicate_of
        FROM pages p
        LEFT JOIN versions v ON v.page_id = p.id AND v.version = p.current_version
    """,
    **{s.view_name: section_view(s.kind) for s in SECTIONS},
    "change_log": """
        SELECT c.id, COALESCE(v.title, cur.title) AS title, c.url, p.kind, p.lang, c.change,
            c.fields, c.detected_at, c.version, c.previous_version, c.moved_from, c.diff,
            c.page_id, c.run_id
        FROM changes c
        JOIN pages p ON p.id = c.page_id
        LEFT JOIN versions v ON v.page_id = c.page_id AND v.version = c.version
        LEFT JOIN versions cur ON cur.page_id = p.id AND cur.version = p.current_version
    """,
    # Months of plausible declared dates only (core.fields.plausible): year 1 or 2999 is no month.
    "category_counts_by_month": f"""
        SELECT cat.value AS category, substr({_PUBLISHED}, 1, 7) AS month, n.lang,
            COUNT(*) AS count
        FROM news n, json_each(n.categories) AS cat
        WHERE {_PUBLISHED} IS NOT NULL
        GROUP BY cat.value, month, n.lang
        ORDER BY month DESC, count DESC, category, n.lang
    """,
}


@migrations(name="0002_views")
def m0002_views(db: Database) -> None:
    for name, sql in VIEWS.items():
        db.create_view(name, sql.strip())


@migrations(name="0003_run_integrity")
def m0003_run_integrity(db: Database) -> None:
    # Which process runs a crawl: a `running` row whose process is gone was killed (OOM, kill -9).
    db.execute("ALTER TABLE runs ADD COLUMN pid INTEGER")
    db.execute("ALTER TABLE runs ADD COLUMN host TEXT")


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


@migrations(name="0005_notifications")
def m0005_notifications(db: Database) -> None:
    """Watches: full-text search over every version (a change is matched against the text it
    produced), and which change events each notification target has been sent."""
    db.executescript(
        """
        CREATE VIRTUAL TABLE versions_fts USING fts5(
            title, lead, body, content='versions', content_rowid='id',
            tokenize='unicode61 remove_diacritics 2'
        );
        INSERT INTO versions_fts(versions_fts) VALUES ('rebuild');
        -- Triggers keep the index in step with every write path, in the writer's transaction.
        CREATE TRIGGER versions_fts_insert AFTER INSERT ON versions BEGIN
            INSERT INTO versions_fts (rowid, title, lead, body)
            VALUES (new.id, new.title, new.lead, new.body);
        END;
        CREATE TRIGGER versions_fts_delete AFTER DELETE ON versions BEGIN
            INSERT INTO versions_fts (versions_fts, rowid, title, lead, body)
            VALUES ('delete', old.id, old.title, old.lead, old.body);
        END;
        CREATE TRIGGER versions_fts_update AFTER UPDATE OF title, lead, body ON versions BEGIN
            INSERT INTO versions_fts (versions_fts, rowid, title, lead, body)
            VALUES ('delete', old.id, old.title, old.lead, old.body);
            INSERT INTO versions_fts (rowid, title, lead, body)
            VALUES (new.id, new.title, new.lead, new.body);
        END;
        CREATE TABLE notify_targets (
            id INTEGER PRIMARY KEY,
            watch TEXT NOT NULL,
            target TEXT NOT NULL,          -- the Apprise URL with its secrets masked
            since_change INTEGER NOT NULL, -- change events with a higher id are delivered
            created_at TEXT NOT NULL,
            sent INTEGER NOT NULL DEFAULT 0,
            failures INTEGER NOT NULL DEFAULT 0,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            last_sent_at TEXT,
            last_failure_at TEXT,
            UNIQUE (watch, target)
        );
        CREATE TABLE notifications (
            id INTEGER PRIMARY KEY,
            target_id INTEGER NOT NULL REFERENCES notify_targets(id),
            change_id INTEGER NOT NULL,
            status TEXT NOT NULL,          -- sending | sent | unknown
            message TEXT NOT NULL,         -- event, or digest <period>
            claimed_at TEXT NOT NULL,
            sent_at TEXT,
            UNIQUE (target_id, change_id)
        );
        CREATE INDEX notifications_status ON notifications(status);
        """
    )


# Partner registry (rebuilt from the pages by `aaltowatch.partners.refresh`) and the date flags
# of change events (pipeline.dates): declared dates that disagree with what was observed.
PARTNER_VIEWS = {
    "partner_overview": """
        SELECT pa.id, pa.name, pa.status, pa.first_seen, pa.last_seen,
            (SELECT MIN(p.url) FROM partner_pages pp JOIN pages p ON p.id = pp.page_id
             WHERE pp.partner_id = pa.id AND pp.lang = 'en') AS url_en,
            (SELECT MIN(p.url) FROM partner_pages pp JOIN pages p ON p.id = pp.page_id
             WHERE pp.partner_id = pa.id AND pp.lang = 'fi') AS url_fi,
            (SELECT MIN(p.url) FROM partner_pages pp JOIN pages p ON p.id = pp.page_id
             WHERE pp.partner_id = pa.id AND pp.lang = 'sv') AS url_sv,
            pa.names, pa.aliases, pa.match
        FROM partners pa
    """,
    "partner_mentions_by_month": f"""
        SELECT pa.id AS partner_id, pa.name AS partner,
            substr(COALESCE({_PUBLISHED}, n.first_seen), 1, 7) AS month, n.lang,
            COUNT(*) AS count
        FROM partners pa CROSS JOIN pages_fts CROSS JOIN news n ON n.id = pages_fts.rowid
        WHERE pages_fts MATCH pa.match
        GROUP BY pa.id, month, n.lang
        ORDER BY pa.name, month, n.lang
    """,
    "date_anomalies": """
        SELECT c.id AS change_id, flag.value AS flag, c.detected_at, c.change, c.fields,
            p.kind, p.lang, v.title, c.url, v.published, pv.published AS previous_published,
            v.updated, pv.updated AS previous_updated, c.version, c.previous_version, c.page_id
        FROM changes c, json_each(c.flags) AS flag
        JOIN pages p ON p.id = c.page_id
        LEFT JOIN versions v ON v.page_id = c.page_id AND v.version = c.version
        LEFT JOIN versions pv ON pv.page_id = c.page_id AND pv.version = c.previous_version
        WHERE c.flags != '[]'
        ORDER BY c.id DESC
    """,
}


@migrations(name="0006_partners")
def m0006_partners(db: Database) -> None:
    db.executescript(
        """
        ALTER TABLE changes ADD COLUMN flags TEXT NOT NULL DEFAULT '[]';
        CREATE TABLE partners (
            id INTEGER PRIMARY KEY,          -- the id of the partner's first page
            name TEXT NOT NULL,
            names TEXT NOT NULL DEFAULT '{}',
            aliases TEXT NOT NULL DEFAULT '[]',
            match TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            status TEXT NOT NULL             -- active | gone
        );
        CREATE TABLE partner_pages (
            page_id INTEGER PRIMARY KEY,
            partner_id INTEGER NOT NULL,
            lang TEXT NOT NULL,
            name TEXT,
            name_source TEXT
        );
        CREATE INDEX partner_pages_partner ON partner_pages(partner_id);
        """
    )
    for name, sql in PARTNER_VIEWS.items():
        db.create_view(name, sql.strip())


@migrations(name="0007_canonical_urls")
def m0007_canonical_urls(db: Database) -> None:
    """Page keys in w3lib's canonical form, with the full list of tracking parameters: pages
    that only differed in escapes (`caf%c3%a9`, `café`) or a tracking parameter are merged."""
    from aaltowatch.core.urls import canonical_url
    from storage.rekey import rekey

    rekey(db, canonical_url)


@migrations(name="0008_target_labels")
def m0008_target_labels(db: Database) -> None:
    """Notification targets were keyed by Apprise's privacy URL, which keeps some secrets in
    clear (headers, path tokens, form parameters): each becomes its label
    (aaltowatch.core.targets), a pure function of the stored text, so the ledger rows keep their
    ids and nothing is sent twice or lost. Alerts that quoted an old key quote the label. The
    freed bytes are zeroed (secure_delete), so the secrets leave the file too."""
    from aaltowatch.core.targets import label

    before = db.execute("PRAGMA secure_delete").fetchone()[0]
    db.execute("PRAGMA secure_delete = ON")
    for target_id, old in db.execute("SELECT id, target FROM notify_targets").fetchall():
        new = label(old)
        db.execute("UPDATE notify_targets SET target = ? WHERE id = ?", [new, target_id])
        db.execute(
            "UPDATE alerts SET message = replace(message, ?, ?) WHERE instr(message, ?) > 0",
            [old, new, old],
        )
    db.execute(f"PRAGMA secure_delete = {int(before)}")


@migrations(name="0009_feed_names")
def m0009_feed_names(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE feed_names (
            kind TEXT NOT NULL,              -- category
            label TEXT NOT NULL,             -- the subject exactly as the site writes it
            name TEXT NOT NULL UNIQUE,       -- the file stem: <name>.xml and <name>.atom
            assigned_at TEXT NOT NULL,
            PRIMARY KEY (kind, label)
        );
        """
    )


@migrations(name="0010_values")
def m0010_values(db: Database) -> None:
    # The fields of a version cut to their limit (core.fields); older versions were never cut.
    db.execute("ALTER TABLE versions ADD COLUMN truncated TEXT NOT NULL DEFAULT '[]'")
    # The charts' views count months of plausible dates only.
    for views, name in (
        (VIEWS, "category_counts_by_month"),
        (PARTNER_VIEWS, "partner_mentions_by_month"),
    ):
        db.execute(f"DROP VIEW IF EXISTS {name}")
        db.create_view(name, views[name].strip())


@migrations(name="0011_watch_matches")
def m0011_watch_matches(db: Database) -> None:
    """Watch matches stored once per change event (storage.watches), so a run's watch cost is
    its new events, not the archive's history; and each watch's cursors."""
    db.executescript(
        """
        CREATE TABLE watch_state (
            watch TEXT PRIMARY KEY,
            spec TEXT NOT NULL,            -- hash of what decides its matches (query, filters)
            since TEXT NOT NULL,           -- when this spec was first seen: older news is history
            live_from INTEGER NOT NULL,    -- events with a higher id are matched as they come
            matched_to INTEGER NOT NULL,   -- the highest event id matched so far
            backfill_below INTEGER NOT NULL, -- history below this id is still to match (0: done)
            updated_at TEXT NOT NULL
        );
        CREATE TABLE watch_matches (
            watch TEXT NOT NULL,
            change_id INTEGER NOT NULL,
            snippet TEXT NOT NULL,         -- FTS5 snippet, match marked (core.watchmatch)
            matched_at TEXT NOT NULL,
            pushable INTEGER NOT NULL,     -- 0: baseline (first crawl, history, old story)
            PRIMARY KEY (watch, change_id)
        ) WITHOUT ROWID;
        CREATE INDEX watch_matches_pushable ON watch_matches(watch, pushable, change_id);
        """
    )


@migrations(name="0012_site_identity")
def m0012_site_identity(db: Database) -> None:
    """Facts about the archive itself, first of all which site it holds (aaltowatch.core.site).

    An older archive takes the site of its first run, so it refuses another one from now on."""
    db.executescript(
        """
        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        """
    )
    first = db.execute("SELECT base_url, started_at FROM runs ORDER BY id LIMIT 1").fetchone()
    if first is not None and first[0]:
        from aaltowatch.core.site import Site

        for key, value in Site.of_url(first[0]).meta().items():
            db.execute(
                "INSERT INTO meta (key, value, updated_at) VALUES (?, ?, ?)",
                (key, value, first[1]),
            )


@migrations(name="0013_run_steps")
def m0013_run_steps(db: Database) -> None:
    """What each step after the crawl did for a run (aaltowatch.steps): a failed step makes
    the run failed, and this says which step and why."""
    db.executescript(
        """
        CREATE TABLE run_steps (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id),
            step TEXT NOT NULL,              -- crawl | store | feeds | notify | metrics | health
            outcome TEXT NOT NULL,           -- ok | failed | skipped
            error TEXT NOT NULL DEFAULT '',
            duration_s REAL NOT NULL DEFAULT 0
        );
        CREATE INDEX run_steps_run ON run_steps(run_id, id);
        """
    )


@migrations(name="0014_cost")
def m0014_cost(db: Database) -> None:
    """Cost that grows with content, not with the archive's age: indexes for every per-run
    read, raw bodies compressed with a trained zstd dictionary (each blob names its codec and
    dictionary, so the zlib blobs stay readable), and the raw bodies nothing refers to (neither
    a version, for `reextract`, nor a URL's latest fetch, for a 304) removed."""
    db.executescript(
        """
        CREATE TABLE response_dicts (
            id INTEGER PRIMARY KEY,
            content BLOB NOT NULL,         -- a zstd dictionary trained on stored bodies
            samples INTEGER NOT NULL,
            created_at TEXT NOT NULL
        );
        ALTER TABLE responses ADD COLUMN codec TEXT NOT NULL DEFAULT 'zlib';  -- zlib | zstd
        ALTER TABLE responses ADD COLUMN dict_id INTEGER REFERENCES response_dicts(id);
        CREATE INDEX pages_duplicate_of ON pages(duplicate_of) WHERE duplicate_of IS NOT NULL;
        CREATE INDEX versions_raw ON versions(raw_sha256) WHERE raw_sha256 IS NOT NULL;
        CREATE INDEX fetches_raw ON fetches(raw_sha256) WHERE raw_sha256 IS NOT NULL;
        CREATE INDEX changes_run ON changes(run_id);
        CREATE INDEX runs_status ON runs(status);
        CREATE INDEX runs_started ON runs(started_at);
        CREATE INDEX runs_spider ON runs(spider, id);
        CREATE INDEX alerts_run ON alerts(run_id);
        CREATE INDEX crawl_queue_kind ON crawl_queue(kind, tier);
        -- The categories of each live page's current version, kept by triggers on every write
        -- path: a category feed reads its own pages instead of every page's JSON.
        CREATE TABLE page_categories (
            category TEXT NOT NULL,
            page_id INTEGER NOT NULL,
            PRIMARY KEY (category, page_id)
        ) WITHOUT ROWID;
        CREATE INDEX page_categories_page ON page_categories(page_id);
        CREATE TRIGGER page_categories_insert AFTER INSERT ON pages BEGIN
            INSERT OR IGNORE INTO page_categories (category, page_id)
            SELECT j.value, new.id FROM versions v, json_each(v.categories) j
            WHERE v.page_id = new.id AND v.version = new.current_version
            AND new.status = 'live' AND json_valid(v.categories);
        END;
        CREATE TRIGGER page_categories_update AFTER UPDATE OF current_version, status ON pages
        BEGIN
            DELETE FROM page_categories WHERE page_id = old.id;
            INSERT OR IGNORE INTO page_categories (category, page_id)
            SELECT j.value, new.id FROM versions v, json_each(v.categories) j
            WHERE v.page_id = new.id AND v.version = new.current_version
            AND new.status = 'live' AND json_valid(v.categories);
        END;
        CREATE TRIGGER page_categories_delete AFTER DELETE ON pages BEGIN
            DELETE FROM page_categories WHERE page_id = old.id;
        END;
        -- A page row may be written before its current version: the version's own write keeps
        -- its page's categories too.
        CREATE TRIGGER page_categories_version AFTER INSERT ON versions BEGIN
            DELETE FROM page_categories WHERE page_id = new.page_id AND EXISTS (
                SELECT 1 FROM pages p WHERE p.id = new.page_id
                AND p.current_version = new.version);
            INSERT OR IGNORE INTO page_categories (category, page_id)
            SELECT j.value, p.id FROM pages p, json_each(new.categories) j
            WHERE p.id = new.page_id AND p.current_version = new.version
            AND p.status = 'live' AND json_valid(new.categories);
        END;
        INSERT OR IGNORE INTO page_categories (category, page_id)
        SELECT j.value, p.id FROM pages p
        JOIN versions v ON v.page_id = p.id AND v.version = p.current_version,
        json_each(v.categories) j WHERE p.status = 'live' AND json_valid(v.categories);
        -- Change events per week (its Monday) and kind: a running total the dashboard reads.
        CREATE TABLE changes_weekly (
            week TEXT,
            change TEXT NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (week, change)
        );
        CREATE TRIGGER changes_weekly_insert AFTER INSERT ON changes BEGIN
            INSERT INTO changes_weekly (week, change, count)
            VALUES (date(new.detected_at, '-6 days', 'weekday 1'), new.change, 1)
            ON CONFLICT (week, change) DO UPDATE SET count = count + 1;
        END;
        CREATE TRIGGER changes_weekly_delete AFTER DELETE ON changes BEGIN
            UPDATE changes_weekly SET count = count - 1
            WHERE week IS date(old.detected_at, '-6 days', 'weekday 1') AND change = old.change;
        END;
        CREATE TRIGGER changes_weekly_update AFTER UPDATE OF change, detected_at ON changes BEGIN
            UPDATE changes_weekly SET count = count - 1
            WHERE week IS date(old.detected_at, '-6 days', 'weekday 1') AND change = old.change;
            INSERT INTO changes_weekly (week, change, count)
            VALUES (date(new.detected_at, '-6 days', 'weekday 1'), new.change, 1)
            ON CONFLICT (week, change) DO UPDATE SET count = count + 1;
        END;
        INSERT INTO changes_weekly (week, change, count)
        SELECT date(detected_at, '-6 days', 'weekday 1'), change, COUNT(*) FROM changes
        GROUP BY 1, 2;
        DELETE FROM responses
        WHERE sha256 NOT IN (SELECT raw_sha256 FROM versions WHERE raw_sha256 IS NOT NULL)
        AND sha256 NOT IN (SELECT raw_sha256 FROM fetches WHERE raw_sha256 IS NOT NULL);
        """
    )


@migrations(name="0015_rendered_diffs")
def m0015_rendered_diffs(db: Database) -> None:
    """The diffs the last feed build rendered (storage.rendered): the next build renders only
    what is new."""
    db.execute(
        "CREATE TABLE rendered_diffs (key TEXT PRIMARY KEY, html TEXT NOT NULL) WITHOUT ROWID"
    )


@migrations(name="0016_raw_deltas")
def m0016_raw_deltas(db: Database) -> None:
    """A raw body may be stored as a delta against its URL's keyframe (storage.rawcodec);
    bodies already stored stay as they are (keyframes) until `prune` rewrites them."""
    db.executescript(
        """
        ALTER TABLE responses ADD COLUMN base TEXT REFERENCES responses(sha256);
        CREATE INDEX responses_base ON responses(base) WHERE base IS NOT NULL;
        """
    )


# meta keys `field_since.<name>`: the first version id stored with a field added after the
# archive was created (pipeline.classify.unknown_fields).
FIELD_SINCE = "field_since."


def _column(name: str) -> str:
    """A new field's column: JSON ones hold an empty list or object, others may be NULL."""
    spec = BY_NAME[name]
    if spec.json:
        empty = "{}" if spec.default is dict else "[]"
        return f"{name} TEXT NOT NULL DEFAULT '{empty}'"
    return f"{name} TEXT"


def _fields_behind(db: Database) -> tuple[list[str], bool]:
    """Version columns the page object declares and the archive lacks; whether
    `current_pages` is not the view its fields make."""
    have = {c.name for c in db["versions"].columns}
    stored = db.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'view' AND name = 'current_pages'"
    ).fetchone()
    view_behind = stored is None or not stored[0].endswith(VIEWS["current_pages"].strip())
    return [n for n in VERSION_COLUMNS if n not in have], view_behind


def sync_fields(db: Database) -> None:
    """The schema's derived part follows the page object's fields: a column per version
    field, added when a field is declared (its first version id recorded in `meta`), and the
    `current_pages` view. In the writer's transaction, after the migrations."""
    missing, view_behind = _fields_behind(db)
    if missing:
        first = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM versions").fetchone()[0]
        for name in missing:
            db.execute(f"ALTER TABLE versions ADD COLUMN {_column(name)}")
            db.execute(
                "INSERT OR REPLACE INTO meta (key, value, updated_at) VALUES (?, ?, ?)",
                (FIELD_SINCE + name, str(first), utc_now()),
            )
    if view_behind:
        db.execute("DROP VIEW IF EXISTS current_pages")
        db.create_view("current_pages", VIEWS["current_pages"].strip())


def field_since(db: Database) -> dict[str, int]:
    """Fields added after the archive was created, by the first version id stored with them."""
    rows = db.execute("SELECT key, value FROM meta WHERE key LIKE ?", [FIELD_SINCE + "%"])
    return {key.removeprefix(FIELD_SINCE): int(value) for key, value in rows}


def apply(db: Database) -> None:
    """Bring the schema up to date under one write lock (BEGIN IMMEDIATE), so two first runs
    on a new file do not both create the tables ("table runs already exists")."""
    if not is_behind(db):
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        migrations.apply(db)  # re-reads what is pending, now that no one else can write
        sync_fields(db)
        sync_section_views(db)
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    db.conn.execute("COMMIT")


def is_behind(db: Database) -> bool:
    """A migration is pending, a section of the site model has no view yet, or the page
    object declares a field the archive has no column or view column for."""
    views = set(db.view_names())
    return (
        bool(migrations.pending(db))
        or any(s.view_name not in views for s in SECTIONS)
        or _fields_behind(db) != ([], False)
    )


def is_ours(db: Database) -> bool | None:
    """True for an aaltowatch archive, None for a database without any table (a new file),
    False for another application's database: it must never get our tables."""
    names = set(db.table_names()) | set(db.view_names())
    if not names:
        return None
    if migrations.migrations_table not in names:
        return False
    return bool(
        db.execute(
            f"SELECT 1 FROM {migrations.migrations_table} WHERE migration_set = ?",
            [migrations.name],
        ).fetchone()
    )
