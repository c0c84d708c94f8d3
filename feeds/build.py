"""Build every feed from the archive (docs/DESIGN.md §6) and write only what changed.

Called by `aaltowatch feeds`, `run --once` and `demo`. Output is a pure function of the
archive: rebuilding without new data leaves every file, its mtime and its ETag untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aaltowatch.core.errors import one_line
from aaltowatch.core.urls import HUB_PATHS, LISTING_PATHS, PUBLIC_ORIGIN, SECTIONS, Section
from feeds.atomic import write_if_changed
from feeds.dashboard import dashboard_charts, render_dashboard
from feeds.entries import (
    Entry,
    FeedSpec,
    alert_entry,
    change_entry,
    page_entry,
    partner_entry,
    watched_since,
)
from feeds.htmldiff import DiffMemo
from feeds.index import render_index
from feeds.names import names_for
from feeds.opml import render_opml
from feeds.render import render
from feeds.sanitize import clean_text
from feeds.watches import watch_specs
from storage import Archive

if TYPE_CHECKING:
    from aaltowatch.core.watchconfig import Watch

LANGUAGE_NAMES = {"en": "English", "fi": "Finnish", "sv": "Swedish"}
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


def _newest_first(entries: list[Entry], *, by_published: bool = False) -> list[Entry]:
    """Stable sort, so equal dates keep the archive's order (newest id first)."""

    def key(entry: Entry) -> datetime:
        return (entry.published or entry.updated) if by_published else entry.updated

    return sorted(entries, key=key, reverse=True)


def _languages(rows: Sequence[dict]) -> tuple[str, ...]:
    """The languages of a category's pages: each language site of aalto.fi has its own category
    names (Campus, Kampus), so a category feed is in one language in practice, and its title and
    feeds.opml folder say which; a label two sites share names both."""
    present = {row.get("lang") for row in rows}
    return tuple(lang for lang in LANGUAGE_NAMES if lang in present)


def _category_specs(archive: Archive, max_entries: int, max_feeds: int) -> list[FeedSpec]:
    """One feed per category, for the `max_feeds` categories with most pages; each under the
    file name its category was first given (feeds.names)."""
    specs = []
    categories = archive.queries.categories(limit=max_feeds)
    names = names_for(archive, "category", categories)
    for category in categories:
        label = clean_text(category)
        rows = archive.queries.category_entries(category, max_entries)
        entries = [page_entry(r) for r in rows]
        languages = _languages(rows)
        language_names = ", ".join(LANGUAGE_NAMES[lang] for lang in languages)
        in_languages = f" ({language_names})" if language_names else ""
        specs.append(
            FeedSpec(
                name=names[category],
                title=f"Aalto University: {label}{in_languages}",
                description=f"Pages of www.aalto.fi in the category {label}, newest first.",
                link=PUBLIC_ORIGIN + LISTING_PATHS[languages[0] if len(languages) == 1 else "en"],
                language=languages[0] if len(languages) == 1 else None,
                entries=_newest_first(entries, by_published=True),
                group=f"Categories{in_languages}",
            )
        )
    return specs


def _names() -> str:
    """The sections' names as a list in words: "news and partnership"."""
    names = [section.name for section in SECTIONS]
    return " and ".join(filter(None, [", ".join(names[:-1]), names[-1]]))


def _page_specs(archive: Archive, section: Section, max_entries: int) -> list[FeedSpec]:
    """A section's live pages, one feed per language, newest first (if it publishes them)."""
    feeds = section.feeds
    specs = []
    for lang, name in section.page_feeds.items():
        words = {"name": section.name, "language": LANGUAGE_NAMES[lang]}
        rows = archive.queries.section_entries(section.kind, lang, max_entries)
        specs.append(
            FeedSpec(
                name=name,
                title=feeds.pages_title.format(**words),
                description=feeds.pages_about.format(**words),
                link=PUBLIC_ORIGIN + section.home_paths[lang],
                language=lang,
                entries=_newest_first([page_entry(r) for r in rows], by_published=True),
                group=section.name[:1].upper() + section.name[1:],
            )
        )
    return specs


def _change_spec(section: Section, name: str, entries: list[Entry]) -> FeedSpec:
    """A section's changes."""
    return FeedSpec(
        name=name,
        title=section.feeds.changes_title.format(name=section.name),
        description=section.feeds.changes_about.format(name=section.name),
        link=PUBLIC_ORIGIN + section.home_paths["en"],
        entries=entries,
        group="Changes",
    )


def feeds_url_for(out_dir: Path, feeds_base_url: str = "") -> str:
    """Absolute URL of the feeds directory, ending in "/": the configured one, else file://."""
    if feeds_base_url:
        return feeds_base_url.rstrip("/") + "/"
    return Path(out_dir).resolve().as_uri() + "/"


def feed_specs(
    archive: Archive,
    max_entries: int = 50,
    max_categories: int = 200,
    feeds_url: str = "",
    watches: Sequence[Watch] = (),
    memo: DiffMemo | None = None,
) -> tuple[list[FeedSpec], list[Entry]]:
    """Every feed, plus the newest change entries (for the index page); `memo` holds the
    diffs an earlier build rendered."""
    specs = [spec for section in SECTIONS for spec in _page_specs(archive, section, max_entries)]
    cache: dict[int, Entry] = {}

    def entry(row: dict) -> Entry:
        """A change's entry, rendered once for every feed that carries it."""
        if row["id"] not in cache:
            cache[row["id"]] = change_entry(archive, row, memo)
        return cache[row["id"]]

    def changes(kind: str | None) -> list[Entry]:
        rows = archive.queries.changes(kind=kind, limit=max_entries, include_duplicates=False)
        return _newest_first([entry(r) for r in rows])

    all_changes = changes(None)
    specs.append(
        FeedSpec(
            name="changes",
            title="www.aalto.fi: all changes",
            description=f"New, modified, removed, restored and moved {_names()} pages.",
            entries=all_changes,
            group="Changes",
        )
    )
    specs += [_change_spec(s, name, changes(s.kind)) for s in SECTIONS if (name := s.change_feed)]
    specs.append(
        FeedSpec(
            name="partners",
            title="www.aalto.fi: partners",
            description="A partner appears, a partner's page changes or is removed"
            " (the cities, regions and organisations of the partnership pages).",
            link=PUBLIC_ORIGIN + PARTNERSHIP_HUB,
            entries=_newest_first(
                [partner_entry(entry(r), r) for r in archive.partners.changes(max_entries)]
            ),
            group="Changes",
        )
    )
    # Grouped by language, as feeds.opml lists them (English, Finnish, Swedish).
    specs += sorted(_category_specs(archive, max_entries, max_categories), key=lambda s: s.group)
    specs += watch_specs(archive, watches, max_entries, entry)
    specs.append(health_spec(archive, max_entries, feeds_url))
    empty_updated = watched_since(archive)
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
            [alert_entry(a, alerts_page) for a in archive.runs.alerts(limit=max_entries)]
        ),
        group="Health",
    )
    spec.empty_updated = watched_since(archive)
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

    memo = DiffMemo(archive.rendered.diffs())

    def collect() -> None:
        nonlocal specs, all_changes
        specs, all_changes = feed_specs(
            archive, max_entries, max_categories, feeds_url, watches, memo
        )

    complete = report.attempt("feeds", collect)
    if complete:
        archive.rendered.keep(memo.used)
    for spec in specs:
        if spec.name != HEALTH:
            write_spec(report, out_dir, spec)
    report.listed = [s for s in specs if f"{s.name}.xml" not in report.failed]
    report.changes = all_changes[:INDEX_CHANGES]
    report.attempt(
        "feeds.opml", lambda: report.write(out_dir / "feeds.opml", render_opml(report.listed))
    )
    _write_index(report, out_dir, health, feeds_url)

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


def _write_index(report: FeedReport, out_dir: Path, health: FeedSpec, feeds_url: str) -> None:
    """index.html with the current alerts; if the full page fails, a minimal one (the health
    feed and the alerts only), so the operator still sees what went wrong."""
    alerts = health.entries[:INDEX_ALERTS]
    listed = [health if s.name == HEALTH else s for s in report.listed] or [health]
    index = out_dir / "index.html"
    if not report.attempt(
        "index.html",
        lambda: report.write(index, render_index(listed, report.changes, alerts, feeds_url)),
    ):
        report.attempt(
            "index.html (minimal)",
            lambda: report.write(index, render_index([health], [], alerts, feeds_url)),
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
    feeds_url = feeds_url_for(out_dir, feeds_base_url)
    health = health_spec(archive, max_entries, feeds_url)
    write_spec(report, out_dir, health)
    if previous is not None:
        _write_index(report, out_dir, health, feeds_url)
    return report
