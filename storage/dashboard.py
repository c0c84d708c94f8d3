"""The numbers behind dashboard.html: small aggregates, oldest first, one query per chart."""

from __future__ import annotations

from typing import Any

from storage.archive import Archive
from storage.partners import mentions_by_month

RUN_HISTORY = 60  # runs shown in the crawl-health chart


def news_by_month_lang(archive: Archive) -> list[dict[str, Any]]:
    return archive._all(
        "SELECT substr(COALESCE(published, first_seen), 1, 7) AS month, lang, COUNT(*) AS count"
        " FROM news GROUP BY month, lang ORDER BY month, lang"
    )


def news_by_month_category(archive: Archive) -> list[dict[str, Any]]:
    return archive._all(
        "SELECT month, category, SUM(count) AS count FROM category_counts_by_month"
        " GROUP BY month, category ORDER BY month, category"
    )


def changes_by_week(archive: Archive) -> list[dict[str, Any]]:
    """Change events per week (Monday) and kind of change; duplicates are not changes."""
    return archive._all(
        "SELECT date(detected_at, '-6 days', 'weekday 1') AS week, change, COUNT(*) AS count"
        " FROM changes WHERE change != 'duplicate' GROUP BY week, change ORDER BY week, change"
    )


def partner_mentions(archive: Archive) -> list[dict[str, Any]]:
    return mentions_by_month(archive)


def run_health(archive: Archive, limit: int = RUN_HISTORY) -> list[dict[str, Any]]:
    """The last finished runs: requests, 304s, errors and alerts each."""
    rows = archive._all(
        "SELECT r.id, r.spider, r.started_at, r.requests, r.not_modified, r.errors,"
        " (SELECT COUNT(*) FROM alerts a WHERE a.run_id = r.id) AS alerts"
        " FROM runs r WHERE r.status != 'running' AND r.spider != 'reextract'"
        " ORDER BY r.id DESC LIMIT ?",
        (limit,),
    )
    return rows[::-1]
