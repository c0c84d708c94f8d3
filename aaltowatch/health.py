"""Health checks after every crawl: the signals that the site changed under the spiders.

Each check reads the run's Scrapy stats (what was fetched, how it was extracted, what the
pipeline did) and returns alerts; any alert makes the run unhealthy (exit code 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aaltowatch.config import HealthThresholds

REQUIRED = {"news": ("title", "body", "published"), "partnership": ("title", "body")}
TRUSTED = ("selector", "meta")


@dataclass(frozen=True)
class Alert:
    check: str
    message: str
    severity: str = "error"


def _stat(stats: dict[str, Any], key: str) -> int:
    return int(stats.get(key) or 0)


def check_run(kind: str, stats: dict[str, Any], limits: HealthThresholds) -> list[Alert]:
    alerts: list[Alert] = []
    pages = _stat(stats, "aaltowatch/outcome/pages")
    unchanged = _stat(stats, "aaltowatch/outcome/unchanged")
    seen = pages + unchanged
    if seen < limits.min_items:
        alerts.append(
            Alert("zero_items", f"{kind}: {seen} pages seen (minimum {limits.min_items})")
        )
    requests = _stat(stats, "downloader/request_count")
    errors = _stat(stats, "aaltowatch/errors") + _stat(stats, "aaltowatch/extraction_errors")
    if requests and errors / requests > limits.max_error_rate:
        alerts.append(
            Alert(
                "error_rate",
                f"{kind}: {errors} of {requests} requests failed ({errors / requests:.0%},"
                f" limit {limits.max_error_rate:.0%})",
            )
        )
    if pages:
        for name in REQUIRED.get(kind, ()):
            trusted = sum(_stat(stats, f"aaltowatch/source/{name}:{src}") for src in TRUSTED)
            coverage = trusted / pages
            if coverage < limits.min_field_coverage:
                alerts.append(
                    Alert(
                        "layout_drift",
                        f"{kind}: only {trusted} of {pages} pages had their {name} where the site's"
                        f" markup puts it ({coverage:.0%}, limit {limits.min_field_coverage:.0%});"
                        " the layout may have changed",
                    )
                )
    if _stat(stats, "aaltowatch/outcome/mass_disappearance"):
        alerts.append(
            Alert("mass_disappearance", f"{kind}: a large share of known pages vanished at once")
        )
    empty = _stat(stats, "aaltowatch/empty_listings")
    if empty:
        alerts.append(
            Alert("layout_drift", f"{kind}: {empty} listing pages had no recognisable teasers")
        )
    return alerts
