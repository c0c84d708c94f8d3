"""dashboard.html: the archive as charts, static and offline (inline SVG, no script, no CDN).

matplotlib draws each chart with its SVG backend: text stays text (`svg.fonttype = none`),
ids are salted with a constant and no date is written, so the page is a pure function of the
archive and an unchanged archive rebuilds it byte for byte. Labels are text, never markup:
mathtext is off (`text.parse_math`), so a category "Costs $5 and $10" is drawn as written.
Each chart is drawn on its own: one that fails is a visible "chart unavailable" panel (and an
error in the build's report), never a missing dashboard; the x axis is padded within the
calendar, so a date in year 1 or 9999 is drawn, not an OverflowError.

Why not render the Datasette dashboards' Vega-Lite specs with vl-convert (one definition)? It
was measured: deterministic, no script, faster and smaller than matplotlib's stack, but its V8
aborts the whole process (SIGTRAP, not an exception) under any address-space limit
(`prlimit --as`/`ulimit -v`, even 12 GiB), which the hostile suite and some cron setups use:
a chart could then take every later step down with it. Every data mark (a bar, a point)
carries an id `<chart>-mark-<n>`, so a test (or a curious reader) can count them. A chart with
no data is a "no data yet" panel, never an empty frame. The page's headings title the charts
(the SVGs carry them as aria-label).
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape
from typing import TYPE_CHECKING, Any

from aaltowatch.core.errors import one_line
from storage import Archive
from storage.dashboard import WEEK_HISTORY

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

RC: dict[RcKeyType, Any] = {
    "text.parse_math": False,
    "svg.fonttype": "none",
    "svg.hashsalt": "aaltowatch",
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "y",
    "grid.color": "#dddddd",
}
SIZE = (9.0, 3.4)
MAX_SERIES = 8  # more categories/partners than this are summed as "other"
log = logging.getLogger(__name__)
_SVG_ROOT = re.compile(r'<svg [^>]*?width="[^"]*" height="[^"]*"')


@dataclass(frozen=True)
class Chart:
    slug: str
    title: str
    note: str
    svg: str | None  # None: no data yet
    error: str = ""  # the chart could not be drawn: a placeholder panel instead


def _month(text: str) -> date:
    return date(int(text[:4]), int(text[5:7]), 15)


def _day(text: str) -> date:
    return date.fromisoformat(text[:10])


def _padded(dates: Sequence[date], days: float) -> tuple[date, date]:
    """The x range with room for the bars, kept inside the calendar (year 1 and 9999 exist)."""
    pad = timedelta(days=days)
    low, high = min(dates), max(dates)
    low = low - pad if low - date.min > pad else date.min
    high = high + pad if date.max - high > pad else date.max
    return low, high


def _series(rows: Sequence[dict[str, Any]], x: str, key: str) -> tuple[list, dict[str, list]]:
    """(x values, {series: counts}); the biggest MAX_SERIES series kept, the rest as other."""
    xs = sorted({r[x] for r in rows})
    totals: dict[str, int] = {}
    for r in rows:
        totals[str(r[key])] = totals.get(str(r[key]), 0) + r["count"]
    keep = sorted(totals, key=lambda k: (-totals[k], k))[:MAX_SERIES]
    index = {v: i for i, v in enumerate(xs)}
    series: dict[str, list[int]] = {k: [0] * len(xs) for k in sorted(keep)}
    for r in rows:
        name = str(r[key]) if str(r[key]) in keep else "other"
        series.setdefault(name, [0] * len(xs))[index[r[x]]] += r["count"]
    return xs, series


def _svg(fig: Any, slug: str, title: str) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    return _SVG_ROOT.sub(
        lambda m: (
            m.group(0).split(" width=")[0]
            + f' width="100%" role="img" aria-label="{escape(title)}" class="chart-svg"'
            f' data-chart="{slug}"'
        ),
        text,
        count=1,
    )


def _figure(rows: int = 1) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(SIZE[0], SIZE[1] * rows), dpi=100, layout="constrained")
    return fig, fig.subplots(rows, 1, sharex=True) if rows > 1 else fig.add_subplot()


def _stacked(
    slug: str,
    title: str,
    rows: Sequence[dict[str, Any]],
    x: str,
    key: str,
    to_date: Callable[[str], date],
    width_days: float,
    ylabel: str,
) -> str | None:
    if not rows:
        return None
    from matplotlib import rc_context

    xs, series = _series(rows, x, key)
    dates = [to_date(v) for v in xs]
    marks = 0
    with rc_context(RC):
        fig, ax = _figure()
        bottom = [0] * len(xs)
        for name, counts in series.items():
            pick = [i for i, c in enumerate(counts) if c]
            bars = ax.bar(
                [dates[i] for i in pick],
                [counts[i] for i in pick],
                width=width_days,
                bottom=[bottom[i] for i in pick],
                label=name,
            )
            for bar in bars:
                bar.set_gid(f"{slug}-mark-{marks}")
                marks += 1
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
        ax.set_xlim(*_padded(dates, width_days * 2))
        ax.set_ylabel(ylabel)
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=8, ncols=min(4, len(series)), loc="upper left", frameon=False)
        ax.set_ylim(0, max(bottom) * 1.35 + 0.5)
        fig.autofmt_xdate()
        return _svg(fig, slug, title)


def _crawl_health(slug: str, title: str, runs: Sequence[dict[str, Any]]) -> str | None:
    if not runs:
        return None
    from matplotlib import rc_context

    labels = [f"#{r['id']} {r['spider']}" for r in runs]
    xs = list(range(len(runs)))
    marks = 0

    def tag(bars: Any) -> None:
        nonlocal marks
        for bar in bars:
            bar.set_gid(f"{slug}-mark-{marks}")
            marks += 1

    with rc_context(RC):
        fig, (top, bottom) = _figure(rows=2)
        cached = [r["not_modified"] for r in runs]
        other = [max(r["requests"] - r["not_modified"], 0) for r in runs]
        tag(top.bar(xs, other, label="requests (200 and others)", color="#4c72b0"))
        tag(top.bar(xs, cached, bottom=other, label="answered 304", color="#9ecae1"))
        top.set_ylabel("requests")
        share = top.twinx()
        shares = [
            100 * c / r["requests"] if r["requests"] else 0
            for c, r in zip(cached, runs, strict=True)
        ]
        share.plot(xs, shares, color="#dd8452", marker="o", label="304 share (%)",
                   gid=f"{slug}-mark-{marks}")  # fmt: skip
        marks += 1
        share.set_ylim(0, 105)
        share.set_ylabel("304 share (%)")
        share.grid(False)
        handles = top.get_legend_handles_labels()
        extra = share.get_legend_handles_labels()
        top.legend(handles[0] + extra[0], handles[1] + extra[1], fontsize=8, loc="upper left",
                   ncols=3, frameon=False)  # fmt: skip
        top.set_ylim(0, max(r["requests"] for r in runs) * 1.35 + 1)
        width = 0.4
        tag(bottom.bar([x - width / 2 for x in xs], [r["errors"] for r in runs], width,
                       label="errors", color="#c44e52"))  # fmt: skip
        tag(bottom.bar([x + width / 2 for x in xs], [r["alerts"] for r in runs], width,
                       label="alerts", color="#8172b3"))  # fmt: skip
        if not any(r["errors"] or r["alerts"] for r in runs):
            bottom.text(0.5, 0.5, "no errors and no alerts in these runs", ha="center",
                        va="center", transform=bottom.transAxes, color="#555555")  # fmt: skip
        bottom.set_ylabel("errors / alerts")
        bottom.yaxis.get_major_locator().set_params(integer=True)
        bottom.set_ylim(0, max(max(r["errors"], r["alerts"]) for r in runs) * 1.35 + 1)
        bottom.legend(fontsize=8, loc="upper left", ncols=2, frameon=False)
        bottom.set_xticks(xs, labels, rotation=45, ha="right", fontsize=8)
        bottom.set_xlabel("run")
        return _svg(fig, slug, title)


# The dashboard's charts, in page order: (slug, title, note, query name, draw).
CHARTS: tuple[tuple[str, str, str, str, Callable[..., str | None]], ...] = (
    ("news-by-language", "News per month by language",
     "Live news items by publication month.", "news_by_month_lang",
     lambda s, t, rows: _stacked(s, t, rows, "month", "lang", _month, 25, "news items")),
    ("news-by-category", "News per month by category",
     "Live news items by publication month and category (from the listings).",
     "news_by_month_category",
     lambda s, t, rows: _stacked(s, t, rows, "month", "category", _month, 25, "news items")),
    ("changes-by-week", "Changes per week by kind",
     f"Change events detected per week (Monday), by kind of change: the last {WEEK_HISTORY}"
     " weeks.", "changes_by_week",
     lambda s, t, rows: _stacked(s, t, rows, "week", "change", _day, 5, "changes")),
    ("partner-mentions", "Partner mentions over time",
     "Live news items mentioning each partner, by publication month (see `aaltowatch partners`).",
     "partner_mentions",
     lambda s, t, rows: _stacked(s, t, rows, "month", "partner", _month, 25, "news items")),
    ("crawl-health", "Crawl health per run",
     "Requests and the share answered 304 (unchanged), errors and health alerts per run.",
     "run_health", _crawl_health),
)  # fmt: skip


def dashboard_charts(archive: Archive) -> list[Chart]:
    """Every chart, each contained: a failing one is logged and becomes a placeholder."""
    charts = []
    for slug, title, note, query, draw in CHARTS:
        try:
            charts.append(Chart(slug, title, note, draw(slug, title, archive.charts.rows(query))))
        except Exception as exc:  # this chart's data or drawing; the others still show
            log.error("dashboard: chart %s could not be drawn: %s", slug, one_line(exc))
            charts.append(Chart(slug, title, note, None, error=one_line(exc)))
    return charts


STYLE = """
body { font: 16px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 64rem; padding: 1rem;
       color: #1a1a1a; background: #fff; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin: 0 0 .3rem; }
section.chart { border: 1px solid #ddd; border-radius: 6px; padding: .8rem 1rem; margin: 1rem 0; }
.note { color: #555; font-size: .9rem; margin: 0 0 .5rem; }
.empty { padding: 2rem; text-align: center; color: #555; background: #f6f6f6;
         border-radius: 4px; }
.unavailable { color: #8a1c1c; background: #fbeaea; }
svg.chart-svg { height: auto; display: block; }
"""


def render_dashboard(charts: Sequence[Chart]) -> bytes:
    """The page: one section per chart, inline SVG or a "no data yet" panel."""
    sections = []
    for chart in charts:
        if chart.error:
            body = (
                '<p class="empty unavailable" data-unavailable="true">Chart unavailable: it'
                " could not be drawn from the archive; see the health alerts.</p>"
            )
        else:
            body = chart.svg or (
                '<p class="empty" data-empty="true">No data yet: this chart fills in after the'
                " first crawls.</p>"
            )
        sections.append(
            f'<section class="chart" id="chart-{escape(chart.slug)}">\n'
            f'<h2>{escape(chart.title)}</h2>\n<p class="note">{escape(chart.note)}</p>\n'
            f"{body}\n</section>"
        )
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>aaltowatch dashboard</title>
<style>{STYLE}</style>
</head>
<body>
<main>
<h1>aaltowatch dashboard</h1>
<p>News, changes, partners and crawl health of the archive. Back to the
<a href="index.html">feeds and latest changes</a>.</p>
{chr(10).join(sections)}
</main>
</body>
</html>
"""
    return page.encode("utf-8")
