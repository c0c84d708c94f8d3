"""The sanitiser and the HTML diff: whatever text comes in, nothing active goes out."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.htmldiff import text_diff_html, version_diff_html
from feeds.sanitize import clean_html, clean_text, safe_url

# What an HTML tokenizer reads as a tag: "<" then a letter, "/", "!" or "?" ("<0javascript:>"
# is text, shown as such).
TAG = re.compile(r"<[a-zA-Z/!?][^>]*>")
# Fragments that make random text likely to hit the dangerous cases.
PIECES = st.sampled_from(
    ["<script>", "</script>", "<img src=x onerror=alert(1)>", "<a href='javascript:x'>",
     "<svg onload=alert(1)>", "&lt;script&gt;", "<", ">", "\"", "'", "=", " on", "onclick=",
     "java", "script:", "<iframe>", "<p>", "</p>", "&#106;avascript:", "\x00", "\x1b", "<!--"]
)  # fmt: skip
HOSTILE_TEXT = st.lists(st.one_of(st.text(max_size=20), PIECES), max_size=12).map("".join)


def _assert_inert(html: str) -> None:
    lowered = html.lower()
    assert "<script" not in lowered
    for tag in TAG.findall(lowered):
        assert "javascript:" not in tag
        assert not re.search(r"\son[a-z]*\s*=", tag), tag
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", html)


@settings(max_examples=100, deadline=None)
@given(HOSTILE_TEXT)
def test_clean_html_output_is_inert(text: str) -> None:
    _assert_inert(clean_html(text))
    assert clean_html(clean_html(text)) == clean_html(text)


@settings(max_examples=100, deadline=None)
@given(HOSTILE_TEXT)
def test_clean_text_has_no_markup(text: str) -> None:
    cleaned = clean_text(text)
    assert not re.search(r"<[a-zA-Z/!?]", cleaned)
    _assert_inert(cleaned)


@settings(max_examples=100, deadline=None)
@given(HOSTILE_TEXT, HOSTILE_TEXT)
def test_diff_of_hostile_text_is_inert(old: str, new: str) -> None:
    _assert_inert(text_diff_html(old, new))


def test_clean_html_examples() -> None:
    assert clean_html('<p onclick="x()">a</p><script>b()</script>') == "<p>a</p>"
    assert 'href="https://www.aalto.fi/en/x"' in clean_html('<a href="/en/x">x</a>')
    assert "href" not in clean_html('<a href="javascript:alert(1)">x</a>')
    assert clean_html("<ins>a</ins><del>b</del>") == "<ins>a</ins><del>b</del>"
    assert clean_text("Tom &amp; Jerry <b>bold</b>\x07") == "Tom & Jerry bold"
    _assert_inert(clean_text("<0&#106AVASCRIPT:>"))  # found by hypothesis: text, not a tag


def test_safe_url() -> None:
    assert safe_url("/en/news/x") == "https://www.aalto.fi/en/news/x"
    assert safe_url("javascript:alert(1)") is None
    assert safe_url("data:text/html,x") is None
    assert safe_url(None) is None


def test_diff_marks_words_and_paragraphs() -> None:
    html = text_diff_html("One two three.\n\nSame.\n\nGone.", "One 2 three.\n\nSame.")
    assert "One <del>[-two-]</del><ins>{+2+}</ins> three." in html
    assert "<p><del>[-Gone.-]</del></p>" in html and "<p>…</p>" in html
    sections = version_diff_html(
        {"title": "a", "lead": "x"}, {"title": "b", "lead": "x"}, ["title"]
    )
    assert sections.startswith("<h4>Title</h4>") and "Lead" not in sections
