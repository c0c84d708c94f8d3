"""What one observation does to the archive: decided by `pipeline.history`, applied by
`storage.history` in one transaction.

Plain frozen values, so the history rules can be tested without a database and storage can
apply them without knowing any rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aaltowatch.core.health import Alert
from aaltowatch.core.items import CheckOutcome


@dataclass(frozen=True)
class Outcome:
    """What one observation did to the archive, for run counters and health checks."""

    url: str
    change: str | None = None  # new | modified | moved | restored | removed | duplicate | None
    fields: list[str] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)
    skipped: str | None = None  # why nothing was stored (soft_404)
    # Stored pages to ask again in this run: the live twins of a new page. A page moved on the
    # site is often found at its new URL first; its old URL's 301 makes the two one `moved`.
    ask: tuple[str, ...] = ()


@dataclass(frozen=True)
class Check:
    """A row of the `checks` table; without `page_id` it is the page stored under `url`."""

    url: str
    outcome: CheckOutcome
    http_status: int | None = None
    page_id: int | None = None


@dataclass(frozen=True)
class PageUpdate:
    """New values for another page than the observed one (a move's source, a duplicate)."""

    page_id: int
    values: dict[str, Any]


@dataclass(frozen=True)
class Repoint:
    """Duplicates of a moved page's old URL now point at its new URL."""

    old_url: str
    new_url: str


@dataclass(frozen=True)
class Retag:
    """A page reported `new` in this run turned out to duplicate a page that sorts first."""

    page_id: int
    run_id: int | None


@dataclass(frozen=True)
class Discard:
    """A 301 target stored earlier in this run: its checks go to `into`, the page goes."""

    page_id: int
    into: int


@dataclass(frozen=True)
class Decision:
    """Everything one observation writes. Rows whose `page_id` is None (the version, changes)
    belong to the observed page: `page_id`, or the page `insert` creates."""

    outcome: Outcome
    run_id: int | None = None
    at: str | None = None  # when the observation was made: the checks' time
    fetch: dict[str, Any] | None = None  # the HTTP record (validators, raw bytes)
    discard: Discard | None = None
    page_id: int | None = None
    insert: dict[str, Any] | None = None  # a new page's row
    links: tuple[PageUpdate | Repoint | Retag, ...] = ()  # other pages, in order
    version: dict[str, Any] | None = None  # the version row to add
    page: dict[str, Any] = field(default_factory=dict)  # the observed page's new values
    changes: tuple[dict[str, Any], ...] = ()  # change events, in order
    alerts: tuple[Alert, ...] = ()
    lastmod: tuple[str, str] | None = None  # (url, the sitemap's lastmod)
    checks: tuple[Check, ...] = ()  # in order: a check updates its page's check summary
