"""Golden tests: each fixture page must parse to exactly its reviewed expected.json."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import pytest

from tests.regen_golden import CASES, cases, parse_case


def expected(name: str) -> dict:
    return json.loads((CASES / name / "expected.json").read_text("utf-8"))


@functools.cache
def parsed(case: Path) -> dict:
    return parse_case(case)


@pytest.mark.parametrize("case", cases(), ids=lambda p: p.name)
def test_golden_keys(case: Path) -> None:
    """The item has exactly the fields of expected.json (a new field: regenerate them)."""
    assert sorted(parsed(case)) == sorted(expected(case.name))


@pytest.mark.parametrize(
    ("case", "name"),
    [(case, name) for case in cases() for name in sorted(expected(case.name))],
    ids=lambda v: v.name if isinstance(v, Path) else v,
)
def test_golden(case: Path, name: str) -> None:
    """Each field of each case on its own (web-poet's fixtures): a failure names the field."""
    assert parsed(case).get(name) == expected(case.name)[name], f"{case.name}: field {name}"


@pytest.mark.parametrize(
    ("case", "kind", "lang"),
    [
        ("news_en", "news", "en"),
        ("news_fi", "news", "fi"),
        ("news_sv", "news", "sv"),
        ("partnership_en", "partnership", "en"),
        ("partnership_fi", "partnership", "fi"),
        ("partnership_sv", "partnership", "sv"),
    ],
)
def test_kinds_and_selectors(case: str, kind: str, lang: str) -> None:
    item = expected(case)
    assert (item["kind"], item["lang"]) == (kind, lang)
    assert item["url"].startswith("https://www.aalto.fi/")
    assert set(item["extraction"].values()) == {"selector"}
    assert item["contacts"] and item["images"] and item["body"]


def test_missing_lead_is_null() -> None:
    item = expected("missing_lead")
    assert item["lead"] is None and item["extraction"]["lead"] == "missing"
    assert item["body"] == expected("news_en")["body"]


def test_title_without_span() -> None:
    assert expected("title_without_span")["title"] == expected("news_en")["title"]


def test_filename_alt_and_inline_credit() -> None:
    image = expected("filename_alt_inline_credit")["images"][1]
    assert image["alt"] == "espoo_aalto_sopimus_16062020.jpg"
    assert image["credit"] == "Photo: Aalto University / Mikko Raskinen"
    assert image["caption"].endswith("Janne Laine and Piia Wollsten.")
    assert "?" not in image["src"]


def test_latin1_page_decodes() -> None:
    item = expected("latin1")
    assert item["title"] == expected("news_fi")["title"]
    assert item["body"] == expected("news_fi")["body"]
    assert "ä" in item["body"] and "\ufffd" not in item["body"]


def test_hostile_markup_is_neutralised() -> None:
    item = expected("hostile_markup")
    for bad in ("<script", "onclick", "onerror", "javascript:", "pwned", "<style", "noscript"):
        assert bad not in item["body_html"].lower()
    assert "pwned" not in item["body"] and "color:red" not in item["body"]
    assert "Enable scripts" not in item["body"]
    assert item["body"].startswith("Hostile click text.")


def test_empty_body_is_flagged() -> None:
    item = expected("empty_body")
    assert item["body"] == "" and item["flags"] == ["empty_body"]
    assert item["title"] == expected("news_en")["title"]


def test_renamed_classes_use_fallback() -> None:
    item, reference = expected("renamed_classes"), expected("news_en")
    assert item["extraction"]["body"] == "fallback"
    assert item["extraction"]["title"] == "fallback"
    for field in ("title", "lead", "body", "published", "updated", "contacts", "translations"):
        assert item[field] == reference[field], field


def test_a_canonical_in_another_language_is_not_trusted() -> None:
    from pages import parse_article

    case = CASES / "news_fi"
    html = (case / "page.html").read_text(encoding="utf-8")
    meta = json.loads((case / "meta.json").read_text(encoding="utf-8"))
    own = parse_article(html.encode(), meta["url"]).url
    swapped = re.sub(
        r'<link rel="canonical" href="[^"]+"',
        '<link rel="canonical" href="https://www.aalto.fi/en/news/some-english-story"',
        html,
    )
    assert parse_article(swapped.encode(), meta["url"]).url == own
