"""The crawl planner: how one run spends its request budget. Pure decisions, no Scrapy, no DB.

A run may make at most `max_requests_per_run` requests, spent in this order:

1. discovery: the site feed and the listings newest first, stopping at the known frontier (a
   listing page whose teasers are all known and unchanged), a slice of a full pager sweep
   (a cursor kept in the archive, so that nothing old is missed), and the new or changed items
   they name;
2. child sitemaps (conditional GET) and the pages whose `lastmod` moved;
3. revalidation of known pages chosen by the revisit policy;
4. backfill: while the archive is still being filled (a fresh install), the listings further
   down from where the last run stopped, newest first, and pages found only in sitemaps.

The revisit policy weighs each page's chance of having changed since its last check. The
change rate comes from the page's own check history with Cho & Garcia-Molina's estimator for
checks at irregular intervals ("Estimating frequency of change", ACM TOIT 2003; used for
refresh in "Effective page refresh policies for Web crawlers", ACM TODS 2003), regularised by
a prior that falls with the page's age (young stories are edited far more often than old
ones). A page not checked is simply not checked: the budget never turns into a removal.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from aaltowatch.core.fields import plausible
from aaltowatch.core.text import parse_utc
from aaltowatch.core.urls import SECTION_OF_KIND

# Share of the schedule interval a run's politeness time may take.
INTERVAL_SHARE = 0.5
# The delay the real site gets when the configured one is 0 (a local mirror): a simulation
# must plan as if the real delay applied, or it would not be faithful.
REAL_SITE_DELAY_S = 1.0
# Requests kept back from planning for what a plan cannot foresee (redirects, robots.txt).
RESERVE_SHARE = 0.02
RESERVE_MIN = 3
# Age prior: expected changes per day of a story `a` days old is PRIOR_RATE0 / (1 + a).
PRIOR_RATE0 = 4.0
# How many days of observation the prior is worth (Gamma prior strength).
PRIOR_WEIGHT_DAYS = 3.0
# Relative precision of an estimated change rate (far finer than any decision needs).
LOG_RATE_PRECISION = 1e-9
# A page's weight is its section's (core.urls.Section.importance), its recent weight while it
# is younger than this (recent news count more than the archive); a kind no section has: 1.
RECENT_DAYS = 30.0


class RevisitPolicy(StrEnum):
    ADAPTIVE = "adaptive"  # what is likely to have changed, plus what is overdue
    ROUND_ROBIN = "round_robin"  # the least recently checked pages, as many as the budget allows
    ALL = "all"  # every known page every run, no budget (the behaviour before the planner)


class CrawlMode(StrEnum):
    FULL = "full"  # a site that fits in the budget: everything, every run
    PLAN = "plan"  # a bigger one: the budget spent in the planner's order


# Crawl queue tiers, fetched lowest first: a listing or feed teaser new or changed, a known
# page whose sitemap lastmod moved, a page found only in a sitemap (backfill).
TEASER, LASTMOD, SITEMAP_ONLY = 0, 1, 2
TIER_NAMES = {TEASER: "teaser", LASTMOD: "lastmod", SITEMAP_ONLY: "sitemap_only"}


# -- the budget ------------------------------------------------------------------------------
def derive_budget(interval_s: float, delay_s: float, share: float = INTERVAL_SHARE) -> int:
    """Requests that fit in `share` of the interval at one request per `delay_s`."""
    delay = delay_s if delay_s > 0 else REAL_SITE_DELAY_S
    return max(int(share * interval_s / delay), 10)


def cron_interval_s(expression: str, interval_s: float = 0.0) -> float:
    """The shortest gap between two runs of a crontab expression (or the fixed interval)."""
    if interval_s > 0:
        return interval_s
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(expression, timezone=UTC)
    start = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday: weekday rules see a whole week
    previous, current, gaps = None, start, []
    for _ in range(400):
        fire = trigger.get_next_fire_time(previous, current)
        if fire is None:
            break
        if previous is not None:
            gaps.append((fire - previous).total_seconds())
        previous, current = fire, fire + timedelta(seconds=1)
        if fire - start > timedelta(days=8):
            break
    return min(gaps) if gaps else 86400.0


@dataclass
class Budget:
    """Requests one run may make; `planned` leaves a reserve for redirects and robots.txt."""

    limit: int | None  # None: no limit (policy `all`)
    spent: int = 0

    @property
    def reserve(self) -> int:
        if self.limit is None:
            return 0
        return min(max(RESERVE_MIN, int(self.limit * RESERVE_SHARE)), self.limit // 4)

    @property
    def remaining(self) -> int:
        """What plans may still take (the reserve excluded)."""
        if self.limit is None:
            return 1 << 30
        return max(self.limit - self.reserve - self.spent, 0)

    def take(self, n: int = 1, *, reserve: bool = False) -> bool:
        """Spend `n` requests if the plan (or, with `reserve`, the hard limit) allows it."""
        room = (
            1 << 30
            if self.limit is None
            else (self.limit - self.spent if reserve else self.remaining)
        )
        if n > room:
            return False
        self.spent += n
        return True


def small_site(*, known_pages: int, listing_pages: int | None, queued: int, budget: int) -> bool:
    """A site whose full crawl fits in the budget is simply crawled whole, every run.

    `listing_pages` is None until one full pass over the listings has measured the site: a
    fresh install never assumes the site is small.
    """
    if listing_pages is None:
        return False
    return known_pages + listing_pages + queued + 20 <= budget


# -- listings: the frontier, the sweep --------------------------------------------------------
def teaser_hash(title: str | None, published: str | None, categories: Iterable[str]) -> str:
    """What a teaser says about its story: a change here means the story changed."""
    text = json.dumps([title or "", published or "", sorted(categories)], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TeaserVerdict:
    fetch: list[str]  # URLs to fetch: unknown, or known with a changed teaser
    at_frontier: bool  # every teaser known and unchanged: older pages need no reading now


def judge_teasers(
    teasers: Sequence[tuple[str, str]], memory: dict[str, dict[str, Any]]
) -> TeaserVerdict:
    """`teasers` as (url, teaser hash); `memory` from the archive (status, teaser_hash,
    queued_tier).

    A URL the archive never stored and no teaser queued yet is new (one queued from a sitemap
    alone still is: the teaser brings its categories); a stored page whose teaser hash moved
    has changed. A page with no teaser hash yet (stored before the planner) is known.
    """
    fetch = []
    for url, digest in teasers:
        seen = memory.get(url) or {}
        tier = seen.get("queued_tier")
        new = seen.get("status") is None and (tier is None or tier > TEASER)
        if new or seen.get("teaser_hash") not in (None, digest):
            fetch.append(url)
    return TeaserVerdict(fetch, at_frontier=bool(teasers) and not fetch)


@dataclass
class ListingCursor:
    """Where the pager sweep of one listing stands (persisted as JSON in `crawl_state`)."""

    next: int = 0  # the next page the sweep reads
    pages: int | None = None  # pager length, once a pass reached the end
    passes: int = 0  # full passes completed; 0 = the backfill is still going

    @staticmethod
    def key(lang: str) -> str:
        """Where the cursor of one language's listing is kept (`crawl_state`)."""
        return f"listing:{lang}"

    @classmethod
    def load(cls, value: Any) -> ListingCursor:
        return cls(**value) if isinstance(value, dict) else cls()

    def dump(self) -> dict[str, Any]:
        return {"next": self.next, "pages": self.pages, "passes": self.passes}

    @property
    def backfilling(self) -> bool:
        return self.passes == 0

    def read(self, page: int, has_next: bool) -> None:
        """Page `page` was read: the sweep moves past it, and wraps at the pager's end."""
        self.next = max(self.next, page + 1)
        if not has_next:
            self.pages = page + 1
            self.passes += 1
            self.next = 1  # page 0 is read every run anyway


def sweep_quota(pages: int | None, max_days: float, runs_per_day: float) -> int:
    """Listing pages per run so that a full pass ends within `max_days`."""
    if not pages:
        return 1
    return max(1, math.ceil(pages / max(max_days * runs_per_day, 1.0)))


# -- revisits --------------------------------------------------------------------------------
def age_prior(age_days: float) -> float:
    """Prior changes per day of a story `age_days` old: young stories change far more."""
    return PRIOR_RATE0 / (1.0 + max(age_days, 0.0))


def change_rate(
    unchanged_days: float, changed_intervals: Sequence[float], prior_rate: float
) -> float:
    """Changes per day: the MAP estimate of a Poisson change rate from irregular checks.

    Cho & Garcia-Molina's likelihood for checks at irregular intervals: an interval `t` that
    ended in a change has probability 1 - exp(-λt), one that did not, exp(-λt). With a
    Gamma(α, β) prior (mean `prior_rate`, worth PRIOR_WEIGHT_DAYS of observation) the maximum
    solves  Σ_changed t / (exp(λt) - 1) + (α - 1) / λ = Σ_unchanged t + β,  whose left side
    falls with λ: one root, found by Newton's method on log λ within a bisection bracket.
    """
    beta = PRIOR_WEIGHT_DAYS
    alpha = 1.0 + prior_rate * beta
    right = unchanged_days + beta
    intervals = [t for t in changed_intervals if t > 0]
    if not intervals:
        return (alpha - 1.0) / right

    def excess(log_rate: float) -> tuple[float, float]:
        """Left side minus right side at exp(log_rate), and its derivative in log_rate."""
        rate = math.exp(log_rate)
        total = (alpha - 1.0) / rate
        slope = -total
        for t in intervals:
            x = rate * t
            if x < 700:
                m = math.expm1(x)
                total += t / m
                slope -= x * t * (m + 1.0) / (m * m)
        return total - right, slope

    # Newton's method on log λ, kept inside a bracket that shrinks like a bisection's: ~6
    # steps instead of ~25 halvings (every run solves it for every page with a history).
    low, high = math.log(1e-6), math.log(1e4)
    x = min(max(math.log((alpha - 1.0 + len(intervals)) / right), low), high)
    for _ in range(100):
        value, slope = excess(x)
        if value > 0:
            low = x
        else:
            high = x
        step = -value / slope if slope < 0 else 0.0
        nxt = x + step if step and low < x + step < high else (low + high) / 2
        if abs(nxt - x) < LOG_RATE_PRECISION or high - low < LOG_RATE_PRECISION:
            return math.exp(nxt)
        x = nxt
    return math.exp(x)


@dataclass
class PageView:
    """One live page as the revisit policy sees it."""

    url: str
    kind: str
    published: datetime | None
    first_seen: datetime | None
    last_checked: datetime | None
    last_attempt: datetime | None
    unchanged_days: float = 0.0
    changed_intervals: list[float] = field(default_factory=list)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> PageView:
        seen = row.get("last_checked") or row.get("last_attempt") or row.get("first_seen")
        return cls(
            url=row["url"],
            kind=row["kind"],
            # A date outside the plausible window (2999, year 1) would make a page recent
            # (or ancient) for good: such a page is as old as its first sighting.
            published=parse_utc(row.get("published"))
            if plausible(row.get("published"), seen)
            else None,
            first_seen=parse_utc(row.get("first_seen")),
            last_checked=parse_utc(row.get("last_checked")),
            last_attempt=parse_utc(row.get("last_attempt")),
            unchanged_days=float(row.get("unchanged_days") or 0.0),
            changed_intervals=list(row.get("changed_intervals") or []),
        )

    def age_days(self, now: datetime) -> float:
        born = self.published or self.first_seen or now
        return max((now - born).total_seconds() / 86400.0, 0.0)

    def since_check_days(self, now: datetime) -> float:
        """Days since the page was last verified (never: as old as the page)."""
        last = self.last_checked or self.first_seen
        return max((now - last).total_seconds() / 86400.0, 0.0) if last else float("inf")

    def since_attempt_days(self, now: datetime) -> float:
        last = max(
            filter(None, (self.last_checked, self.last_attempt, self.first_seen)), default=None
        )
        return max((now - last).total_seconds() / 86400.0, 0.0) if last else float("inf")


def _is_recent(page: PageView, now: datetime) -> bool:
    """Young enough for its section's recent weight (a section without one has no "recent")."""
    section = SECTION_OF_KIND.get(page.kind)
    recent = section is not None and section.recent_importance is not None
    return recent and page.age_days(now) < RECENT_DAYS


def importance(page: PageView, now: datetime) -> float:
    section = SECTION_OF_KIND.get(page.kind)
    if section is None:
        return 1.0
    if section.recent_importance is not None and _is_recent(page, now):
        return section.recent_importance
    return section.importance


def change_probability(page: PageView, now: datetime) -> float:
    """Chance the page changed since it was last asked for (a failed check counts: asking a
    failing page again every run would only spend the budget)."""
    rate = change_rate(page.unchanged_days, page.changed_intervals, age_prior(page.age_days(now)))
    since = page.since_attempt_days(now)
    return 1.0 if math.isinf(since) else -math.expm1(-rate * since)


def max_interval_days(page: PageView, now: datetime, max_days: float, recent_days: float) -> float:
    """How long a page may go unverified: recent news less long than the archive."""
    if _is_recent(page, now):
        return min(recent_days, max_days)
    return max_days


def select_revisits(
    pages: Iterable[PageView],
    *,
    now: datetime,
    budget: int,
    policy: RevisitPolicy,
    max_days: float,
    min_value: float,
    recent_max_days: float | None = None,
    runs_per_day: float | None = None,
    run_limit: int | None = None,
    fill_share: float = 0.0,
) -> list[str]:
    """URLs to revalidate this run, most urgent first, at most `budget` of them.

    adaptive: overdue pages (unverified for `max_days`, news younger than RECENT_DAYS for
    `recent_max_days`; most overdue first; an error counts as an attempt so a failing page
    does not take every run), then pages whose importance x change probability reaches
    `min_value`, best first. It spends only what is worth spending. With `runs_per_day`, a
    run also takes its steady share (live pages / runs in `max_days`) of the pages due
    soonest, so pages checked in one burst (a backfill) do not fall due in one burst again.
    round_robin: the least recently checked pages, as many as the budget allows.
    all: every page.
    """
    pages = list(pages)
    if policy is RevisitPolicy.ALL:
        return [p.url for p in pages]
    if budget <= 0:
        return []
    if policy is RevisitPolicy.ROUND_ROBIN:
        pages.sort(key=lambda p: (-p.since_check_days(now), p.url))
        return [p.url for p in pages[:budget]]
    recent = max_days if recent_max_days is None else recent_max_days
    limits = {p.url: max_interval_days(p, now, max_days, recent) for p in pages}
    overdue = [p for p in pages if p.since_attempt_days(now) >= limits[p.url]]
    overdue.sort(key=lambda p: (-p.since_check_days(now) / limits[p.url], p.url))
    chosen = [p.url for p in overdue[:budget]]
    taken = set(chosen)
    scored = []
    for page in pages:
        if page.url in taken:
            continue
        value = importance(page, now) * change_probability(page, now)
        if value >= min_value:
            scored.append((-value, page.url))
    scored.sort()
    chosen += [url for _, url in scored[: budget - len(chosen)]]
    if runs_per_day:
        steady = math.ceil(len(pages) / max(max_days * runs_per_day, 1.0))
        taken = set(chosen)
        due = [p for p in pages if p.url not in taken]
        due.sort(key=lambda p: (-p.since_attempt_days(now) / limits[p.url], p.url))
        early = max(0, min(steady - len(overdue), budget - len(chosen)))
        chosen += [p.url for p in due[:early]]
    if run_limit and fill_share > 0:
        target = min(int(fill_share * run_limit), budget)
        taken = set(chosen)
        rest = [p for p in pages if p.url not in taken]
        rest.sort(key=lambda p: (-fill_urgency(p, now, max_days), p.url))
        chosen += [p.url for p in rest[: max(target - len(chosen), 0)]]
    return chosen


def fill_urgency(page: PageView, now: datetime, max_days: float) -> float:
    """How far a page is into the max interval, weighted by importance (the fill order).

    The general `max_days`, not a page's own shorter one: recent news already has its own
    overdue bound, and dividing by its 5 h would put it ~29x ahead, so the fill would go on
    re-asking young pages whose edits their sitemap `lastmod` shows anyway, while the
    archive's silent edits, removals and moves wait. An error counts as an attempt, as for
    overdue pages: a failing page does not take every run.
    """
    return importance(page, now) * page.since_attempt_days(now) / max_days
