"""Health checks after every crawl: the signals that the site changed under the spiders.

Each check is a small function registered with `@health_check(name)`: it reads the run's
figures (RunStats, from Scrapy's stats) with the `[health]` thresholds and returns alerts; any
alert makes the run unhealthy (exit code 3). `HEALTH_CHECKS` is the registry, in the order
alerts are reported: `check_run` runs it, the Spidermon monitors (spiders/monitors.py) get one
test per check name (`CHECKS`) from it, and a test keeps the alert table of
docs/operations.md in step. A new check is one function here plus its row in that table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from aaltowatch.core import bounds
from aaltowatch.core.config import HealthThresholds
from aaltowatch.core.crawlstop import ARCHIVE_UNWRITABLE
from aaltowatch.core.fields import required_fields
from aaltowatch.core.items import TRUSTED_SOURCES
from aaltowatch.core.runstats import STOPPED, UNREACHABLE, RunStats
from aaltowatch.core.urls import SECTION_OF_KIND


@dataclass(frozen=True)
class Alert:
    """A health alert, from a run's checks or from the history rules (then about one `url`)."""

    check: str
    message: str
    severity: str = "error"
    url: str | None = None


CheckFn = Callable[[str, RunStats, HealthThresholds], Iterable[Alert]]


@dataclass(frozen=True)
class HealthCheck:
    name: str
    run: CheckFn
    # When it fires, its alerts are the run's only ones (the others would only restate it).
    alone: bool = False


_REGISTRY: list[HealthCheck] = []


def health_check(name: str, *, alone: bool = False) -> Callable[[CheckFn], CheckFn]:
    """Register a check under the alert name it raises."""

    def register(fn: CheckFn) -> CheckFn:
        _REGISTRY.append(HealthCheck(name, fn, alone))
        return fn

    return register


def exceeds_share(count: int, known: int, limit: float, limits: HealthThresholds) -> bool:
    """A mass change: more than `limit` of the known pages at once (one page is never mass)."""
    return known >= limits.min_known_for_missing_check and count > 1 and count / known > limit


@health_check("site_unreachable", alone=True)
def site_unreachable(kind: str, run: RunStats, limits: HealthThresholds) -> Iterator[Alert]:
    """Nothing answered, or the run stopped after connection failures in a row. The figures
    are the run's own (`requests` as in its row), so the alert and the tables agree."""
    stopped = run.finish_reason == UNREACHABLE
    if not stopped and not (run.downloads and not run.site_responses):
        return
    errors = run.exceptions
    top = max(errors, key=errors.__getitem__).rsplit(".", 1)[-1] if errors else "no answer"
    reason = run.unreachable_error or top
    if run.site_responses:
        why = f"the last {run.unreachable_streak} of {run.requests} requests got no answer"
    else:
        why = f"none of {run.requests} requests got an answer"
    streak, failed = run.unreachable_streak, run.failed
    ended = (
        f"; stopped after {streak} connection failures in a row ({failed} URLs given up,"
        " the rest not tried)"
        if stopped
        else ""
    )
    yield Alert("site_unreachable", f"{kind}: site unreachable, {why} ({reason}){ended}")


@health_check("zero_items")
def zero_items(kind: str, run: RunStats, limits: HealthThresholds) -> Iterator[Alert]:
    # A planned run may fetch no page at all when nothing is new: the teasers it read count.
    seen = run.pages + run.unchanged + run.plan_teasers
    section = SECTION_OF_KIND.get(kind)
    if section is not None and not section.pages_expected and not run.known_live:
        return  # no page of this section is known (a new one, or not on this copy of the site)
    if seen < limits.min_items:
        yield Alert("zero_items", f"{kind}: {seen} pages seen (minimum {limits.min_items})")


@health_check("error_rate")
def error_rate(kind: str, run: RunStats, limits: HealthThresholds) -> Iterator[Alert]:
    downloads, failed = run.downloads, run.failed
    if downloads and failed / downloads > limits.max_error_rate:
        yield Alert(
            "error_rate",
            f"{kind}: {failed} of {downloads} downloads failed ({failed / downloads:.0%},"
            f" limit {limits.max_error_rate:.0%})",
        )


@health_check("layout_drift")
def fields_not_found(kind: str, run: RunStats, limits: HealthThresholds) -> Iterator[Alert]:
    """Required fields no longer where the site's markup puts them."""
    if not run.pages:
        return
    for name in required_fields(kind):
        trusted = sum(run.sources.get(f"{name}:{src}", 0) for src in TRUSTED_SOURCES)
        coverage = trusted / run.pages
        if coverage < limits.min_field_coverage:
            yield Alert(
                "layout_drift",
                f"{kind}: only {trusted} of {run.pages} pages had their {name} where the site's"
                f" markup puts it ({coverage:.0%}, limit {limits.min_field_coverage:.0%});"
                " the layout may have changed",
            )


@health_check("mass_disappearance")
def mass_disappearance(kind: str, run: RunStats, limits: HealthThresholds) -> Iterator[Alert]:
    if run.mass_disappearance:
        yield Alert(
            "mass_disappearance",
            f"{kind}: {run.gone} of {run.known_live} known pages answered 404/410 at once (limit"
            f" {limits.max_missing_share:.0%}); not marking them removed",
        )


@health_check("mass_move")
def mass_move(kind: str, run: RunStats, limits: HealthThresholds) -> Iterator[Alert]:
    if run.mass_move:
        yield Alert(
            "mass_move",
            f"{kind}: {run.moving} of {run.known_live} known pages answered 301 to other pages"
            f" at once (limit {limits.max_moved_share:.0%}); not marking them moved",
        )


@health_check("layout_drift")
def empty_listings(kind: str, run: RunStats, limits: HealthThresholds) -> Iterator[Alert]:
    """Listing pages without teasers: the listing markup changed."""
    if run.empty_listings:
        yield Alert(
            "layout_drift",
            f"{kind}: {run.empty_listings} listing pages had no recognisable teasers",
        )


@health_check("suspicious_versions")
def suspicious_versions(kind: str, run: RunStats, limits: HealthThresholds) -> Iterator[Alert]:
    if run.flagged:
        yield Alert(
            "suspicious_versions",
            f"{kind}: {run.flagged} pages changed suspiciously (e.g. empty body, selectors"
            " missed); their new versions were not stored",
        )


@health_check("crawl_incomplete")
def crawl_incomplete(kind: str, run: RunStats, limits: HealthThresholds) -> Iterator[Alert]:
    if run.finish_reason not in ("finished", "", bounds.STOP_REASON):
        yield Alert("crawl_incomplete", f"{kind}: crawl ended with {run.finish_reason}")


@health_check("bound_reached")
def bound_reached(kind: str, run: RunStats, limits: HealthThresholds) -> Iterator[Alert]:
    stopped_early = run.finish_reason == bounds.STOP_REASON
    for name, limit in sorted(run.bounds_reached.items()):
        ended = "the run stopped early" if stopped_early else "the rest was skipped"
        yield Alert("bound_reached", f"{kind}: bound {name} = {limit} reached; {ended}")


HEALTH_CHECKS: tuple[HealthCheck, ...] = tuple(_REGISTRY)
# The alert names the checks raise, each once, in registry order.
CHECKS: tuple[str, ...] = tuple(dict.fromkeys(c.name for c in HEALTH_CHECKS))


def check_run(kind: str, run: RunStats, limits: HealthThresholds) -> list[Alert]:
    """All alerts for one spider's run; [] means healthy."""
    if run.finish_reason in (STOPPED, ARCHIVE_UNWRITABLE):
        return []  # a partial crawl (stopped, or the disk refused writes) says nothing of the site
    alerts: list[Alert] = []
    for check in HEALTH_CHECKS:
        found = list(check.run(kind, run, limits))
        if found and check.alone:
            return found
        alerts.extend(found)
    return alerts
