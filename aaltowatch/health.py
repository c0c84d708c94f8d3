"""Health checks after every crawl: the signals that the site changed under the spiders.

Each check reads the run's Scrapy stats (what was fetched, how it was extracted, what the
pipeline did) and returns alerts; any alert makes the run unhealthy (exit code 3). This is the
one place that decides: the Spidermon monitors (spiders/monitors.py) call `check_run` too, so
the thresholds in `[health]` are never restated elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aaltowatch.config import HealthThresholds

REQUIRED = {"news": ("title", "body", "published"), "partnership": ("title", "body")}
TRUSTED = ("selector", "meta")
# Scrapy's finish_reason when the crawl was asked to stop (SIGTERM/SIGINT): not judged at all.
STOPPED = "shutdown"
CHECKS = (
    "zero_items",
    "error_rate",
    "layout_drift",
    "mass_disappearance",
    "suspicious_versions",
    "crawl_incomplete",
)


@dataclass(frozen=True)
class Alert:
    check: str
    message: str
    severity: str = "error"


def _stat(stats: dict[str, Any], key: str) -> int:
    return int(stats.get(key) or 0)


def check_run(kind: str, stats: dict[str, Any], limits: HealthThresholds) -> list[Alert]:
    """All alerts for one spider's run, from its final Scrapy stats; [] means healthy."""
    reason = str(stats.get("finish_reason") or "")
    if reason == STOPPED:
        return []  # a partial crawl someone stopped says nothing about the site
    alerts: list[Alert] = []
    pages = _stat(stats, "aaltowatch/outcome/pages")
    unchanged = _stat(stats, "aaltowatch/outcome/unchanged")
    # A planned run may fetch no page at all when nothing is new: the teasers it read count.
    seen = pages + unchanged + _stat(stats, "aaltowatch/plan/teasers")
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
        gone = _stat(stats, "aaltowatch/outcome/gone")
        known = _stat(stats, "aaltowatch/known_live")
        alerts.append(
            Alert(
                "mass_disappearance",
                f"{kind}: {gone} of {known} known pages answered 404/410 at once (limit"
                f" {limits.max_missing_share:.0%}); not marking them removed",
            )
        )
    empty = _stat(stats, "aaltowatch/empty_listings")
    if empty:
        alerts.append(
            Alert("layout_drift", f"{kind}: {empty} listing pages had no recognisable teasers")
        )
    flagged = _stat(stats, "aaltowatch/outcome/flagged")
    if flagged:
        alerts.append(
            Alert(
                "suspicious_versions",
                f"{kind}: {flagged} pages changed suspiciously (e.g. empty body, selectors"
                " missed); their new versions were not stored",
            )
        )
    if reason not in ("finished", ""):
        alerts.append(Alert("crawl_incomplete", f"{kind}: crawl ended with {reason}"))
    return alerts
