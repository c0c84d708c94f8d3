"""Ad-hoc search feeds that `serve` answers: `/search.xml?q=…&kind=…&lang=…&change=…` (RSS) and
`/search.atom` (Atom), a watch without config, subscribed to by URL (as RSSHub does).

The query string is read into a `Watch` and rendered as a configured watch's feed is
(feeds.watches): the same entries led by a highlighted snippet, sanitising, diff rendering and
entry limit, and ids by the same rule (feed name + item), the feed name being the canonical
query. A search has no stored matches and `serve` may not write, so its events are read from
the archive's index of every version (archive.watches.search), newest first. A query
FTS5 cannot run is a SearchError (HTTP 400) that says what to fix, as `aaltowatch search` says it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aaltowatch.core.errors import AaltowatchError, QueryError
from aaltowatch.core.query import fts_query
from aaltowatch.core.watchconfig import LISTS, Watch
from feeds.entries import Entry, FeedSpec, change_entry, watched_since
from feeds.render import render
from feeds.sanitize import clean_text
from feeds.watches import watch_feed
from storage import open_archive

RSS_PATH = "/search.xml"
PATHS = {RSS_PATH: 0, "/search.atom": 1}  # which of render()'s (RSS, Atom) each path answers
MAX_QUERY_CHARS = 200
MAX_VALUE_CHARS = 100  # of one filter value (categories have no fixed list)
MAX_VALUES = 10  # values of one filter
# The whole query string, percent-encoded: a query of non-ASCII letters takes 6 bytes a letter.
MAX_QUERY_STRING_CHARS = 2048
# URL parameter -> the Watch field it fills; repeat it or separate values with commas.
FILTERS = {"kind": "kinds", "lang": "langs", "change": "changes", "category": "categories"}
PARAMETERS = ("q", *FILTERS)


class SearchError(ValueError):
    """A search URL that cannot be answered: the message says what to change (HTTP 400)."""


def parse_search(query_string: str) -> Watch:
    """The watch a search URL's query string stands for, checked like a configured watch."""
    if len(query_string) > MAX_QUERY_STRING_CHARS:
        raise SearchError(f"the query string is longer than {MAX_QUERY_STRING_CHARS} characters")
    try:
        pairs = parse_qsl(query_string, keep_blank_values=True, max_num_fields=4 * MAX_VALUES)
    except ValueError:
        raise SearchError(f"too many parameters: use {', '.join(PARAMETERS)}") from None
    unknown = sorted({name for name, _ in pairs} - set(PARAMETERS))
    if unknown:
        raise SearchError(f"unknown parameter {unknown[0]!r}: use {', '.join(PARAMETERS)}")
    queries = [value for name, value in pairs if name == "q"]
    if len(queries) != 1 or not queries[0].strip():
        raise SearchError("give one search query, e.g. ?q=Vantaa")
    query = " ".join(queries[0].split())
    if len(query) > MAX_QUERY_CHARS:
        raise SearchError(f"the query is longer than {MAX_QUERY_CHARS} characters")
    if clean_text(query) != query:
        raise SearchError("the query has markup or control characters: give words")
    try:
        fts_query(query)
    except QueryError as exc:
        raise SearchError(str(exc)) from None
    return Watch(name="search", query=query, **_filters(pairs))


def _filters(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    values: dict[str, tuple[str, ...]] = {}
    for name, field in FILTERS.items():
        given = [v.strip() for n, raw in pairs if n == name for v in raw.split(",") if v.strip()]
        allowed = LISTS[field]
        for value in given:
            if allowed is not None and value not in allowed:
                raise SearchError(f"{name}={value!r}: choose from {', '.join(allowed)}")
            if len(value) > MAX_VALUE_CHARS or clean_text(value) != value:
                raise SearchError(f"{name}={value[:20]!r}…: not a {name}")
        if len(given) > MAX_VALUES:
            raise SearchError(f"at most {MAX_VALUES} values of {name}")
        # In the registry's (or sorted) order: equal searches have one name, one set of ids.
        unique = dict.fromkeys(given)
        values[field] = (
            tuple(v for v in allowed if v in unique) if allowed else tuple(sorted(unique))
        )
    return values


def canonical_query(watch: Watch) -> str:
    """The query string of a search, one spelling for equal searches: it names the feed."""
    pairs = [("q", watch.query)]
    for name, field in FILTERS.items():
        values = getattr(watch, field)
        if values:
            pairs.append((name, ",".join(values)))
    return urlencode(pairs, safe=",")


def _title(watch: Watch) -> str:
    filters = [f"{name}={','.join(getattr(watch, f))}" for name, f in FILTERS.items()]
    shown = [f for f in filters if not f.endswith("=")]
    return f"aaltowatch search: {watch.query}" + (f" ({'; '.join(shown)})" if shown else "")


def search_spec(archive_path: Path, watch: Watch, max_entries: int, origin: str = "") -> FeedSpec:
    """The search's feed from the archive, opened read-only; `origin` (http://host:port) makes
    its self link absolute."""
    query = canonical_query(watch)
    with open_archive(archive_path, readonly=True) as archive:

        def entry(row: dict[str, Any]) -> Entry:
            return change_entry(archive, row)

        spec = watch_feed(watch, archive.watches.search(watch, max_entries), entry)
        since = watched_since(archive)
    return replace(
        spec,
        name=f"search?{query}",
        title=_title(watch),
        self_url=f"{origin}{RSS_PATH}?{query}" if origin else None,
        empty_updated=since,
        group="",
    )


class SearchUnavailable(Exception):
    """The archive cannot answer now (none yet, too old, busy): HTTP 503."""


class SearchFeeds:
    """`serve`'s search route: the feed a search URL asks for, rendered from the archive."""

    def __init__(self, archive_path: Path, max_entries: int = 50) -> None:
        self.archive_path = Path(archive_path)
        self.max_entries = max_entries

    def handles(self, path: str) -> bool:
        return path in PATHS

    def __call__(self, path: str, query_string: str, origin: str) -> tuple[bytes, datetime]:
        """(RSS or Atom bytes, the feed's date); SearchError for a bad URL (400),
        SearchUnavailable when the archive cannot answer (503)."""
        watch = parse_search(query_string)
        try:
            spec = search_spec(self.archive_path, watch, self.max_entries, origin)
        except (AaltowatchError, sqlite3.Error) as exc:  # the cause is for the server's log
            raise SearchUnavailable("the archive cannot be searched now") from exc
        return render(spec)[PATHS[path]], spec.updated
