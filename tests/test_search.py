"""Full-text search (storage/search.py and `aaltowatch search`) on the real two-state archive."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from aaltowatch.core.errors import QueryError
from aaltowatch.core.query import as_phrases
from storage import Archive
from storage.search import MARK
from tests.conftest import run_cli


@pytest.fixture
def archive(two_state_db: Path) -> Iterator[Archive]:
    with Archive(two_state_db, readonly=True) as archive:
        yield archive


def urls(hits: list[dict]) -> list[str]:
    return [h["url"] for h in hits]


def test_plain_word_finds_the_new_vantaa_pages_with_highlighted_snippets(archive, expected):
    vantaa = {u for u in expected["changes_1_to_2"]["new"] if "vantaa" in u}
    assert len(vantaa) == 2  # one news item, one partnership page
    hits = archive.search.pages("Vantaa")
    assert vantaa <= set(urls(hits))
    assert set(hits[0]) == {"url", "title", "kind", "lang", "published", "rank", "snippet"}
    for hit in hits:
        assert f"{MARK}Vantaa{MARK}".lower() in hit["snippet"].lower()
    assert [h["rank"] for h in hits] == sorted(h["rank"] for h in hits)


def test_title_matches_rank_above_body_only_matches(archive):
    hits = archive.search.pages("Vantaa")
    in_title = ["vantaa" in (h["title"] or "").lower() for h in hits]
    assert in_title == sorted(in_title, reverse=True), [h["title"] for h in hits]
    assert not in_title[-1]  # the hub page mentions Vantaa in its body only


@pytest.mark.parametrize(
    "query",
    ["Vantaa", "city of Espoo", '"urban development"', "sustain*", "Espoo NOT Helsinki"],
)
def test_ordinary_queries_find_something(archive, query):
    assert archive.search.pages(query)


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("Aalto-yliopisto", True),  # FTS5 reads `-` as column syntax: retried as a phrase
        ("Otakaari 1.", True),
        ("Espoo: city", True),
        ("C++", False),
        ("e.g.", False),
        ("50%", False),
        ("what's", False),
        ("10:30", False),
    ],
)
def test_punctuated_text_is_retried_as_phrases(archive, query, found):
    assert bool(archive.search.pages(query)) is found


@pytest.mark.parametrize(
    ("query", "hint"),
    [
        ('"urban development', "unbalanced double quote"),
        ("AND", "AND / OR / NOT"),
        ("Espoo OR", "AND / OR / NOT"),
        ("NOT Helsinki", "AND / OR / NOT"),
        ("Espoo OR OR Vantaa", "two operators"),
        ("*", "'*' only works at the end"),
        ("-Espoo", "use NOT"),
        ("NEAR(", "parentheses"),
        ("(Espoo", "parentheses"),
        ("titel:Vantaa", "no column 'titel'"),
        ("   ", "empty search query"),
    ],
)
def test_malformed_queries_raise_query_error_with_a_hint(archive, query, hint):
    with pytest.raises(QueryError) as info:
        archive.search.pages(query)
    assert hint in str(info.value)


def test_as_phrases_keeps_operators_phrases_and_prefixes():
    assert as_phrases('Aalto-yliopisto OR "urban development" co-op* say"hi"') == (
        '"Aalto-yliopisto" OR "urban development" "co-op"* "say""hi"""'
    )


def test_filters_and_limit(archive):
    assert {h["lang"] for h in archive.search.pages("Aalto", lang="fi")} == {"fi"}
    assert {h["kind"] for h in archive.search.pages("Vantaa", kind="partnership")} == {
        "partnership"
    }
    assert len(archive.search.pages("Aalto", limit=3)) == 3


def test_removed_pages_are_not_found(archive, expected):
    for url in expected["changes_1_to_2"]["removed"]:
        page = archive.pages.page(url)
        assert page is not None and page["status"] == "removed"
        title = archive.pages.version(page["id"])["title"]
        assert url not in urls(archive.search.pages(f'"{title}"'))
        assert url not in urls(archive.search.pages(title))


def test_published_comes_from_the_current_version(archive, expected):
    url = next(u for u in expected["changes_1_to_2"]["new"] if "/en/news/" in u and "vantaa" in u)
    hit = next(h for h in archive.search.pages("Vantaa") if h["url"] == url)
    page = archive.pages.page(url)
    assert hit["published"] == archive.pages.version(page["id"])["published"]


def test_fts_drives_the_query_and_pages_are_never_scanned(archive):
    """Ranked search stays in milliseconds on a big archive only if FTS5 picks the rows."""
    from storage import search as module

    ranked = module._RANKED.format(
        weights="10, 3, 1", filters=" AND p.lang = :lang AND p.kind = :kind"
    )
    plan = archive.conn.execute(
        "EXPLAIN QUERY PLAN " + module._HITS.format(ranked=ranked),
        {"query": "x", "limit": 5, "mark": MARK, "tokens": 8, "lang": "en", "kind": "news"},
    ).fetchall()
    details = [row[3] for row in plan]
    assert any(d.startswith("SCAN pages_fts VIRTUAL TABLE") for d in details), details
    assert not any(d.startswith(("SCAN p", "SCAN v")) and "pages_fts" not in d for d in details)


def test_cli_search_json_and_text(two_state_db):
    proc = run_cli("search", "Vantaa", "--kind", "news", "--json", db=two_state_db)
    assert proc.returncode == 0, proc.stderr
    hits = json.loads(proc.stdout)
    assert hits and all(h["kind"] == "news" for h in hits)
    text = run_cli("search", "Vantaa", "--limit", "1", db=two_state_db)
    assert text.returncode == 0, text.stderr
    assert hits[0]["title"] in text.stdout and hits[0]["url"] in text.stdout


@pytest.mark.parametrize("query", ['"urban', "AND", "*", "-Espoo", "NEAR("])
def test_cli_malformed_query_exits_2_without_traceback(two_state_db, query):
    proc = run_cli("search", "--", query, db=two_state_db)  # `--`: -Espoo is no option
    assert proc.returncode == 2
    assert "malformed search query" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("query", "word"),
    [("espoo or vantaa", "or"), ("Espoo and Vantaa", "and"), ("Espoo not Helsinki", "not")],
)
def test_a_lower_case_operator_gets_a_hint(two_state_db, query, word):
    from aaltowatch.core.query import operator_hint

    proc = run_cli("search", query, db=two_state_db)
    assert proc.returncode == 0, proc.stderr
    assert f"hint: {word!r} was searched as a word; the operators are upper-case" in proc.stderr
    assert operator_hint(query.replace(word, word.upper())) is None
    assert operator_hint(f'"rock {word} roll"') is None  # inside a phrase it is a word


def test_results_cut_at_the_limit_say_how_many_there_are(archive, two_state_db):

    total = archive.search.count_matches("Aalto")
    assert total > 2 and total == len(archive.search.pages("Aalto", limit=1000))
    for extra in ((), ("--json",)):
        proc = run_cli("search", "Aalto", "--limit", "2", *extra, db=two_state_db)
        assert proc.returncode == 0, proc.stderr
        assert f"hint: 2 of {total} matches shown; use --limit {total} for all" in proc.stderr
    whole = run_cli("search", "Aalto", "--limit", str(total), db=two_state_db)
    assert "matches shown" not in whole.stderr


def test_a_query_that_reads_as_an_option_gets_a_hint(two_state_db):
    proc = run_cli("search", "-Espoo", db=two_state_db)
    assert proc.returncode == 2
    assert "A QUERY that starts with '-' goes after '--': " in proc.stderr
    assert "search -- -query" in (proc.stderr)
