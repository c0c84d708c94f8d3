"""Build every feed from the archive (docs/DESIGN.md §6) and write only what changed.

Called by `aaltowatch feeds`, `run --once` and `demo`. Output is a pure function of the
archive: rebuilding without new data leaves every file, its mtime and its ETag untouched.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aaltowatch.core.errors import one_line
from aaltowatch.core.text import parse_utc
from aaltowatch.core.urls import HUB_PATHS, LISTING_PATHS, PUBLIC_ORIGIN
from feeds.atomic import write_if_changed
from feeds.dashboard import dashboard_charts, render_dashboard
from feeds.entries import (
    EPOCH,
    Entry,
    FeedSpec,
    alert_entry,
    change_entry,
    page_entry,
    partner_entry,
)
from feeds.index import render_index
from feeds.opml import render_opml
from feeds.render import render
from feeds.sanitize import clean_text
from feeds.watches import watch_specs
from storage import Archive
from storage.partners import partner_changes

if TYPE_CHECKING:
    from aaltowatch.core.watchconfig import Watch

LANGUAGE_NAMES = {"en": "English", "fi": "Finnish", "sv": "Swedish"}
NEWS = {lang: (LANGUAGE_NAMES[lang], path) for lang, path in LISTING_PATHS.items()}
PARTNERSHIP_HUB = HUB_PATHS["en"]
INDEX_CHANGES = 20
INDEX_ALERTS = 10
HEALTH = "health"

log = logging.getLogger(__name__)


@dataclass
class FeedReport:
    """Which files a build wrote and which it left alone (bytes identical)."""

    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    # What could not be built or written ("news-en.xml", "dashboard.html#chart-x"): the error.
    failed: dict[str, str] = field(default_factory=dict)
    # What the index listed (the feeds written, the newest changes): build_health re-renders
    # the index from these with the alerts raised since, without reading page data again.
    listed: list[FeedSpec] = field(default_factory=list)
    changes: list[Entry] = field(default_factory=list)

    def write(self, path: Path, data: bytes) -> None:
        (self.written if write_if_changed(path, data) else self.unchanged).append(path)

    def attempt(self, name: str, make: Callable[[], object]) -> bool:
        """Run one part of the build; its failure costs that part, logged and recorded."""
        try:
            make()
        except Exception as exc:  # any one feed, page or chart; the rest is still written
            log.error("feeds: %s could not be written: %s", name, one_line(exc))
            self.failed[name] = one_line(exc)
            return False
        return True


def slugify(name: str) -> str:
    """ASCII file-name slug: "Research & Art" -> "research-and-art", "Yhteistyö" -> "yhteistyo"."""
    text = unicodedata.normalize("NFKD", name.replace("&", " and "))
    text = text.encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def _newest_first(entries: list[Entry], *, by_published: bool = False) -> list[Entry]:
    """Stable sort, so equal dates keep the archive's order (newest id first)."""

    def key(entry: Entry) -> datetime:
        return (entry.published or entry.updated) if by_published else entry.updated

    return sorted(entries, key=key, reverse=True)


def _category_specs(archive: Archive, max_entries: int, max_feeds: int) -> list[FeedSpec]:
    """One feed per category, for the `max_feeds` categories with most pages."""
    specs, used = [], set()
    for category in archive.categories(limit=max_feeds):
        label = clean_text(category)
        slug = slugify(label) or hashlib.sha1(category.encode()).hexdigest()[:10]
        unique, n = slug, 1
        while unique in used:
            n += 1
            unique = f"{slug}-{n}"
        used.add(unique)
        entries = [page_entry(r) for r in archive.category_entries(category, max_entries)]
        specs.append(
            FeedSpec(
                name=f"category-{unique}",
                title=f"Aalto University: {label}",
                description=f"Pages of www.aalto.fi in the category {label}, newest first.",
                link=PUBLIC_ORIGIN + LISTING_PATHS["en"],
                entries=_newest_first(entries, by_published=True),
            )
        )
    return specs


def feeds_url_for(out_dir: Path, feeds_base_url: str = "") -> str:
    """Absolute URL of the feeds directory, ending in "/": the configured one, else file://."""
    if feeds_base_url:
        return feeds_base_url.rstrip("/") + "/"
    return Path(out_dir).resolve().as_uri() + "/"


def _watched_since(archive: Archive) -> datetime:
    """The date of a feed with no entries: when the archive began watching. Not the last run:
    an empty feed would then change, and be rewritten and refetched, after every run."""
    return parse_utc(archive.first_run_started()) or EPOCH


def feed_specs(
    archive: Archive,
    max_entries: int = 50,
    max_categories: int = 200,
    feeds_url: str = "",
    watches: Sequence[Watch] = (),
) -> tuple[list[FeedSpec], list[Entry]]:
    """Every feed, plus the newest change entries (for the index page)."""
    specs = []
    for lang, (language, path) in NEWS.items():
        entries = [page_entry(r) for r in archive.news_entries(lang, max_entries)]
        specs.append(
            FeedSpec(
                name=f"news-{lang}",
                title=f"Aalto University news ({language})",
                description=f"News articles of www.aalto.fi in {language}, newest first.",
                link=PUBLIC_ORIGIN + path,
                language=lang,
                entries=_newest_first(entries, by_published=True),
            )
        )
    cache: dict[int, Entry] = {}

    def entry(row: dict) -> Entry:
        """A change's entry, rendered once for every feed that carries it."""
        if row["id"] not in cache:
            cache[row["id"]] = change_entry(archive, row)
        return cache[row["id"]]

    def changes(kind: str | None) -> list[Entry]:
        rows = archive.changes(kind=kind, limit=max_entries, include_duplicates=False)
        return _newest_first([entry(r) for r in rows])

    all_changes = changes(None)
    specs.append(
        FeedSpec(
            name="changes",
            title="www.aalto.fi: all changes",
            description="New, modified, removed, restored and moved news and partnership pages.",
            entries=all_changes,
        )
    )
    specs.append(
        FeedSpec(
            name="partnerships",
            title="www.aalto.fi: partnership page changes",
            description="Changes to the collaboration (partnership) pages of www.aalto.fi.",
            link=PUBLIC_ORIGIN + PARTNERSHIP_HUB,
            entries=changes("partnership"),
        )
    )
    specs.append(
        FeedSpec(
            name="partners",
            title="www.aalto.fi: partners",
            description="A partner appears, a partner's page changes or is removed"
            " (the cities, regions and organisations of the partnership pages).",
            link=PUBLIC_ORIGIN + PARTNERSHIP_HUB,
            entries=_newest_first(
                [partner_entry(entry(r), r) for r in partner_changes(archive, max_entries)]
            ),
        )
    )
    specs += _category_specs(archive, max_entries, max_categories)
    specs += watch_specs(archive, watches, max_entries, entry)
    specs.append(health_spec(archive, max_entries, feeds_url))
    empty_updated = _watched_since(archive)
    for spec in specs:
        spec.empty_updated = empty_updated
        spec.self_url = f"{feeds_url}{spec.name}.xml" if feeds_url else None
    return specs, all_changes


def health_spec(archive: Archive, max_entries: int = 50, feeds_url: str = "") -> FeedSpec:
    """The health feed, made from the alerts alone: no page data can keep it from being
    written (it is written before everything else, and again after the run's last step)."""
    alerts_page = f"{feeds_url}index.html#alerts" if feeds_url else None
    spec = FeedSpec(
        name=HEALTH,
        title="aaltowatch health alerts",
        description="Crawl problems, layout drift and suspicious versions, newest first.",
        entries=_newest_first(
            [alert_entry(a, alerts_page) for a in archive.alerts(limit=max_entries)]
        ),
    )
    spec.empty_updated = _watched_since(archive)
    spec.self_url = f"{feeds_url}{spec.name}.xml" if feeds_url else None
    return spec


def write_spec(report: FeedReport, out_dir: Path, spec: FeedSpec) -> None:
    """A feed's RSS and Atom files; recorded as failed together when either cannot be."""

    def both() -> None:
        rss, atom = render(spec)
        report.write(out_dir / f"{spec.name}.xml", rss)
        report.write(out_dir / f"{spec.name}.atom", atom)

    report.attempt(f"{spec.name}.xml", both)


def build_feeds(
    archive: Archive,
    out_dir: Path,
    *,
    max_entries: int = 50,
    max_categories: int = 200,
    feeds_base_url: str = "",
    watches: Sequence[Watch] = (),
) -> FeedReport:
    """Write every feed (RSS + Atom, one pair per watch too), feeds.opml, index.html and
    dashboard.html into `out_dir`.

    At most `max_categories` category feeds; a category feed whose category is gone (or fell
    out of that number) is deleted, so the directory lists exactly what feeds.opml does.
    `feeds_base_url` is where readers will fetch them (config `feeds_base_url`); empty means
    the directory itself, as file:// URLs that `serve` rewrites to its own address.

    Each feed, the OPML, the index and each chart is built on its own: one that fails is
    recorded in `report.failed` and costs only itself. The health feed comes first and from
    the alerts alone; when the full index cannot be built, a minimal one with the feeds that
    were written and the alerts takes its place.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    feeds_url = feeds_url_for(out_dir, feeds_base_url)
    report = FeedReport()
    health = health_spec(archive, max_entries, feeds_url)
    write_spec(report, out_dir, health)
    specs: list[FeedSpec] = [health]
    all_changes: list[Entry] = []

    def collect() -> None:
        nonlocal specs, all_changes
        specs, all_changes = feed_specs(archive, max_entries, max_categories, feeds_url, watches)

    complete = report.attempt("feeds", collect)
    for spec in specs:
        if spec.name != HEALTH:
            write_spec(report, out_dir, spec)
    report.listed = [s for s in specs if f"{s.name}.xml" not in report.failed]
    report.changes = all_changes[:INDEX_CHANGES]
    report.attempt(
        "feeds.opml", lambda: report.write(out_dir / "feeds.opml", render_opml(report.listed))
    )
    _write_index(report, out_dir, health)

    def dashboard() -> None:
        charts = dashboard_charts(archive)
        for chart in charts:
            if chart.error:
                report.failed[f"dashboard.html#chart-{chart.slug}"] = chart.error
        report.write(out_dir / "dashboard.html", render_dashboard(charts))

    report.attempt("dashboard.html", dashboard)
    if complete:  # without the full list, no category feed can be told to be stale
        names = {spec.name for spec in specs}
        for path in sorted(out_dir.glob("category-*")):
            if path.suffix in (".xml", ".atom") and path.stem not in names:
                path.unlink(missing_ok=True)
                report.removed.append(path)
    return report


def _write_index(report: FeedReport, out_dir: Path, health: FeedSpec) -> None:
    """index.html with the current alerts; if the full page fails, a minimal one (the health
    feed and the alerts only), so the operator still sees what went wrong."""
    alerts = health.entries[:INDEX_ALERTS]
    listed = [health if s.name == HEALTH else s for s in report.listed] or [health]
    index = out_dir / "index.html"
    if not report.attempt(
        "index.html", lambda: report.write(index, render_index(listed, report.changes, alerts))
    ):
        report.attempt(
            "index.html (minimal)", lambda: report.write(index, render_index([health], [], alerts))
        )


def build_health(
    archive: Archive,
    out_dir: Path,
    previous: FeedReport | None = None,
    *,
    max_entries: int = 50,
    feeds_base_url: str = "",
) -> FeedReport:
    """health.xml, health.atom and, given this run's build (`previous`), the index with the
    current alerts and what that build listed (none: the minimal index), from the alerts
    alone: the path no page data goes through."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = FeedReport()
    if previous is not None:
        report.listed, report.changes = previous.listed, previous.changes
    health = health_spec(archive, max_entries, feeds_url_for(out_dir, feeds_base_url))
    write_spec(report, out_dir, health)
    if previous is not None:
        _write_index(report, out_dir, health)
    return report
