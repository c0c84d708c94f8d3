"""`history`, `diff` and `changes --json` through the real CLI on the two-state archive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

CHANGE_KEYS = {
    *("id", "url", "kind", "lang", "change", "fields", "detected_at", "version"),
    *("previous_version", "moved_from", "diff", "flags"),
}


def cli_json(db: Path, *args: str) -> object:
    proc = run_cli(*args, "--json", db=db)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def title(expected: dict, state: str, url: str) -> str:
    return next(p["title"] for p in expected[state]["pages"] if p["url"] == url)


@pytest.fixture(scope="module")
def retitled(expected) -> str:
    """The page whose only change from day 1 to day 2 is its title (a typo fixed)."""
    return next(
        m["url"] for m in expected["changes_1_to_2"]["modified"] if m["fields"] == ["title"]
    )


def test_history_of_a_modified_page(two_state_copy, retitled, expected):
    record = cli_json(two_state_copy, "history", retitled)
    assert record["page"]["url"] == retitled
    assert record["page"]["version_count"] == 2
    versions = record["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    assert "body_html" not in versions[0]
    assert versions[0]["title"] == title(expected, "state-1", retitled)
    assert versions[1]["title"] == title(expected, "state-2", retitled)
    assert [(c["change"], c["fields"]) for c in record["changes"]] == [
        ("new", []),
        ("modified", ["title"]),
    ]
    assert all(set(c) == CHANGE_KEYS for c in record["changes"])


def test_diff_shows_the_title_change(two_state_copy, retitled, expected):
    proc = run_cli("diff", retitled, db=two_state_copy)
    assert proc.returncode == 0, proc.stderr
    removed = [x for x in proc.stdout.splitlines() if x.startswith("-") and not x.startswith("---")]
    added = [x for x in proc.stdout.splitlines() if x.startswith("+") and not x.startswith("+++")]
    assert removed == [f"-# {title(expected, 'state-1', retitled)}"]
    assert added == [f"+# {title(expected, 'state-2', retitled)}"]
    same = run_cli("diff", retitled, "--from", "2", "--to", "2", db=two_state_copy)
    assert same.returncode == 0 and not same.stdout
    assert "--from and --to are both v2: nothing to compare" in same.stderr


def test_diff_of_a_missing_version_is_a_clear_error(two_state_copy, retitled):
    proc = run_cli("diff", retitled, "--to", "7", db=two_state_copy)
    assert proc.returncode == 1
    assert "has versions 1..2" in proc.stderr and "Traceback" not in proc.stderr


def test_history_of_a_moved_url_resolves_to_the_new_page(two_state_copy, expected):
    (move,) = expected["changes_1_to_2"]["moved"]
    record = cli_json(two_state_copy, "history", move["from"])
    assert record["page"]["url"] == move["to"]
    assert record["page"]["status"] == "live"
    assert record["versions"][0]["url"] == move["from"]  # history continues from the old URL
    moved = [c for c in record["changes"] if c["change"] == "moved"]
    assert [(c["url"], c["moved_from"]) for c in moved] == [(move["to"], move["from"])]
    text = run_cli("history", move["from"], db=two_state_copy)
    assert text.returncode == 0 and move["to"] in text.stdout


def test_history_of_an_unknown_url(two_state_copy):
    proc = run_cli("history", "https://www.aalto.fi/en/news/no-such-story", db=two_state_copy)
    assert proc.returncode == 1
    assert "is not in the archive" in proc.stderr and "Traceback" not in proc.stderr


def test_changes_json_matches_day_two(two_state_copy, expected):
    changes = expected["changes_1_to_2"]
    records = cli_json(two_state_copy, "changes")
    assert records and all(set(r) == CHANGE_KEYS for r in records)
    assert [r["id"] for r in records] == sorted((r["id"] for r in records), reverse=True)
    events = {(r["change"], r["url"]) for r in records}
    assert {("new", u) for u in changes["new"]} <= events
    assert {("removed", u) for u in changes["removed"]} <= events
    modified = {r["url"]: r for r in records if r["change"] == "modified"}
    assert set(modified) == {m["url"] for m in changes["modified"]}
    for m in changes["modified"]:
        record = modified[m["url"]]
        assert set(record["fields"]) == set(m["fields"])
        assert (record["previous_version"], record["version"]) == (1, 2)
        assert record["diff"].startswith("---")
    (move,) = changes["moved"]
    (moved,) = [r for r in records if r["change"] == "moved"]
    assert (moved["url"], moved["moved_from"]) == (move["to"], move["from"])
    assert not {u for c, u in events if c == "modified"} & set(changes["noise_only"])
    # Whichever twin is fetched first, the later URL's first event is `duplicate`.
    for dup in changes["duplicates"]:
        assert {c for c, u in events if u == dup["url"]} == {"duplicate"}


def test_changes_json_filters(two_state_copy):
    partners = cli_json(two_state_copy, "changes", "--kind", "partnership")
    assert partners and {r["kind"] for r in partners} == {"partnership"}
    assert cli_json(two_state_copy, "changes", "--since", "2999-01-01") == []
    removed = cli_json(two_state_copy, "changes", "--change", "removed")
    assert removed and {r["change"] for r in removed} == {"removed"}


def test_changes_of_an_unknown_run_is_a_usage_error(two_state_copy):
    proc = run_cli("changes", "--run", "999", db=two_state_copy)
    assert proc.returncode == 2
    assert "no run 999" in proc.stderr and proc.stdout == ""
