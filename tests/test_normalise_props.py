"""Properties of normalisation and fingerprints: what makes "same content" hash the same.

A normaliser that is not idempotent, or a hash that sees whitespace or image cache-busters,
turns every recrawl into a stream of fake versions.
"""

from __future__ import annotations

import re
from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from aaltowatch.core.text import clean_block, clean_inline, iso_utc
from pages.article import PageItem
from pipeline.fingerprint import content_hash
from pipeline.normalise import normalise

PROPS = settings(max_examples=100, deadline=None)

# Text with the characters normalisation exists for: odd spaces, controls, combining marks.
ODD = " \t\r\n\xa0\u2009\u200b\u202f\ufeff\x00\x1f\x85\u0308\u00e4a\u00c5"
text = st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(list(ODD)), max_size=80)
maybe_text = st.none() | text
# Years before 1000 are left out: iso_utc's strftime("%Y") does not zero-pad them on Linux.
stamps = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.timezones()
).map(lambda d: d.isoformat()) | st.sampled_from(
    ["2026-01-19T08:00:00Z", "2026-01-19T10:00:00+02:00", "2026-01-19", "not a date", ""]
)
WS = st.text(alphabet=" \t\n\r\xa0\u2009", min_size=1, max_size=4)
words = st.lists(st.from_regex(r"[A-Za-zäöåÄÖÅ0-9]{1,10}", fullmatch=True), min_size=1, max_size=20)


@st.composite
def page_items(draw: st.DrawFn) -> PageItem:
    image = st.fixed_dictionaries(
        {"src": st.sampled_from(["/sites/g/a.jpg", "https://www.aalto.fi/x.png?itok=1"])},
        optional={"alt": maybe_text, "caption": maybe_text, "credit": maybe_text},
    )
    return PageItem(
        url=draw(st.sampled_from(["https://aalto.fi/en/news/a/", "/fi/uutiset/b?utm_source=x"])),
        kind="news",
        lang=draw(st.sampled_from(["en", "fi", "sv"])),
        title=draw(maybe_text),
        lead=draw(maybe_text),
        body=draw(text),
        published=draw(stamps),
        updated=draw(st.none() | stamps),
        categories=draw(st.lists(text, max_size=3)),
        contacts=draw(st.lists(st.fixed_dictionaries({"name": maybe_text}), max_size=2)),
        images=draw(st.lists(image, max_size=2)),
        translations=draw(st.dictionaries(st.sampled_from(["fi", "sv"]), st.just("/sv/x"))),
    )


@PROPS
@given(text)
def test_clean_inline_is_idempotent(value: str) -> None:
    once = clean_inline(value)
    assert clean_inline(once) == once
    assert once is None or ("\n" not in once and once == once.strip())


@PROPS
@given(text)
def test_clean_block_is_idempotent(value: str) -> None:
    once = clean_block(value)
    assert clean_block(once) == once
    assert "\n\n\n" not in once


@PROPS
@given(stamps)
def test_iso_utc_is_idempotent(value: str) -> None:
    once = iso_utc(value)
    assert iso_utc(once) == once
    assert once is None or re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", once)


@PROPS
@given(page_items())
def test_normalise_is_idempotent(item: PageItem) -> None:
    once = normalise(item, "http://127.0.0.1:8123")
    assert normalise(once, "http://127.0.0.1:8123") == once


@PROPS
@given(words, st.data())
def test_content_hash_ignores_body_whitespace(body_words: list[str], data: st.DataObject) -> None:
    spaced = "".join(w + data.draw(WS) for w in body_words)
    plain = {"title": "T", "body": " ".join(body_words)}
    assert content_hash({**plain, "body": data.draw(WS) + spaced}) == content_hash(plain)


@PROPS
@given(page_items(), st.text(min_size=1, max_size=30))
def test_content_hash_ignores_image_src(item: PageItem, new_src: str) -> None:
    record = normalise(item).to_dict()
    moved = {**record, "images": [{**img, "src": new_src} for img in record["images"]]}
    assert content_hash(moved) == content_hash(record)


@PROPS
@given(page_items())
def test_content_hash_sees_a_body_word_change(item: PageItem) -> None:
    record = normalise(item).to_dict()
    assert content_hash({**record, "body": record["body"] + " extra"}) != content_hash(record)
