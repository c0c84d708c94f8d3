"""End to end on the bundled snapshot: discovery, extraction into the archive, change detection.

Expectations come from the snapshot's own ground truth (expected.json), never from literals.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from aaltowatch.core.urls import SPIDER_NAMES
from aaltowatch.testing.snapshot_server import SnapshotServer
from tests.conftest import crawl, run_cli


def export(db: Path) -> dict[str, dict]:
    proc = run_cli("export", "--format", "ndjson", db=db, check=True)
    return {row["url"]: row for row in map(json.loads, proc.stdout.splitlines())}


def changes_of_last_runs(db: Path, runs: int = len(SPIDER_NAMES)) -> list[dict]:
    """The changes of the last crawl of every spider."""
    conn = sqlite3.connect(db)
    last = [r[0] for r in conn.execute("SELECT id FROM runs ORDER BY id DESC LIMIT ?", (runs,))]
    conn.close()
    out: list[dict] = []
    for run_id in last:
        proc = run_cli("changes", "--json", "--run", str(run_id), db=db, check=True)
        out.extend(json.loads(proc.stdout))
    return out


@pytest.fixture(scope="module")
def state1_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("state1") / "a.db"
    with SnapshotServer("state-1") as server:
        proc = crawl(db, server.url)
        assert proc.returncode == 0, proc.stderr
    return db


def test_state1_finds_every_content_page_and_nothing_else(state1_db: Path, expected: dict) -> None:
    pages = export(state1_db)
    truth = {p["url"]: p for p in expected["state-1"]["pages"]}
    assert set(pages) == set(truth)
    assert not set(pages) & set(expected["state-1"]["non_content_urls"])
    english_news = {u for u, p in truth.items() if p["kind"] == "news" and p["lang"] == "en"}
    assert english_news <= set(pages)


def test_state1_fields_reach_the_archive(state1_db: Path, expected: dict) -> None:
    pages = export(state1_db)
    for want in expected["state-1"]["pages"]:
        got = pages[want["url"]]
        for name in ("kind", "lang", "title", "lead", "published", "updated", "translations"):
            assert got[name] == want[name], (want["url"], name)
        assert sorted(got["categories"]) == sorted(want["categories"]), want["url"]
        assert [{k: c[k] for k in want["contacts"][0]} for c in got["contacts"]] == want[
            "contacts"
        ] or (not got["contacts"] and not want["contacts"]), want["url"]
        assert got["duplicate_of"] == want["duplicate_of"], want["url"]
        assert got["status"] == "live"
        assert got["url"].startswith("https://www.aalto.fi/")


def test_state2_reproduces_the_expected_change_list(two_state_db: Path, expected: dict) -> None:
    truth = expected["changes_1_to_2"]
    events = changes_of_last_runs(two_state_db)
    by_kind: dict[str, set] = {}
    for e in events:
        by_kind.setdefault(e["change"], set()).add(e["url"])
    assert by_kind.get("new", set()) == set(truth["new"])
    assert by_kind.get("removed", set()) == set(truth["removed"])
    assert by_kind.get("moved", set()) == {m["to"] for m in truth["moved"]}
    modified = {e["url"]: e["fields"] for e in events if e["change"] == "modified"}
    assert modified == {m["url"]: m["fields"] for m in truth["modified"]}
    for move in truth["moved"]:
        event = next(e for e in events if e["change"] == "moved" and e["url"] == move["to"])
        assert event["moved_from"] == move["from"]
    noisy = set(truth["noise_only"])
    assert not noisy & {e["url"] for e in events}
    assert set(by_kind) <= {"new", "modified", "removed", "moved"}


def test_state2_archive_matches_ground_truth(two_state_db: Path, expected: dict) -> None:
    pages = export(two_state_db)
    live = {u for u, p in pages.items() if p["status"] == "live"}
    assert live == {p["url"] for p in expected["state-2"]["pages"]}
    for dup in expected["changes_1_to_2"]["duplicates"]:
        assert pages[dup["url"]]["duplicate_of"] == dup["duplicate_of"]
    for url in expected["changes_1_to_2"]["removed"]:
        assert pages[url]["status"] == "removed"
    moved = expected["changes_1_to_2"]["moved"][0]
    assert moved["from"] not in pages
    history = json.loads(run_cli("history", moved["from"], "--json", db=two_state_db).stdout)
    assert history["page"]["url"] == moved["to"]


def test_recrawl_of_unchanged_state_adds_nothing_and_is_answered_by_304(
    two_state_copy: Path,
) -> None:
    conn = sqlite3.connect(two_state_copy)
    before = conn.execute("SELECT COUNT(*) FROM versions").fetchone()[0]
    with SnapshotServer("state-2") as server:
        proc = crawl(two_state_copy, server.url)
        assert proc.returncode == 0, proc.stderr
        statuses = [r.status for r in server.requests if r.path != "/robots.txt"]
    assert conn.execute("SELECT COUNT(*) FROM versions").fetchone()[0] == before
    last = "SELECT id FROM runs ORDER BY id DESC LIMIT ?"
    runs = conn.execute(last, (len(SPIDER_NAMES),)).fetchall()  # the crawl's, one per spider
    new_changes = conn.execute(
        f"SELECT COUNT(*) FROM changes WHERE run_id IN ({','.join(str(r[0]) for r in runs)})"
    ).fetchone()[0]
    assert new_changes == 0
    answered_200_or_304 = [s for s in statuses if s in (200, 304)]
    assert statuses.count(304) / len(answered_200_or_304) > 0.9


def test_crawl_honours_robots_crawl_delay_by_default(tmp_path: Path) -> None:
    """Without the cap lowered, robots.txt's Crawl-delay (1 s in the snapshot) spaces requests
    (kept for this local server by local_mirror_delays, as it is for the real site)."""
    with SnapshotServer("state-1") as server:
        started = time.monotonic()
        proc = run_cli(
            "--base-url", server.url, "crawl", "--spider", "partnerships", "--no-progress",
            db=tmp_path / "a.db", AALTOWATCH_CRAWL_DELAY_CAP="10",
            AALTOWATCH_LOCAL_MIRROR_DELAYS="true",
        )  # fmt: skip
        elapsed = time.monotonic() - started
        assert proc.returncode == 0, proc.stderr
        user_agents = {r.header("User-Agent") for r in server.requests}
        paths = [r.path for r in server.requests]
    # One slot, 1 s apart with at most ±50% jitter: n requests take at least (n - 2) / 2 s.
    assert elapsed >= (len(paths) - 2) * 0.5
    assert all(ua and ua.startswith("aaltowatch/") for ua in user_agents)
    assert paths.count("/robots.txt") >= 1
    assert not any(p.startswith(("/en/people", "/en/search")) for p in paths)


def test_local_mirror_drops_crawl_delay_with_the_other_delays(tmp_path: Path) -> None:
    """`--base-url http://127.0.0.1:…` with default settings: no politeness delay at all, so
    robots.txt's Crawl-delay (1 s) does not turn a seconds-long crawl into a minute."""
    with SnapshotServer("state-1") as server:
        started = time.monotonic()
        proc = run_cli(
            "-v", "--base-url", server.url, "crawl", "--no-progress",
            db=tmp_path / "a.db", AALTOWATCH_CRAWL_DELAY_CAP="10", AALTOWATCH_DOWNLOAD_DELAY="3",
        )  # fmt: skip
        elapsed = time.monotonic() - started
        n = len(server.requests)
    assert proc.returncode == 0, proc.stderr
    assert "robots.txt Crawl-delay 1.0s not applied to a local mirror" in proc.stderr
    # With the delay, n requests would take at least 3 (n - 2) s (AutoThrottle may halve it):
    # a third of that leaves a busy machine room.
    assert n > 30 and elapsed < (n - 2) * 1.5
