"""The numbers behind the charts: one query per chart, oldest first.

dashboard.html (feeds.dashboard) and the Datasette dashboards of `aaltowatch browse`
(aaltowatch.browse, `"query": "@<name>"` in datasette_metadata.json) run these same queries.
"""

from __future__ import annotations

from typing import Any

from storage.connection import Store
from storage.rows import plausible_sql

RUN_HISTORY = 60  # runs shown in the crawl-health chart
WEEK_HISTORY = 52  # weeks shown in the changes-per-week chart (a year: readable, and its cost
# stops growing with the archive's age; `aaltowatch changes` and SQL keep the whole history)
# A month is a plausible declared date's (core.fields.plausible), else the first sighting's.
_PUBLISHED = plausible_sql("published", "last_seen")

SQL = {
    "news_by_month_lang": (
        f"SELECT substr(COALESCE({_PUBLISHED}, first_seen), 1, 7) AS month, lang,"
        " COUNT(*) AS count FROM news GROUP BY month, lang ORDER BY month, lang"
    ),
    "news_by_month_category": (
        "SELECT month, category, SUM(count) AS count FROM category_counts_by_month"
        " GROUP BY month, category ORDER BY month, category"
    ),
    # Change events per week (its Monday) and kind of change; duplicates are not changes. A
    # running total (migration 0014_cost), and the last WEEK_HISTORY weeks of it, so the chart
    # costs the same in year 3 as in year 1.
    "changes_by_week": (
        "SELECT week, change, count FROM changes_weekly"
        " WHERE change != 'duplicate' AND count > 0 AND week >= (SELECT"
        f" date(MAX(week), '-{7 * (WEEK_HISTORY - 1)} days') FROM changes_weekly)"
        " ORDER BY week, change"
    ),
    "partner_mentions": (
        "SELECT partner, month, SUM(count) AS count FROM partner_mentions_by_month"
        " GROUP BY partner_id, month ORDER BY month, partner"
    ),
    # The last finished crawl runs: requests, 304s, errors and alerts each.
    "run_health": (
        "SELECT * FROM (SELECT r.id, r.spider, r.started_at, r.requests, r.not_modified,"
        " r.errors, (SELECT COUNT(*) FROM alerts a WHERE a.run_id = r.id) AS alerts"
        " FROM runs r WHERE r.status != 'running' AND r.spider != 'reextract'"
        f" ORDER BY r.id DESC LIMIT {RUN_HISTORY}) ORDER BY id"
    ),
}


class ChartStore(Store):
    """The charts' numbers."""

    def rows(self, name: str) -> list[dict[str, Any]]:
        return self._all(SQL[name])
