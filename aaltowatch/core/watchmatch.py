"""What a watch is matched against, and whether a match is pushed: pure decisions that
storage.watches applies to each change event once.

- A `modified` event is matched against the words its edit added or removed (the trigger
  text), so a hub page that mentions Espoo deep in its body does not reach an Espoo watch
  whenever an unrelated line changes. `match = "page"` matches the whole page instead.
- Every other event (new, removed, restored, moved) is matched against the page.
- A match is *pushed* (notified) only when it is news to the watcher: not an event of the
  archive's first crawl, not a page first found with a published date before the watch
  existed (the backfill of old stories), and never a match found by matching history.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from difflib import SequenceMatcher
from typing import Any

from aaltowatch.core.enums import ChangeKind
from aaltowatch.core.query import COLUMNS
from aaltowatch.core.watchconfig import MATCH_PAGE, Watch

# Where a snippet's match starts and ends (FTS5 snippet()); private-use characters, removed
# from the matched text first, so page text can never fake a highlight.
MARK_OPEN, MARK_CLOSE = "\ue000", "\ue001"
_MARKS = re.compile(f"[{MARK_OPEN}{MARK_CLOSE}]")
# Between two changed runs of one field in the trigger text.
RUN_SEPARATOR = " … "
# Scopes of a matched document: the whole page, or the trigger text of an edit.
PAGE, CHANGED = "page", "changed"


def unmarked(text: str | None) -> str:
    return _MARKS.sub(" ", text or "")


def marked(snippet: str, open_: str, close: str) -> str:
    """A snippet FTS5 marked with `open_` and `close` (strings its text cannot hold) in the
    stored format: the text's own marker characters removed, so it cannot fake a highlight."""
    return unmarked(snippet).replace(open_, MARK_OPEN).replace(close, MARK_CLOSE)


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


# Long paragraphs (words, both sides) sharing less than this share of words are rewritten:
# all their words changed, without a word diff (the costly part of matching history).
REWRITTEN = 0.5
LONG = 50


def _changed_words(old: str, new: str) -> list[str]:
    a, b = old.split(), new.split()
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    if len(a) + len(b) > LONG and matcher.quick_ratio() < REWRITTEN:  # a cheap upper bound
        return [old, new]
    runs = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            runs += [" ".join(run) for run in (a[i1:i2], b[j1:j2]) if run]
    return runs


def changed_runs(old: str | None, new: str | None) -> list[str]:
    """The removed and added runs of words of `old` -> `new`: paragraphs are aligned first,
    then words inside a changed paragraph (as the feeds' diffs do), so an edited sentence
    yields a few words, not the whole body."""
    a, b = _paragraphs(old or ""), _paragraphs(new or "")
    runs: list[str] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        pairs = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        for k in range(pairs):
            runs += _changed_words(a[i1 + k], b[j1 + k])
        runs += a[i1 + pairs : i2] + b[j1 + pairs : j2]
    return runs


def trigger_text(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, str]:
    """The searchable columns (title, lead, body) of an edit: only the words it changed."""
    return {
        column: RUN_SEPARATOR.join(changed_runs(old.get(column), new.get(column)))
        for column in COLUMNS
    }


def scope_for(watch: Watch, change: str) -> str:
    """Which document of an event the watch's query is run against."""
    return CHANGED if change == ChangeKind.MODIFIED and watch.match != MATCH_PAGE else PAGE


def passes_filters(watch: Watch, event: Mapping[str, Any]) -> bool:
    """The watch's kinds, langs, changes and categories (any of them) for one event."""
    if watch.kinds and event["kind"] not in watch.kinds:
        return False
    if watch.langs and event["lang"] not in watch.langs:
        return False
    if watch.changes and event["change"] not in watch.changes:
        return False
    return not watch.categories or bool(set(watch.categories) & set(event["categories"] or []))


def pushable(change: str, *, first_crawl: bool, published: str | None, watch_since: str) -> bool:
    """Whether a match found when its event was recorded is news to send: not the archive's
    first crawl, and not an old story the backfill found (published before the UTC day the
    watch was first seen). Edits, removals and moves of old stories are news."""
    if first_crawl:
        return False
    return not (change == ChangeKind.NEW and published and published[:10] < watch_since[:10])


def snippet_parts(snippet: str) -> list[tuple[str, bool]]:
    """A stored snippet as (text, highlighted) pieces, for HTML (<mark>) or text markers."""
    parts = []
    for i, chunk in enumerate(snippet.split(MARK_OPEN)):
        matched, _, rest = chunk.partition(MARK_CLOSE) if i else ("", "", chunk)
        if matched:
            parts.append((matched, True))
        if rest:
            parts.append((rest, False))
    return parts
