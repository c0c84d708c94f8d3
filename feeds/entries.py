"""Archive rows -> feed entries: one neutral shape that RSS, Atom, OPML and index.html share.

Ids are tag URIs that never depend on time or database ids of pages: a news entry is named by
its canonical URL (an edit updates it, never duplicates it); a change or alert by its own id,
which the archive never reuses. A feed publishes an item under `feed_entry_id(feed, item id)`:
readers keep one article per id across all their feeds, so an item in several feeds needs an
id per feed.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import urlsplit

from aaltowatch.core.enums import ChangeKind, change_label
from aaltowatch.core.fields import plausible
from aaltowatch.core.text import parse_utc
from feeds.htmldiff import DiffMemo, version_diff_html
from feeds.sanitize import PUBLIC_ORIGIN, clean_html, clean_text, safe_url
from storage import Archive

TAG_PREFIX = "tag:www.aalto.fi,2026:"
# A feed with no entries still needs a fixed `updated` so rebuilding it is byte-identical.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Enclosure:
    url: str
    type: str


@dataclass(frozen=True)
class Entry:
    """One feed item; `summary` and `content` are sanitised HTML. `id` is the item's own id,
    shared by every feed that carries it; feeds publish it per feed (feed_entry_id)."""

    id: str
    title: str
    updated: datetime
    link: str | None = None
    published: datetime | None = None
    summary: str = ""
    content: str = ""
    categories: tuple[str, ...] = ()
    enclosure: Enclosure | None = None


@dataclass
class FeedSpec:
    """One feed, written as `<name>.xml` (RSS 2.0) and `<name>.atom`."""

    name: str
    title: str
    description: str
    link: str = PUBLIC_ORIGIN + "/"
    language: str | None = None
    entries: list[Entry] = field(default_factory=list)
    # Date of a feed with no entries: the archive's last run, a real date that still does not
    # change when nothing happened.
    empty_updated: datetime = EPOCH
    # Absolute URL of this feed's RSS file (rel="self"); the Atom file is next to it.
    self_url: str | None = None
    # The outline of feeds.opml it is listed under (readers turn it into a folder or tag).
    group: str = ""

    @property
    def updated(self) -> datetime:
        """Newest entry date: derived from the data, so an unchanged archive rebuilds the same."""
        return max((e.updated for e in self.entries), default=self.empty_updated)


def feed_id(name: str) -> str:
    """The id of the feed named `name` (its file stem)."""
    return f"{TAG_PREFIX}feed/{name}"


def feed_entry_id(feed: str, item_id: str) -> str:
    """The id an item is published under in one feed: newsboat (and other readers) keep one
    article per id across all feeds, so the same story in news-en, a category and a watch would
    show in one of them only. Derived from the feed's name and the item's own id alone, so it
    is stable across rebuilds; the feed name has no "/" (a file stem), so ids never collide."""
    return f"{feed_id(feed)}/{item_id.removeprefix(TAG_PREFIX).lstrip('/')}"


def watched_since(archive: Archive) -> datetime:
    """The date of a feed with no entries: when the archive began watching. Not the last run:
    an empty feed would then change, and be rewritten and refetched, after every run."""
    return parse_utc(archive.runs.first_run_started()) or EPOCH


def url_tag(url: str) -> str:
    """Stable entry id from the canonical URL alone."""
    parts = urlsplit(url)
    if parts.netloc == "www.aalto.fi":
        return TAG_PREFIX + parts.path + (f"?{parts.query}" if parts.query else "")
    return TAG_PREFIX + "url/" + url


def _enclosure(images: list[dict[str, Any]] | None) -> Enclosure | None:
    for image in images or []:
        url = safe_url(image.get("src"))
        if url:
            guessed = mimetypes.guess_type(urlsplit(url).path)[0]
            kind = guessed if guessed and guessed.startswith("image/") else "image/jpeg"
            return Enclosure(url, kind)
    return None


def _page_dates(row: dict[str, Any]) -> tuple[datetime, datetime]:
    """(published, updated): the site's own dates, and the archive's when it saw an edit.

    A declared date outside the plausible window (core.fields) counts as none: the page is
    dated by its observation. No date is later than the version's observation, so no feed
    says its data is from the future (the feed's own date is its newest entry's).
    """
    first_seen = parse_utc(row.get("first_seen")) or EPOCH
    observed = parse_utc(row.get("fetched_at"))

    def declared(name: str) -> datetime | None:
        value = row.get(name)
        moment = parse_utc(value) if plausible(value, row.get("fetched_at")) else None
        return min(moment, observed) if moment and observed else moment

    published = declared("published") or first_seen
    updated = max(published, declared("updated") or published)
    if (row.get("version") or 1) > 1:
        updated = max(updated, observed or updated)
    return published, updated


def page_entry(row: dict[str, Any]) -> Entry:
    """A current page (section_entries / category_entries row) as a full-content entry."""
    published, updated = _page_dates(row)
    lead = clean_text(row.get("lead"))
    summary = f"<p>{escape(lead)}</p>" if lead else ""
    return Entry(
        id=url_tag(row["url"]),
        title=clean_text(row.get("title")) or row["url"],
        link=safe_url(row["url"]),
        published=published,
        updated=updated,
        summary=summary,
        content=clean_html(row.get("body_html")) or summary,
        categories=tuple(c for c in (clean_text(c) for c in row.get("categories") or []) if c),
        enclosure=_enclosure(row.get("images")),
    )


def _link(url: str | None) -> str:
    """A link to an http(s) URL; anything else is left out rather than shown."""
    safe = safe_url(url)
    return f'<a href="{escape(safe)}">{escape(safe)}</a>' if safe else ""


def change_entry(archive: Archive, change: dict[str, Any], memo: DiffMemo | None = None) -> Entry:
    """A change event with what changed: field list, moved-from link and a text diff (from
    `memo` when an earlier build rendered it)."""
    label = change_label(change["change"])
    current = archive.pages.version(change["page_id"], change.get("version"))
    previous = (
        archive.pages.version(change["page_id"], change["previous_version"])
        if change.get("previous_version")
        else None
    )
    title = clean_text((current or previous or {}).get("title")) or change["url"]
    fields = [f for f in change.get("fields") or [] if isinstance(f, str)]
    parts = [f"<p><strong>{escape(label)}</strong>: {_link(change['url'])}</p>"]
    if change.get("moved_from"):
        parts.append(f"<p>Moved from {_link(change['moved_from'])}</p>")
    if fields:
        items = "".join(f"<li>{escape(clean_text(f))}</li>" for f in fields)
        parts.append(f"<p>Changed fields:</p><ul>{items}</ul>")
    flags = [clean_text(f) for f in change.get("flags") or [] if isinstance(f, str)]
    if flags:
        # The page's declared dates disagree with what was observed (pipeline.dates).
        parts.append(f"<p>Date flags: <strong>{escape(', '.join(flags))}</strong></p>")
    if change["change"] in (ChangeKind.MODIFIED, ChangeKind.RESTORED) and previous and current:
        parts.append(version_diff_html(previous, current, fields, memo))
    elif change["change"] == ChangeKind.NEW and current and current.get("lead"):
        parts.append(f"<p>{escape(clean_text(current['lead']))}</p>")
    detected = parse_utc(change["detected_at"]) or EPOCH
    return Entry(
        id=f"{TAG_PREFIX}change/{int(change['id'])}",
        title=f"{label}: {title}" + (f" [{', '.join(flags)}]" if flags else ""),
        link=safe_url(change["url"]),
        published=detected,
        updated=detected,
        content=clean_html("\n".join(parts)),
        categories=tuple(
            c
            for c in (
                *(
                    clean_text(c)
                    for c in (change["change"], change.get("kind"), change.get("lang"))
                ),
                *flags,
            )
            if c
        ),
    )


def partner_title(change: dict[str, Any]) -> str:
    """What a change on a partner's page means for the partner: it appeared, a page went, ..."""
    partner = clean_text(change.get("partner")) or change["url"]
    lang = clean_text(change.get("lang"))
    if change["change"] == ChangeKind.NEW and change["id"] == change.get("partner_first_change"):
        return f"New partner: {partner}"
    if change["change"] == ChangeKind.REMOVED:
        gone = " (no page left)" if change.get("partner_status") == "gone" else ""
        return f"{partner}: {lang} page removed{gone}"
    if change["change"] == ChangeKind.NEW:
        return f"{partner}: new {lang} page"
    label = change_label(change["change"])
    return f"{partner}: {lang} page {label.lower()}"


def partner_entry(entry: Entry, change: dict[str, Any]) -> Entry:
    """A change on a partner's page (archive.partners.changes row), told per partner:
    `entry` is the change's own entry (change_entry), rendered once for every feed."""
    return replace(
        entry,
        id=f"{TAG_PREFIX}partner-change/{int(change['id'])}",
        title=partner_title(change),
        categories=(clean_text(change.get("partner")), *entry.categories),
    )


def alert_entry(alert: dict[str, Any], alerts_page: str | None = None) -> Entry:
    """A health alert (crawl problem, layout drift, suspicious version); its link is the page
    concerned, else `alerts_page` (the alerts on the index page)."""
    created = parse_utc(alert["created_at"]) or EPOCH
    severity = clean_text(alert.get("severity")) or "error"
    check = clean_text(alert.get("check_name"))
    parts = [f"<p>{escape(clean_text(alert.get('message')))}</p>"]
    if safe_url(alert.get("url")):
        parts.append(f"<p>{_link(alert['url'])}</p>")
    if alert.get("run_id") is not None:
        parts.append(f"<p>Run {int(alert['run_id'])}</p>")
    return Entry(
        id=f"{TAG_PREFIX}alert/{int(alert['id'])}",
        title=f"{severity.capitalize()}: {check}",
        link=safe_url(alert.get("url")) or alerts_page,
        published=created,
        updated=created,
        content=clean_html("\n".join(parts)),
        categories=tuple(c for c in (severity, check) if c),
    )
