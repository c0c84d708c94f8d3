"""Describe the archive's tables and views in Markdown: `python -m storage.schema_doc`.

The columns come from the real schema (a fresh in-memory database with every migration applied),
so the README cannot drift from the code; the prose lives here, next to the migrations, and the
Datasette web view (`aaltowatch browse`) reuses it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from sqlite_utils import Database

from aaltowatch.core.urls import SECTIONS
from pages.fields import VERSION_DOCS
from storage import migrations

TABLES: dict[str, str] = {
    "pages": "One row per page, keyed by its canonical public URL; the page's current state.",
    "versions": "Every stored version of every page (a new one only when the content moved).",
    "changes": "Change events: new, modified, removed, restored, moved, duplicate.",
    "runs": "One row per crawl run of one spider, with its counters and outcome.",
    "alerts": "Health-check alerts and suspicious versions that were not stored.",
    "run_steps": "What each step of a run did (crawl, store, feeds, notify, metrics, health):"
    " ok, failed (with the error) or skipped.",
    "responses": "Raw fetched bytes, compressed, stored once per sha256: the bytes a version was"
    " extracted from (for reextract) and each URL's latest 200 (for a 304).",
    "page_categories": "The categories of each live page's current version (kept by triggers),"
    " so a category feed reads its own pages.",
    "rendered_diffs": "The text diffs the last feed build showed, by their inputs: the next"
    " build renders only new ones (a cache, bounded by the feeds' entries).",
    "changes_weekly": "Change events per week and kind, a running total kept by triggers (the"
    " dashboard's chart).",
    "response_dicts": "zstd dictionaries trained on the site's stored pages (see responses).",
    "fetches": "HTTP validators per requested URL, for conditional GET, and sitemap lastmod.",
    "checks": "Every fetch or revalidation of a content page and its outcome (the planner's"
    " evidence).",
    "check_stats": "Per page: a summary of its checks, kept in step with `checks`, read by the"
    " crawl planner.",
    "crawl_queue": "Content URLs the crawl plan still has to fetch (new, lastmod moved, teaser"
    " changed); what a killed run leaves for the next.",
    "meta": "Facts about the archive itself: the site it holds (recorded at its first run).",
    "crawl_state": "Crawl planner state: listing cursors (backfill, pager sweep), sitemap sizes.",
    "pages_fts": "FTS5 full-text index over the current title, lead and body (rowid = pages.id).",
    "_sqlite_migrations": "Which numbered schema migrations have been applied.",
    "versions_fts": "FTS5 index over every version's title, lead and body (rowid = versions.id),"
    " so a watch matches a change against the text it produced.",
    "notify_targets": "One row per watch and notification target, with its delivery counters.",
    "notifications": "Which change events each target was sent (exactly once, see operations).",
    "watch_state": "Per watch: what its matches were made with (a hash of query and filters)"
    " and its cursors (events matched as they come, history still to match).",
    "watch_matches": "Each change event a watch matched, once, with the snippet that matched and"
    " whether it is news to send (pushable) or the baseline.",
    "current_pages": "Every page joined with the fields of its current version.",
    **{
        s.view_name: f"Live {s.name} pages that are not duplicates, with their current fields."
        for s in SECTIONS
    },
    "change_log": "Change events with the page's title, kind and language.",
    "category_counts_by_month": "Live news per category, publication month and language.",
    "partners": "Partner registry: the organisations the partnership pages are about (rebuilt"
    " after every run from the pages, the hub's link texts and the config's aliases).",
    "partner_pages": "Which partnership page belongs to which partner, in which language.",
    "partner_overview": "One row per partner: status, first/last seen and its page per language.",
    "partner_mentions_by_month": "Live news items mentioning a partner (FTS query `match`), per"
    " publication month and language.",
    "feed_names": "The file name of each feed named after the site's words (a category),"
    " kept from its first build on, so a feed URL never changes subject.",
    "date_anomalies": "Change events whose declared dates disagree with what was observed, one"
    " row per flag.",
}

# Column descriptions; views reuse these by column name (see `column_doc`).
COLUMNS: dict[str, dict[str, str]] = {
    "pages": {
        "id": "Page id (stable across moves: history continues under a new URL).",
        "url": "Canonical public URL (https://www.aalto.fi/...).",
        "kind": "The kind of its section (news, partnership, ...: `core.urls.KINDS`).",
        "lang": "en, fi or sv.",
        "status": "live, removed (404/410) or moved (301 to a page with its own history).",
        "first_seen": "When the page was first stored (ISO 8601 UTC).",
        "last_seen": "When a crawl last saw the page (200 or 304).",
        "last_changed": "When the page last got a new version.",
        "version_count": "Number of stored versions.",
        "current_version": "Number of the current version (versions.version).",
        "content_hash": "Fingerprint of the normalised content fields of the current version.",
        "dup_hash": "Fingerprint used to find exact duplicates across URLs.",
        "simhash": "64-bit simhash of the body, for near-duplicates.",
        "sh0": "Simhash band 0 (index for near-duplicate lookup).",
        "sh1": "Simhash band 1.",
        "sh2": "Simhash band 2.",
        "sh3": "Simhash band 3.",
        "duplicate_of": "URL of the original when this page is an exact duplicate, else null.",
        "near_duplicate_of": "URL of a near-duplicate (simhash), flagged only.",
        "moved_to": "Where a moved page now lives.",
        "http_status": "HTTP status of the last observation.",
        "extraction": "JSON: how each field was extracted (selector notes).",
    },
    "versions": {
        "id": "Version row id.",
        "page_id": "The page (pages.id).",
        "version": "1, 2, ... per page.",
        "run_id": "The run that stored it (runs.id).",
        "url": "URL the version was fetched under.",
        "fetched_at": "When it was fetched (ISO 8601 UTC).",
        "content_hash": "Fingerprint of the normalised content fields.",
        **VERSION_DOCS,
    },
    "changes": {
        "id": "Change id (increasing).",
        "page_id": "The page (pages.id).",
        "run_id": "The run that detected it (runs.id).",
        "url": "The page's URL when the change was detected.",
        "change": "new, modified, removed, restored, moved or duplicate.",
        "fields": "JSON list of the fields that changed (modified).",
        "detected_at": "When it was detected (ISO 8601 UTC).",
        "version": "The version the change produced (or the current one).",
        "previous_version": "The version before the change.",
        "moved_from": "The old URL of a moved page.",
        "diff": "Unified diff of the text (modified, restored).",
        "flags": "JSON list of date flags: silent_edit, backdated, forward_dated,"
        " implausible_date.",
    },
    "runs": {
        "id": "Run id.",
        "spider": "The spider of a section (news, partnerships, ...: `core.urls.SPIDER_NAMES`).",
        "base_url": "Where the site was fetched from.",
        "started_at": "Start time (ISO 8601 UTC).",
        "finished_at": "End time.",
        "status": "running, ok, failed, unhealthy, interrupted (stopped by SIGTERM) or abandoned"
        " (its process died: killed, out of memory).",
        "exit_code": "0 ok, 1 failed, 3 unhealthy.",
        "requests": "HTTP requests made.",
        "pages_fetched": "Content pages fetched with 200.",
        "not_modified": "Responses answered 304 (the stored body stands in).",
        "skipped": "Pages not fetched: unchanged since their sitemap lastmod.",
        "errors": "Failed requests or extractions.",
        "new": "New pages.",
        "modified": "Modified pages.",
        "removed": "Removed pages.",
        "moved": "Moved pages.",
        "restored": "Restored pages.",
        "stats": "JSON: Scrapy stats and health-check details.",
        "pid": "Process id of the crawl, to tell a live run from one whose process died.",
        "host": "Host name of the machine the crawl ran on (a pid means nothing elsewhere).",
    },
    "alerts": {
        "id": "Alert id.",
        "run_id": "The run that raised it.",
        "created_at": "When (ISO 8601 UTC).",
        "check_name": "Which health check (zero_items, error_rate, layout_drift, ...).",
        "severity": "error or warning.",
        "message": "What went wrong, for people.",
        "url": "The page concerned, if any.",
    },
    "run_steps": {
        "id": "Step row id (in the order the steps ran).",
        "run_id": "The run it belongs to (every run of one `run --once` gets the same steps).",
        "step": "crawl, store, feeds, notify, metrics or health (aaltowatch.steps).",
        "outcome": "ok, failed or skipped; a failed step makes the run failed (exit code 1).",
        "error": "Why it failed, for people (empty when ok).",
        "duration_s": "How long the step took, in seconds.",
    },
    "responses": {
        "sha256": "sha256 of the raw bytes.",
        "url": "First URL these bytes were fetched from.",
        "content_type": "Content-Type header.",
        "size": "Uncompressed size in bytes.",
        "body": "Compressed raw bytes (see codec).",
        "first_fetched_at": "When these bytes were first fetched.",
        "codec": "zstd, zstd-delta (against base), or zlib for bodies stored before zstd.",
        "dict_id": "The zstd dictionary the body was compressed with (response_dicts.id).",
        "base": "For a zstd-delta body: the keyframe it was compressed against (sha256).",
    },
    "page_categories": {
        "category": "A category, as shown on the site.",
        "page_id": "A live page whose current version has it (pages.id).",
    },
    "rendered_diffs": {
        "key": "SHA-256 of the renderer's source and the two texts.",
        "html": "The rendered diff (feeds.htmldiff.text_diff_html).",
    },
    "changes_weekly": {
        "week": "The week's Monday (YYYY-MM-DD) of changes.detected_at.",
        "change": "Kind of change event.",
        "count": "How many change events of that kind were detected that week.",
    },
    "response_dicts": {
        "id": "Dictionary id (a blob names the one it needs, so retraining loses nothing).",
        "content": "The zstd dictionary.",
        "samples": "How many stored bodies it was trained on.",
        "created_at": "When it was trained.",
    },
    "fetches": {
        "url": "Canonical public URL of what was requested.",
        "etag": "Last ETag, sent as If-None-Match.",
        "last_modified": "Last Last-Modified, sent as If-Modified-Since.",
        "raw_sha256": "sha256 of the last 200 body.",
        "content_type": "Content-Type of the last 200.",
        "http_status": "Status of the last fetch.",
        "fetched_at": "When it was last fetched.",
        "sitemap_lastmod": "lastmod from the sitemap, to skip unchanged pages.",
        "teaser_hash": "Fingerprint of the page's last listing/feed teaser (the known frontier).",
    },
    "checks": {
        "id": "Check id (increasing).",
        "page_id": "The page (pages.id), null for a URL never stored.",
        "url": "The URL that was checked.",
        "run_id": "The run that made the check (runs.id).",
        "checked_at": "When (ISO 8601 UTC).",
        "outcome": "new, changed (200 with new content), same (200, same content),"
        " not_modified (304), gone (404/410), moved (301/308) or error.",
        "http_status": "HTTP status of the answer (null on a network error).",
    },
    "check_stats": {
        "page_id": "The page (pages.id).",
        "last_checked": "Last check that verified the page (anything but error).",
        "last_attempt": "Last check of any outcome, errors included.",
        "checks": "Number of verifying checks.",
        "changes": "Checks that found new content (changed, gone, moved).",
        "unchanged_days": "Sum of the intervals between checks that found no change, in days.",
        "changed_intervals": "JSON list of the last intervals (days) that ended in a change.",
    },
    "crawl_queue": {
        "url": "Canonical public URL to fetch.",
        "kind": "The kind of its section (news, partnership, ...: `core.urls.KINDS`).",
        "lang": "en, fi or sv.",
        "tier": "0 teaser new or changed, 1 sitemap lastmod moved, 2 found only in a sitemap.",
        "sort_key": "Newest first within a tier: published time or lastmod.",
        "lastmod": "Sitemap lastmod, if any.",
        "categories": "JSON list of categories from the teaser.",
        "queued_at": "When it was queued.",
    },
    "meta": {
        "key": "site (which site the archive holds) or site_base_url (where it was first"
        " crawled from).",
        "value": "Its value.",
        "updated_at": "When it was written.",
    },
    "crawl_state": {
        "key": "e.g. listing:en (cursor of the English listing sweep).",
        "value": "JSON value.",
        "updated_at": "When it was written.",
    },
    "pages_fts": {
        "title": "Current title.",
        "lead": "Current lead.",
        "body": "Current body.",
    },
    "versions_fts": {
        "title": "Title of the version.",
        "lead": "Lead of the version.",
        "body": "Body of the version.",
    },
    "notify_targets": {
        "id": "Target id.",
        "watch": "Name of the watch (config `[[aaltowatch.watch]]`).",
        "target": "The target's label: scheme, host and a short hash, never a secret.",
        "since_change": "Change events with a higher id are delivered (set when first seen).",
        "created_at": "When the target was first seen.",
        "sent": "Messages delivered.",
        "failures": "Failed deliveries, in total.",
        "consecutive_failures": "Failed deliveries since the last success (alert threshold).",
        "last_sent_at": "When a message was last delivered.",
        "last_failure_at": "When a delivery last failed.",
    },
    "notifications": {
        "id": "Row id.",
        "target_id": "The target (notify_targets.id).",
        "change_id": "The change event (changes.id).",
        "status": "sending (claimed, being sent), sent, or unknown (a crash interrupted it).",
        "message": "event (one message per event) or digest <period>.",
        "claimed_at": "When the event was claimed for sending.",
        "sent_at": "When the server accepted it.",
    },
    "watch_state": {
        "watch": "Name of the watch (config `[[aaltowatch.watch]]`).",
        "spec": "Hash of what decides its matches (query, filters, match); a new one rematches.",
        "since": "When this spec was first seen: pages published before are old stories.",
        "live_from": "Change events with a higher id are matched as they are recorded.",
        "matched_to": "The highest change id matched so far.",
        "backfill_below": "History below this change id is still to match (0 or 1: done).",
        "updated_at": "When a cursor last moved.",
    },
    "watch_matches": {
        "watch": "Name of the watch.",
        "change_id": "The change event (changes.id).",
        "snippet": "The matching text, the match between U+E000 and U+E001.",
        "matched_at": "When it was matched.",
        "pushable": "1: news, sent to the watch's targets; 0: the baseline (first crawl, old"
        " story, history), in the feed only.",
    },
    "_sqlite_migrations": {
        "id": "Row id.",
        "migration_set": "Always aaltowatch.",
        "name": "Migration name, e.g. 0002_views.",
        "applied_at": "When it was applied.",
    },
    "change_log": {
        "title": "Title of the version the change produced, else the current title.",
        "kind": "The kind of its section (news, partnership, ...: `core.urls.KINDS`).",
        "lang": "en, fi or sv.",
    },
    "partners": {
        "id": "Partner id: the id of its first page (pages.id).",
        "name": "Display name (English, else Finnish, else Swedish).",
        "names": "JSON object {lang: name} as the pages name the partner.",
        "aliases": "JSON list of extra names from the config ([[aaltowatch.partner]]).",
        "match": "FTS5 query matching the names and their inflected forms in news.",
        "first_seen": "When the first of its pages was first stored.",
        "last_seen": "When a crawl last saw one of its pages.",
        "status": "active (a page is live) or gone (every page removed).",
    },
    "partner_pages": {
        "page_id": "The page (pages.id).",
        "partner_id": "The partner (partners.id).",
        "lang": "en, fi or sv.",
        "name": "The partner's name as this page gives it.",
        "name_source": "Where the name came from: config, title or hub_link.",
    },
    "partner_overview": {
        "url_en": "The partner's English page.",
        "url_fi": "The partner's Finnish page.",
        "url_sv": "The partner's Swedish page.",
    },
    "partner_mentions_by_month": {
        "partner_id": "The partner (partners.id).",
        "partner": "The partner's name.",
        "month": "Publication month, YYYY-MM.",
        "lang": "en, fi or sv.",
        "count": "Number of live, non-duplicate news items mentioning the partner.",
    },
    "feed_names": {
        "kind": "What the feed follows: category.",
        "label": "The subject exactly as the site writes it (case and all).",
        "name": "The feed's file stem, <name>.xml and <name>.atom: unique, slug of at most 60"
        " characters.",
        "assigned_at": "When the name was given (it never changes after).",
    },
    "date_anomalies": {
        "change_id": "The change event (changes.id).",
        "flag": "silent_edit, backdated, forward_dated or implausible_date.",
        "title": "Title of the version the change produced.",
        "published": "Declared publication time of that version.",
        "previous_published": "Declared publication time of the version before.",
        "updated": "Declared update time of that version.",
        "previous_updated": "Declared update time of the version before.",
    },
    "category_counts_by_month": {
        "category": "A category as shown on the site.",
        "month": "Publication month, YYYY-MM.",
        "lang": "en, fi or sv.",
        "count": "Number of live, non-duplicate news items.",
    },
}

# Where a view's columns come from, for descriptions.
VIEW_SOURCES: dict[str, tuple[str, ...]] = {
    "current_pages": ("pages", "versions"),
    **{s.view_name: ("pages", "versions") for s in SECTIONS},
    "change_log": ("changes", "pages"),
    "partner_overview": ("partners",),
    "date_anomalies": ("changes", "pages"),
}


SECTION_VIEWS = "Section views"
SECTION_VIEWS_DOC = (
    "One per section of the site model (`aaltowatch.core.urls.SECTIONS`): its live pages that"
    " are not duplicates, with the columns of `current_pages`. Named by the section's `view`,"
    " else `<kind>_pages`: `news`, `partnership_pages`, ... A section added later gets its view"
    " when a writer next opens the archive."
)


def column_doc(table: str, column: str) -> str:
    for source in (table, *VIEW_SOURCES.get(table, ())):
        if column in COLUMNS.get(source, {}):
            return COLUMNS[source][column]
    return ""


def migrated_database() -> Database:
    """A fresh in-memory archive schema: exactly what `Archive` creates."""
    db = Database(memory=True)
    migrations.apply(db)
    return db


def _is_shadow(db: Database, name: str) -> bool:
    """FTS5 keeps its index in `<table>_data`, `_idx`, ... tables: internals, not schema."""
    return any(name.startswith(f"{fts}_") for fts in db.table_names(fts5=True))


def schema_markdown(db: Database | None = None) -> str:
    db = db or migrated_database()
    out = ["## Database schema", ""]
    out.append(
        "Generated by `python -m storage.schema_doc` from the migrations in"
        " `storage/migrations.py`. Times are ISO 8601 UTC text; JSON columns hold JSON text"
        " (use `json_each()`)."
    )
    order = {name: i for i, name in enumerate(TABLES)}
    tables = [t for t in db.table_names() if not _is_shadow(db, t)]
    # The sections' views are one entry: a new section does not change the schema's description.
    section_views = {s.view_name for s in SECTIONS}
    views = [v for v in db.view_names() if v not in section_views]
    for heading, names in [("Tables", tables), ("Views", views)]:
        out += ["", f"### {heading}"]
        if heading == "Views":
            out += ["", f"#### {SECTION_VIEWS}", "", SECTION_VIEWS_DOC]
        for name in sorted(names, key=lambda n: order.get(n, len(order))):
            out += ["", f"#### `{name}`", "", TABLES.get(name, ""), ""]
            out += ["| column | type | description |", "|---|---|---|"]
            for col in db[name].columns:
                out.append(f"| `{col.name}` | {col.type or ''} | {column_doc(name, col.name)} |")
    return "\n".join(out) + "\n"


START, END = "<!-- schema:start -->", "<!-- schema:end -->"


def with_schema(readme: str) -> str:
    """The README with its schema section regenerated between the markers."""
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{schema_markdown()}{END}{tail}"


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> None:
    """Print the schema; `--update README.md` rewrites the README's schema section."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--update"] and len(args) == 2:
        path = Path(args[1])
        path.write_text(with_schema(path.read_text(encoding="utf-8")), encoding="utf-8")
        return
    out.write(schema_markdown())


if __name__ == "__main__":
    main()
