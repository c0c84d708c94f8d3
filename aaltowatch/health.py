"""Health checks after every crawl: the signals that the site changed under the spiders.

Each check reads the run's Scrapy stats (what was fetched, how it was extracted, what the
pipeline did) and returns alerts; any alert makes the run unhealthy (exit code 3). This is the
one place that decides: the Spidermon monitors (spiders/monitors.py) call `check_run` too, so
the thresholds in `[health]` are never restated elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aaltowatch import bounds
from aaltowatch.config import HealthThresholds
from aaltowatch.crawlstop import ARCHIVE_UNWRITABLE
from aaltowatch.fields import required_fields

TRUSTED = ("selector", "meta")
# Scrapy's finish_reason when the crawl was asked to stop (SIGTERM/SIGINT): not judged at all.
STOPPED = "shutdown"
CHECKS = (
    "site_unreachable",
    "zero_items",
    "error_rate",
    "layout_drift",
    "mass_disappearance",
    "mass_move",
    "suspicious_versions",
    "crawl_incomplete",
    "bound_reached",
)


@dataclass(frozen=True)
class Alert:
    check: str
    message: str
    severity: str = "error"


def _stat(stats: dict[str, Any], key: str) -> int:
    return int(stats.get(key) or 0)


def _downloads(stats: dict[str, Any]) -> tuple[int, int]:
    """(downloads, failed): each URL counted once whatever its retries, without the spider's
    internal data: requests; failed = given up after retries, or not extractable."""
    downloads = (
        _stat(stats, "downloader/request_count")
        - _stat(stats, "retry/count")
        - _stat(stats, "aaltowatch/internal_requests")
    )
    failed = _stat(stats, "aaltowatch/errors") + _stat(stats, "aaltowatch/extraction_errors")
    return max(downloads, 0), failed


def _site_responses(stats: dict[str, Any]) -> int:
    """HTTP responses of any status from the site (internal data: requests answer 200 too)."""
    return _stat(stats, "downloader/response_count") - _stat(stats, "aaltowatch/internal_requests")


def _why(stats: dict[str, Any], downloads: int) -> str:
    prefix = "downloader/exception_type_count/"
    errors = {k[len(prefix) :]: int(v) for k, v in stats.items() if k.startswith(prefix)}
    reason = max(errors, key=errors.__getitem__).rsplit(".", 1)[-1] if errors else "no answer"
    return f"none of {downloads} requests got an answer ({reason})"


def exceeds_share(count: int, known: int, limit: float, limits: HealthThresholds) -> bool:
    """A mass change: more than `limit` of the known pages at once (one page is never mass)."""
    return known >= limits.min_known_for_missing_check and count > 1 and count / known > limit


def check_run(kind: str, stats: dict[str, Any], limits: HealthThresholds) -> list[Alert]:
    """All alerts for one spider's run, from its final Scrapy stats; [] means healthy."""
    reason = str(stats.get("finish_reason") or "")
    if reason in (STOPPED, ARCHIVE_UNWRITABLE):
        return []  # a partial crawl (stopped, or the disk refused writes) says nothing of the site
    downloads, failed = _downloads(stats)
    if downloads and not _site_responses(stats):
        # Nothing answered at all: the other checks would only restate it.
        return [Alert("site_unreachable", f"{kind}: site unreachable, {_why(stats, downloads)}")]
    alerts: list[Alert] = []
    pages = _stat(stats, "aaltowatch/outcome/pages")
    unchanged = _stat(stats, "aaltowatch/outcome/unchanged")
    # A planned run may fetch no page at all when nothing is new: the teasers it read count.
    seen = pages + unchanged + _stat(stats, "aaltowatch/plan/teasers")
    if seen < limits.min_items:
        alerts.append(
            Alert("zero_items", f"{kind}: {seen} pages seen (minimum {limits.min_items})")
        )
    if downloads and failed / downloads > limits.max_error_rate:
        alerts.append(
            Alert(
                "error_rate",
                f"{kind}: {failed} of {downloads} downloads failed ({failed / downloads:.0%},"
                f" limit {limits.max_error_rate:.0%})",
            )
        )
    if pages:
        for name in required_fields(kind):
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
    if _stat(stats, "aaltowatch/outcome/mass_move"):
        moving = _stat(stats, "aaltowatch/outcome/moving")
        known = _stat(stats, "aaltowatch/known_live")
        alerts.append(
            Alert(
                "mass_move",
                f"{kind}: {moving} of {known} known pages answered 301 to other pages at once"
                f" (limit {limits.max_moved_share:.0%}); not marking them moved",
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
    if reason not in ("finished", "", bounds.STOP_REASON):
        alerts.append(Alert("crawl_incomplete", f"{kind}: crawl ended with {reason}"))
    for name, limit in sorted(bounds.reached(stats).items()):
        ended = "the run stopped early" if reason == bounds.STOP_REASON else "the rest was skipped"
        alerts.append(Alert("bound_reached", f"{kind}: bound {name} = {limit} reached; {ended}"))
    return alerts
