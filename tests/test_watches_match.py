"""The pure decisions of watch matching (aaltowatch.core.watchmatch) and how a match is shown:
the trigger text of an edit, what is pushed, and snippets in feeds (HTML) and mail (text)."""

from __future__ import annotations

import pytest

from aaltowatch.core.watchconfig import Watch
from aaltowatch.core.watchmatch import (
    CHANGED,
    MARK_CLOSE,
    MARK_OPEN,
    PAGE,
    changed_runs,
    pushable,
    scope_for,
    snippet_parts,
    trigger_text,
    unmarked,
)
from aaltowatch.notify.message import Event, digest_message, event_message, snippet_text
from feeds.watches import snippet_html

LONG_TEXT = " ".join(f"word{i}" for i in range(40))
OTHER_TEXT = " ".join(f"other{i}" for i in range(40))
HUB = "Cities we work with.\n\nEspoo hosts the Otaniemi campus.\n\nContact us."


@pytest.mark.parametrize(
    ("old", "new", "runs"),
    [
        (HUB, HUB, []),
        (HUB, HUB.replace("Contact us.", "Contact the team."), ["us.", "the team."]),
        (f"{LONG_TEXT} Espoo.", f"{LONG_TEXT} Vantaa.", ["Espoo.", "Vantaa."]),
        (LONG_TEXT, OTHER_TEXT, [LONG_TEXT, OTHER_TEXT]),
        (HUB, HUB + "\n\nA new paragraph.", ["A new paragraph."]),
        (HUB, HUB.replace("Cities we work with.\n\n", ""), ["Cities we work with."]),
        (
            HUB,
            HUB.replace("Contact us.", "Visit Vantaa next spring."),
            ["Contact us.", "Visit Vantaa next spring."],
        ),
        ("", "First text", ["First text"]),
        (None, None, []),
    ],
    ids=[
        "same",
        "words",
        "long",
        "long-rewritten",
        "added",
        "removed",
        "rewritten",
        "from-empty",
        "none",
    ],
)
def test_changed_runs_are_the_words_an_edit_touched(old, new, runs) -> None:
    assert changed_runs(old, new) == runs


def test_trigger_text_keeps_columns_apart() -> None:
    old = {"title": "Espoo and Aalto", "lead": "Same lead", "body": HUB}
    new = {"title": "Vantaa and Aalto", "lead": "Same lead", "body": HUB}
    assert trigger_text(old, new) == {"title": "Espoo … Vantaa", "lead": "", "body": ""}


@pytest.mark.parametrize(
    ("change", "match", "scope"),
    [("modified", "changed", CHANGED), ("modified", "page", PAGE), ("new", "changed", PAGE),
     ("removed", "changed", PAGE), ("moved", "changed", PAGE), ("restored", "page", PAGE)],
)  # fmt: skip
def test_only_an_edit_is_matched_by_its_changed_words(change, match, scope) -> None:
    assert scope_for(Watch(name="w", query="x", match=match), change) == scope


SINCE = "2026-03-10T09:00:00Z"


@pytest.mark.parametrize(
    ("change", "first_crawl", "published", "pushed"),
    [
        ("new", True, "2026-03-11T00:00:00Z", False),  # the archive's first crawl
        ("modified", True, None, False),
        ("new", False, "2015-05-01T00:00:00Z", False),  # an old story found now
        ("new", False, "2026-03-09T23:00:00Z", False),  # published the day before the watch
        ("new", False, "2026-03-10T01:00:00Z", True),  # the watch's first day counts
        ("new", False, None, True),  # undated: news when found after the first crawl
        ("modified", False, "2015-05-01T00:00:00Z", True),  # an edit of an old story is news
        ("removed", False, "2015-05-01T00:00:00Z", True),
    ],
)
def test_what_is_pushed(change, first_crawl, published, pushed) -> None:
    assert (
        pushable(change, first_crawl=first_crawl, published=published, watch_since=SINCE) is pushed
    )


def test_snippets_highlight_only_the_match_and_stay_text() -> None:
    snippet = f"<script>x</script> in {MARK_OPEN}Espoo{MARK_CLOSE} & more…"
    assert snippet_parts(snippet) == [
        ("<script>x</script> in ", False),
        ("Espoo", True),
        (" & more…", False),
    ]
    html = snippet_html(snippet)
    assert html == "<p>Match: in <mark><strong>Espoo</strong></mark> &amp; more…</p>"
    assert snippet_text(snippet) == "in «Espoo» & more…"
    # Page text never brings its own markers: they are removed before matching.
    assert unmarked(f"a{MARK_OPEN}b{MARK_CLOSE}c") == "a b c"


def test_a_message_shows_its_dates_and_why_it_matched() -> None:
    watch = Watch(name="espoo", query="Espoo")
    change = {
        "id": 7, "change": "new", "url": "https://www.aalto.fi/en/news/x",
        "detected_at": "2026-03-11T10:00:00Z", "fields": [], "diff": None,
    }  # fmt: skip
    event = Event(
        change, "A title", "A lead", published="2026-03-11T08:00:00Z",
        snippet=f"City of {MARK_OPEN}Espoo{MARK_CLOSE} and Aalto",
    )  # fmt: skip
    lines = event_message(watch, event).body.splitlines()
    assert lines[:4] == [
        "New: A title",
        "https://www.aalto.fi/en/news/x",
        "Published 2026-03-11; detected 2026-03-11",
        "Match: City of «Espoo» and Aalto",
    ]
    undated = Event(change, "Undated", snippet="")
    digest = digest_message(watch, "2026-03-11", [undated]).body
    assert "Published no date on the page; detected 2026-03-11" in digest
    assert "Match:" not in digest
