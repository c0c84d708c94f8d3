"""A run's figures, declared once in `FIGURES`: the `runs` row, `status` (its table and
`--json`), the Prometheus metrics, the crawl table and the demo's table take their lists from it.

A figure is read from the run's `RunStats` (Scrapy's stats, read once) or its alerts. A new
figure is one `Figure` here (and, if it is stored, a column of `runs`: a migration); every
output then shows it (tests/test_figures.py checks each one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aaltowatch.core.enums import RunStatus
from aaltowatch.core.health import Alert
from aaltowatch.core.runstats import RunStats


@dataclass
class RunSummary:
    """One spider's run as the application reports it: its figures and its alerts."""

    spider: str
    run_id: int | None  # None: the crawl stopped before its run was started
    run: RunStats = field(default_factory=RunStats)
    alerts: list[Alert] = field(default_factory=list)

    @property
    def finish_reason(self) -> str:
        return self.run.finish_reason

    @property
    def healthy(self) -> bool:
        return not self.alerts

    @property
    def interrupted(self) -> bool:
        """Stopped by SIGTERM/SIGINT: what was stored is consistent, but the crawl is partial."""
        return self.run.stopped

    @property
    def status(self) -> RunStatus:
        if self.interrupted:
            return RunStatus.INTERRUPTED
        return RunStatus.OK if self.healthy else RunStatus.UNHEALTHY


@dataclass(frozen=True)
class Figure:
    """A figure of a run. `name` is its metric (`aaltowatch_run_<name>`, a gauge: the last
    run's value per spider); `column` its column in `runs` and its key in `status --json`
    (None: not a column; `status` has only the `alerts` so, from their own table); `header`
    its short column header in the tables (one word); `keep`: at a narrow width the status
    table leaves out the lowest first, among its other columns (aaltowatch.status.RUN_COLUMNS);
    0 never goes."""

    name: str
    header: str
    help: str
    value: Callable[[RunSummary], int]
    column: str | None = None
    keep: int = 0

    @property
    def key(self) -> str:
        """Its key in a `status --json` run (and in a runs row, when it is a column)."""
        return self.column or self.name


# In the order of the `runs` columns (and so of `status --json`); the tables show them so too.
FIGURES = (
    Figure("requests", "req", "HTTP requests made by the last run",
           lambda s: s.run.requests, column="requests", keep=4),
    Figure("pages", "pages", "Pages fetched and parsed by the last run",
           lambda s: s.run.pages, column="pages_fetched", keep=9),
    Figure("not_modified", "304", "Responses answered 304 in the last run",
           lambda s: s.run.not_modified, column="not_modified", keep=5),
    Figure("skipped", "skip", "Pages left unfetched by their sitemap lastmod in the last run",
           lambda s: s.run.skipped, column="skipped", keep=2),
    Figure("errors", "err", "Failed requests and extractions in the last run",
           lambda s: s.run.errors, column="errors"),
    # Duplicates are new pages too (a page whose content another page already has).
    Figure("new", "new", "New pages found by the last run",
           lambda s: s.run.stored_new, column="new"),
    Figure("modified", "mod", "Modified pages found by the last run",
           lambda s: s.run.modified, column="modified"),
    Figure("removed", "rm", "Pages removed (404/410) in the last run",
           lambda s: s.run.removed, column="removed"),
    Figure("moved", "moved", "Pages moved (301/308 to another page) in the last run",
           lambda s: s.run.moved, column="moved", keep=3),
    Figure("restored", "back", "Removed pages that came back in the last run",
           lambda s: s.run.restored, column="restored", keep=1),
    # Stored as rows of `alerts`; `status --json` lists them under this key.
    Figure("alerts", "alerts", "Health alerts raised by the last run", lambda s: len(s.alerts)),
)  # fmt: skip
COLUMNS = tuple(f.column for f in FIGURES if f.column)


def stored(summary: RunSummary) -> dict[str, int]:
    """The figures of a run that are columns of its `runs` row, by column."""
    return {f.column: f.value(summary) for f in FIGURES if f.column}


def cells(summary: RunSummary) -> list[str]:
    """A run's figures as table cells, in the order of `FIGURES`."""
    return [str(f.value(summary)) for f in FIGURES]


def figures_table(
    title: str, lead: tuple[str, ...], rows: list[tuple[list[str], RunSummary]]
) -> Any:
    """A rich table of runs (the crawl's, the demo's): each row's `lead` cells, then its
    figures. Compact like the status table, so it fits 80 columns."""
    from rich import box
    from rich.table import Table

    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1, 0, 0),
        show_edge=False,
    )
    for header in lead:
        table.add_column(header, no_wrap=True)
    for figure in FIGURES:
        table.add_column(figure.header, justify="right", no_wrap=True)
    for lead_cells, summary in rows:
        table.add_row(*lead_cells, *cells(summary))
    return table
