"""Word diffs with visible markers, `[-old-]{+new+}`: in the feeds' HTML and in mail text."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aaltowatch.core.watchconfig import Watch, load_target
from aaltowatch.core.worddiff import marked_text, segments
from aaltowatch.notify.deliver import _send
from aaltowatch.notify.message import LINE_CHARS, Event, event_message, short_diff
from feeds.htmldiff import text_diff_html
from tests.mailserver import MailServer

OLD = "Contact: Sanna-Katri Rautava – Senior advisor"
NEW = "Contact: Johanna Kivelä – Partnership Manager"
MARKED = (
    "Contact: [-Sanna-Katri Rautava-]{+Johanna Kivelä+} – [-Senior advisor-]{+Partnership Manager+}"
)
BALANCED = re.compile(r"\[-.*?-\]|\{\+.*?\+\}")


def _text(html: str) -> str:
    """What a text reader such as newsboat shows: the HTML without its tags."""
    return re.sub(r"<[^>]+>", "", html)


def test_a_replaced_name_reads_as_one_change() -> None:
    assert marked_text(OLD, NEW) == MARKED
    assert marked_text("a b c", "a b c x y") == "a b c {+x y+}"  # spaces outside the markers
    assert marked_text("a b c", "a c") == "a [-b-] c"
    assert marked_text("same", "same") == "same"


def test_feed_diff_reads_without_styling() -> None:
    """newsboat drops <del>/<ins>: the old code showed `Sanna-KatriJohanna RautavaKivelä`."""
    html = text_diff_html(f"{OLD}\n\nSame.\n\nGone.", f"{NEW}\n\nSame.")
    assert MARKED in _text(html)
    assert "<del>[-Sanna-Katri Rautava-]</del><ins>{+Johanna Kivelä+}</ins>" in html
    assert "<p><del>[-Gone.-]</del></p>" in html
    assert "Sanna-KatriJohanna" not in _text(html)


def test_mail_diff_marks_words_of_an_edited_line_and_keeps_markers_closed() -> None:
    long = " ".join(f"word{i}" for i in range(80))
    diff = "\n".join(
        [
            "--- v1",
            "+++ v2",
            "@@ -1,3 +1,3 @@",
            " # Title",
            f"-{OLD}",
            f"+{NEW}",
            f"-{long} old ending",
            f"+{long} new ending",
            "@@ -9,1 +9,2 @@",
            " kept",
            f"+{long} {long}",
            "-Removed <b>line</b>",
        ]
    )
    lines = short_diff(diff)
    assert lines[0] == MARKED
    assert lines[1] == "… word74 word75 word76 word77 word78 word79 [-old-]{+new+} ending"
    assert lines[2].startswith("{+word0 ") and lines[2].endswith("…+}")
    assert lines[3] == "[-Removed line-]"
    assert all(len(line) <= LINE_CHARS for line in lines)


WORDS = st.lists(st.sampled_from(["a", "b", "c", "Espoo", "–", "x,"]), max_size=12).map(" ".join)


@given(WORDS, WORDS, st.sampled_from([None, 2]), st.sampled_from([None, 20, 60]))
def test_markers_are_balanced_and_segments_rebuild_both_texts(
    old: str, new: str, context: int | None, width: int | None
) -> None:
    parts = segments(old, new)
    assert "".join(s.old for s in parts).split() == old.split()
    assert "".join(s.new for s in parts).split() == new.split()
    line = marked_text(old, new, context, width)
    rest = BALANCED.sub("", line)
    assert "[-" not in rest and "{+" not in rest
    if context is None and width is None:
        assert re.sub(r"\[-.*?-\]", "", line).replace("{+", "").replace("+}", "").split() == (
            new.split()
        )


@pytest.mark.parametrize("fmt", ["text", "html"])
def test_every_part_of_a_real_mail_shows_the_markers(fmt: str) -> None:
    """Through Apprise to a real SMTP server: the text part, and the HTML part a `format=html`
    target gets, both show the markers (no mail client has to style <del>/<ins>)."""
    diff = f"--- v1\n+++ v2\n@@ -1,1 +1,1 @@\n-{OLD}\n+{NEW}"
    change = {
        "id": 7, "change": "modified", "url": "https://www.aalto.fi/en/x", "diff": diff,
        "detected_at": "2026-01-21T16:00:00Z",
    }  # fmt: skip
    message = event_message(Watch(name="w", query="Espoo"), Event(change, "A page"))
    with MailServer() as mail:
        assert _send(load_target(f"{mail.url()}&format={fmt}"), message, "test")
    (received,) = mail.messages
    parts = {
        p.get_content_subtype(): p.get_content() for p in received.walk() if not p.is_multipart()
    }
    assert set(parts) == ({"plain"} if fmt == "text" else {"plain", "html"})
    for text in parts.values():
        assert MARKED in html.unescape(text).replace("\xa0", " "), text  # Apprise: &nbsp;
