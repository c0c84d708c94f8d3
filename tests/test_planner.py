"""The crawl planner's decisions as table tests: no network, no database."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from aaltowatch.core import planner
from aaltowatch.core.planner import Budget, ListingCursor, PageView, RevisitPolicy

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def view(
    url: str,
    *,
    kind: str = "news",
    age_days: float = 400.0,
    checked_days_ago: float | None = 1.0,
    attempt_days_ago: float | None = None,
    unchanged_days: float = 0.0,
    changed: tuple[float, ...] = (),
) -> PageView:
    def ago(days: float | None) -> datetime | None:
        return None if days is None else NOW - timedelta(days=days)

    return PageView(
        url=url,
        kind=kind,
        published=ago(age_days),
        first_seen=ago(age_days),
        last_checked=ago(checked_days_ago),
        last_attempt=ago(attempt_days_ago),
        unchanged_days=unchanged_days,
        changed_intervals=list(changed),
    )


@pytest.mark.parametrize(
    ("interval_s", "delay_s", "budget"),
    [
        (1800, 1.0, 900),  # every 30 min at 1 request/s: half the interval
        (1800, 2.0, 450),  # robots Crawl-delay 2 s
        (1800, 0.0, 900),  # a local mirror with delays off plans as if the real delay applied
        (3600, 10.0, 180),
        (60, 10.0, 10),  # never below a floor that lets a run read its listings' tops
    ],
)
def test_budget_is_half_the_interval_at_the_polite_rate(
    interval_s: float, delay_s: float, budget: int
) -> None:
    assert planner.derive_budget(interval_s, delay_s) == budget


@pytest.mark.parametrize(
    ("expression", "fixed", "seconds"),
    [
        ("*/30 * * * *", 0.0, 1800),
        ("0 * * * *", 0.0, 3600),
        ("15 6 * * *", 0.0, 86400),
        ("0,10 * * * *", 0.0, 600),  # irregular: the shortest gap decides
        ("*/30 * * * *", 120.0, 120),  # a fixed interval replaces the expression
    ],
)
def test_schedule_interval(expression: str, fixed: float, seconds: float) -> None:
    assert planner.cron_interval_s(expression, fixed) == seconds


def test_budget_keeps_a_reserve_and_never_exceeds_the_limit() -> None:
    budget = Budget(100, spent=2)
    assert budget.reserve == 3
    taken = sum(budget.take() for _ in range(200))
    assert taken == 95 and budget.spent == 97
    assert budget.take(reserve=True) and budget.take(2, reserve=True)
    assert not budget.take(reserve=True) and budget.spent == 100
    unlimited = Budget(None)
    assert all(unlimited.take() for _ in range(10_000))


@pytest.mark.parametrize(
    ("known", "listing_pages", "queued", "budget", "small"),
    [
        (60, 5, 0, 900, True),  # the bundled snapshot
        (0, None, 0, 900, False),  # a fresh install never assumes the site is small
        (20_000, 1_700, 0, 900, False),  # the real site
        (880, 5, 0, 900, False),  # close to the budget: planned
        (60, 5, 900, 900, False),  # a long queue left by a killed run: planned
    ],
)
def test_small_sites_are_crawled_whole(
    known: int, listing_pages: int | None, queued: int, budget: int, small: bool
) -> None:
    assert (
        planner.small_site(
            known_pages=known, listing_pages=listing_pages, queued=queued, budget=budget
        )
        is small
    )


H = planner.teaser_hash
A, B = H("A", "2026-01-01", ["Campus"]), H("A (edited)", "2026-01-01", ["Campus"])


@pytest.mark.parametrize(
    ("memory", "fetch", "frontier"),
    [
        ({}, ["u"], False),  # never seen: new
        ({"u": {"status": "live", "teaser_hash": A}}, [], True),  # known and unchanged
        ({"u": {"status": "live", "teaser_hash": B}}, ["u"], False),  # the teaser changed
        ({"u": {"status": "live", "teaser_hash": None}}, [], True),  # stored before the planner
        ({"u": {"status": None, "queued_tier": 0}}, [], True),  # already queued from a teaser
        ({"u": {"status": None, "queued_tier": 2}}, ["u"], False),  # only the sitemap knew it
        ({"u": {"status": "removed", "teaser_hash": A}}, [], True),  # gone, teaser unchanged
    ],
)
def test_teasers_and_the_known_frontier(memory: dict, fetch: list[str], frontier: bool) -> None:
    verdict = planner.judge_teasers([("u", A)], memory)
    assert verdict.fetch == fetch
    assert verdict.at_frontier is frontier


def test_an_empty_listing_page_is_no_frontier() -> None:
    assert not planner.judge_teasers([], {}).at_frontier


def test_teaser_hash_ignores_category_order() -> None:
    assert H("t", "p", ["a", "b"]) == H("t", "p", ["b", "a"]) != H("t", "p", ["a"])


def test_listing_cursor_walks_the_pager_and_wraps() -> None:
    cursor = ListingCursor.load(None)
    assert cursor.backfilling and cursor.next == 0
    for page in range(3):
        cursor.read(page, has_next=True)
    assert cursor.next == 3 and cursor.backfilling
    cursor.read(1, has_next=True)  # the next run's scan from the top: the cursor stays
    assert cursor.next == 3
    cursor.read(3, has_next=False)  # the end of the pager: one full pass
    assert (cursor.next, cursor.pages, cursor.passes) == (1, 4, 1)
    assert not cursor.backfilling
    assert ListingCursor.load(cursor.dump()) == cursor


@pytest.mark.parametrize(
    ("pages", "max_days", "runs_per_day", "quota"),
    [
        (1667, 6.0, 48.0, 6),  # the real site's listings in six days of half-hourly runs
        (15, 6.0, 48.0, 1),
        (None, 6.0, 48.0, 1),
        (100, 1.0, 24.0, 5),
    ],
)
def test_sweep_quota_finishes_a_pass_within_the_max_interval(
    pages: int | None, max_days: float, runs_per_day: float, quota: int
) -> None:
    assert planner.sweep_quota(pages, max_days, runs_per_day) == quota


@pytest.mark.parametrize(
    ("unchanged", "changed", "prior", "low", "high"),
    [
        (0.0, (), 1.0, 0.99, 1.01),  # no history: the prior
        (300.0, (), 1.0, 0.0, 0.02),  # checked often over 300 days, never changed: rarely
        (10.0, (1.0,) * 10, 0.01, 0.3, 3.0),  # changed at every daily check: often
        (0.0, (0.1,) * 16, 0.01, 3.0, 20.0),  # changed at every 2.4 h check: very often
    ],
)
def test_change_rate_learns_from_the_page_s_own_checks(
    unchanged: float, changed: tuple[float, ...], prior: float, low: float, high: float
) -> None:
    assert low <= planner.change_rate(unchanged, changed, prior) <= high


def test_change_rate_corrects_for_changes_hidden_in_long_intervals() -> None:
    """Cho & Garcia-Molina: a change seen after a long interval may hide several, so the
    estimate is above the naive count / time."""
    intervals = (2.0,) * 8
    unchanged = 2.0 * 2
    naive = len(intervals) / (sum(intervals) + unchanged)
    assert planner.change_rate(unchanged, intervals, naive) > naive * 1.5


def test_young_stories_are_more_likely_to_have_changed() -> None:
    young = view("young", age_days=1, checked_days_ago=0.2)
    old = view("old", age_days=900, checked_days_ago=0.2)
    assert planner.change_probability(young, NOW) > 10 * planner.change_probability(old, NOW)
    assert planner.age_prior(0) > planner.age_prior(30) > planner.age_prior(365)


def test_importance_partnerships_then_recent_news_then_the_archive() -> None:
    part = view("p", kind="partnership", age_days=900)
    recent, archive = view("r", age_days=3), view("a", age_days=900)
    assert planner.importance(part, NOW) > planner.importance(recent, NOW)
    assert planner.importance(recent, NOW) > planner.importance(archive, NOW)


def select(pages: list[PageView], policy: RevisitPolicy, budget: int = 10) -> list[str]:
    return planner.select_revisits(
        pages, now=NOW, budget=budget, policy=policy, max_days=6.0, min_value=0.1
    )


def test_adaptive_spends_only_what_is_worth_spending() -> None:
    pages = [view(f"old{i}", age_days=900, checked_days_ago=0.5) for i in range(50)]
    assert select(pages, RevisitPolicy.ADAPTIVE, budget=40) == []
    assert len(select(pages, RevisitPolicy.ROUND_ROBIN, budget=40)) == 40


def test_adaptive_overdue_pages_first_oldest_check_first() -> None:
    pages = [
        view("fresh", age_days=900, checked_days_ago=1),
        view("overdue", age_days=900, checked_days_ago=7),
        view("very-overdue", age_days=900, checked_days_ago=30),
        view("never-checked", age_days=900, checked_days_ago=None),
        view("young", age_days=0.5, checked_days_ago=0.3),
    ]
    assert select(pages, RevisitPolicy.ADAPTIVE) == [
        "never-checked",
        "very-overdue",
        "overdue",
        "young",
    ]
    assert select(pages, RevisitPolicy.ADAPTIVE, budget=2) == ["never-checked", "very-overdue"]


def test_an_error_is_an_attempt_so_a_failing_page_does_not_take_every_run() -> None:
    failing = view("failing", checked_days_ago=20, attempt_days_ago=0.1)
    assert select([failing], RevisitPolicy.ADAPTIVE) == []
    assert select([failing], RevisitPolicy.ROUND_ROBIN) == ["failing"]


def test_adaptive_prefers_likely_changes_weighted_by_importance() -> None:
    pages = [
        view("often-changes", age_days=400, checked_days_ago=1, changed=(1.0,) * 8),
        view("never-changes", age_days=400, checked_days_ago=1, unchanged_days=200),
        view("partner", kind="partnership", age_days=400, checked_days_ago=4),
        view("archive", age_days=400, checked_days_ago=4),
        view("young", age_days=2, checked_days_ago=0.25),
    ]
    chosen = select(pages, RevisitPolicy.ADAPTIVE)
    assert "never-changes" not in chosen
    assert chosen[0] == "often-changes"
    assert set(chosen) == {"often-changes", "partner", "young"}


def test_round_robin_takes_the_least_recently_checked() -> None:
    pages = [view(f"p{d}", checked_days_ago=d) for d in (1, 5, 3, 2, 4)]
    assert select(pages, RevisitPolicy.ROUND_ROBIN, budget=3) == ["p5", "p4", "p3"]


def test_all_takes_everything_whatever_the_budget() -> None:
    pages = [view(f"p{d}") for d in range(30)]
    assert len(select(pages, RevisitPolicy.ALL, budget=0)) == 30


def test_a_page_never_checked_has_surely_changed() -> None:
    page = view("x", checked_days_ago=None)
    page.first_seen = None
    assert planner.change_probability(page, NOW) == 1.0
    assert math.isinf(page.since_check_days(NOW))


def test_recent_news_has_a_shorter_max_interval() -> None:
    pages = [
        view("recent", age_days=20, checked_days_ago=0.26),  # overdue after 6 h
        view("archive", age_days=400, checked_days_ago=0.26),
    ]
    assert select(pages, RevisitPolicy.ADAPTIVE) == []  # not likely enough to have changed
    chosen = planner.select_revisits(
        pages,
        now=NOW,
        budget=10,
        policy=RevisitPolicy.ADAPTIVE,
        max_days=6.0,
        min_value=0.1,
        recent_max_days=0.25,
    )
    assert chosen == ["recent"]
    # Most overdue first, relative to each page's own limit.
    late = [
        view("recent-late", age_days=20, checked_days_ago=0.5),
        view("old-late", checked_days_ago=7),
    ]
    assert planner.select_revisits(
        late, now=NOW, budget=1, policy=RevisitPolicy.ADAPTIVE, max_days=6.0, min_value=0.1,
        recent_max_days=0.25,
    ) == ["recent-late"]  # fmt: skip


def test_a_steady_share_of_the_pages_due_soonest_spreads_a_burst() -> None:
    """288 pages all checked 3 days ago (a backfill): none overdue, none likely changed, but
    each run takes its share (288 / (6 days x 48 runs) = 1), the longest unchecked first, so
    they do not all fall due in the same run three days later."""
    pages = [view(f"p{i:03d}", checked_days_ago=3 + i / 1000) for i in range(288)]
    chosen = planner.select_revisits(
        pages, now=NOW, budget=50, policy=RevisitPolicy.ADAPTIVE, max_days=6.0,
        min_value=0.1, runs_per_day=48,
    )  # fmt: skip
    assert chosen == ["p287"]
    assert select(pages, RevisitPolicy.ADAPTIVE) == []  # without it: nothing until all are due


def fill(pages: list[PageView], *, budget: int, run_limit: int, share: float) -> list[str]:
    return planner.select_revisits(
        pages, now=NOW, budget=budget, policy=RevisitPolicy.ADAPTIVE, max_days=6.0,
        min_value=0.1, run_limit=run_limit, fill_share=share,
    )  # fmt: skip


def test_the_fill_takes_the_longest_unverified_weighted_by_importance() -> None:
    """None of these is overdue or likely changed; the fill orders them by importance x
    days since asked: the partner page 3 x 3, the archive page 5, a 2-day-old check, and a
    page with a failed attempt just now last."""
    pages = [
        view("archive-2d", checked_days_ago=2),
        view("archive-5d", checked_days_ago=5),
        view("partner-3d", kind="partnership", checked_days_ago=3),
        view("failing", checked_days_ago=5.5, attempt_days_ago=0.01),
    ]
    assert select(pages, RevisitPolicy.ADAPTIVE) == []  # without a fill: nothing
    chosen = fill(pages, budget=100, run_limit=100, share=0.04)
    assert chosen == ["partner-3d", "archive-5d", "archive-2d", "failing"]


@pytest.mark.parametrize(
    ("budget", "run_limit", "share", "expected"),
    [
        (100, 100, 0.1, 10),  # the share of the run's budget
        (100, 100, 0.0, 0),  # no fill
        (6, 100, 0.5, 6),  # never more than the budget left
        (100, 100, 1.0, 40),  # never more than there are pages
        (100, 39, 0.5, 19),  # the share of the whole budget, rounded down
    ],
)
def test_the_fill_stays_within_the_share_and_the_budget(
    budget: int, run_limit: int, share: float, expected: int
) -> None:
    pages = [view(f"p{i:02d}", checked_days_ago=1 + i / 10) for i in range(40)]
    chosen = fill(pages, budget=budget, run_limit=run_limit, share=share)
    assert len(chosen) == len(set(chosen)) == expected


@pytest.mark.parametrize(("budget", "share"), [(3, 0.5), (100, 0.02), (100, 0.5)])
def test_overdue_pages_still_come_first_and_are_not_cut_by_the_share(
    budget: int, share: float
) -> None:
    overdue = [view(f"overdue{i}", checked_days_ago=7 + i) for i in range(3)]
    fresh = [view(f"fresh{i:02d}", checked_days_ago=1 + i / 10) for i in range(30)]
    chosen = fill(fresh + overdue, budget=budget, run_limit=100, share=share)
    assert chosen[:3] == ["overdue2", "overdue1", "overdue0"]
    assert len(chosen) == min(budget, max(3, int(share * 100)), 33)


def test_round_robin_and_all_ignore_the_fill() -> None:
    pages = [view(f"p{d}", checked_days_ago=d) for d in (1, 5, 3, 2, 4)]
    for policy, expected in ((RevisitPolicy.ROUND_ROBIN, ["p5", "p4"]), (RevisitPolicy.ALL, None)):
        chosen = planner.select_revisits(
            pages, now=NOW, budget=2, policy=policy, max_days=6.0, min_value=0.1,
            run_limit=100, fill_share=1.0,
        )  # fmt: skip
        assert chosen == (expected or [p.url for p in pages])


def test_the_fill_does_not_favour_recent_news_for_its_short_limit() -> None:
    """A 20-day-old story checked 4 h ago (not yet due at its 5 h limit) weighs 2 x 1/6 day,
    an archive page checked 2 days ago 2 days: the archive page's silent edits come first."""
    pages = [
        view("recent-4h", age_days=20, checked_days_ago=4 / 24),
        view("archive-2d", checked_days_ago=2),
    ]
    chosen = planner.select_revisits(
        pages, now=NOW, budget=10, policy=RevisitPolicy.ADAPTIVE, max_days=6.0,
        min_value=0.5, recent_max_days=5 / 24, run_limit=100, fill_share=0.01,
    )  # fmt: skip
    assert chosen == ["archive-2d"]
