"""One feed per watch (`watch-<name>.xml` / `.atom`): the change feed, narrowed to a query.

Entries are the change feed's own (`change_entry`): same sanitising and diff rendering, led by
the snippet the watch matched (highlighted with <mark>), so every entry says why it is there.
The feed reads the stored matches (storage.watches), never the archive's history.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from html import escape
from typing import TYPE_CHECKING, Any

from aaltowatch.core.watchmatch import snippet_parts
from feeds.entries import Entry, FeedSpec
from feeds.sanitize import clean_html, clean_text
from storage import Archive

if TYPE_CHECKING:
    from aaltowatch.core.watchconfig import Watch


def feed_name(watch: Watch) -> str:
    """The file stem of a watch's feeds: watch-<name>.xml and .atom."""
    return f"watch-{watch.name}"


def _filters(watch: Watch) -> str:
    parts = [
        f"{label} {', '.join(values)}"
        for label, values in (
            ("kinds", watch.kinds),
            ("languages", watch.langs),
            ("categories", watch.categories),
            ("changes", watch.changes),
        )
        if values
    ]
    return f" ({'; '.join(parts)})" if parts else ""


def snippet_pieces(snippet: str) -> list[tuple[str, bool]]:
    """A stored snippet as (plain text, matched) pieces, each cleaned like any page text but
    keeping the spaces between them."""
    pieces = []
    for text, matched in snippet_parts(snippet):
        before = " " if text[:1].isspace() else ""
        after = " " if text[-1:].isspace() and text.strip() else ""
        pieces.append((before + clean_text(text) + after, matched))
    return pieces


def snippet_html(snippet: str) -> str:
    """A stored snippet as sanitised HTML (text escaped piece by piece), its match in <mark>
    for browsers and <strong> inside it for readers that drop <mark> (feedparser, newsboat)."""
    html = "".join(
        f"<mark><strong>{escape(text)}</strong></mark>" if matched else escape(text)
        for text, matched in snippet_pieces(snippet)
    ).strip()
    return clean_html(f"<p>Match: {html}</p>") if html else ""


def with_snippet(entry: Entry, snippet: str) -> Entry:
    """The change's shared entry, led by what the watch matched in it."""
    return replace(entry, content=clean_html(snippet_html(snippet) + "\n" + entry.content))


def watch_feed(
    watch: Watch, rows: Sequence[dict[str, Any]], entry: Callable[[dict[str, Any]], Entry]
) -> FeedSpec:
    """A watch's feed from its matches (change rows with a `snippet`); `entry` turns a change
    row into its (shared, cached) entry."""
    entries = sorted(
        (with_snippet(entry(r), r["snippet"]) for r in rows), key=lambda e: e.updated, reverse=True
    )
    return FeedSpec(
        name=feed_name(watch),
        title=f"aaltowatch watch: {watch.title or watch.name}",
        description=f"Changes to www.aalto.fi pages matching {watch.query}{_filters(watch)}.",
        entries=entries,
        group="Watches",
    )


def watch_specs(
    archive: Archive,
    watches: Sequence[Watch],
    max_entries: int,
    entry: Callable[[dict[str, Any]], Entry],
) -> list[FeedSpec]:
    """A FeedSpec per watch, from its stored matches."""
    return [
        watch_feed(watch, archive.watches.changes(watch, limit=max_entries), entry)
        for watch in watches
    ]
