"""Raw storage that grows with content: what is kept, how it is compressed, what `prune` drops."""

from __future__ import annotations

import hashlib
import random
import zlib
from pathlib import Path

from sqlite_utils import Database

from aaltowatch.core.config import load_config
from aaltowatch.core.items import CheckOutcome
from aaltowatch.prune import prune
from storage import Archive, migrations, open_archive, rawcodec
from tests.conftest import run_cli

URL = "https://www.aalto.fi/en/news/a-story"
AT = "2026-03-01T10:00:00Z"


def _page(n: int, noise: str = "") -> bytes:
    """A page of the site's shape: shared chrome, its own story, optional rotating noise."""
    chrome = "".join(f'<li><a href="/en/section-{i}">Section {i}</a></li>' for i in range(40))
    story = " ".join(f"word{(n * 7 + i) % 997}" for i in range(300))
    return (
        f"<html><head><title>Story {n}</title></head><body><nav><ul>{chrome}</ul></nav>"
        f"<article><h1>Story {n}</h1><p>{story}</p></article><aside>{noise}</aside>"
        "</body></html>"
    ).encode()


def _fetch(archive: Archive, url: str, body: bytes, at: str = AT) -> str:
    sha = hashlib.sha256(body).hexdigest()
    archive.fetches.record_fetch(url, status=200, fetched_at=at, body=body, sha256=sha)
    return sha


def _blobs(archive: Archive) -> set[str]:
    return {r[0] for r in archive.conn.execute("SELECT sha256 FROM responses")}


def _version_of(archive: Archive, url: str, sha: str) -> None:
    """A version extracted from the raw body `sha` (what `reextract` would replay)."""
    page_id = archive.pages.insert_page(
        {"url": url, "kind": "news", "lang": "en", "first_seen": AT, "last_seen": AT,
         "last_changed": AT}
    )  # fmt: skip
    archive.pages.add_version(
        {"page_id": page_id, "version": 1, "url": url, "fetched_at": AT, "content_hash": "h",
         "title": "t", "raw_sha256": sha}
    )  # fmt: skip


def test_a_noise_only_body_replaces_the_urls_latest_raw(tmp_path: Path) -> None:
    with open_archive(tmp_path / "a.db") as archive:
        first = _fetch(archive, URL, _page(1, "card 1"))
        with archive.transaction():
            _version_of(archive, URL, first)
        for day in range(2, 30):  # every revalidation: new bytes, the same story
            latest = _fetch(archive, URL, _page(1, f"card {day}"))
        assert _blobs(archive) == {first, latest}  # the version's raw and the URL's latest
        assert archive.fetches.cached_response(URL) == (_page(1, "card 29"), None)
        assert archive.fetches.raw_body(first) == _page(1, "card 1")


def test_a_dictionary_is_trained_and_older_blobs_stay_readable(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    bodies = {f"{URL}-{n}": _page(n) for n in range(rawcodec.MIN_TRAIN_SAMPLES + 20)}
    with open_archive(db) as archive:
        for url, body in bodies.items():
            _fetch(archive, url, body)
        assert archive.conn.execute("SELECT COUNT(*) FROM response_dicts").fetchone()[0] == 0
    with open_archive(db) as archive:  # the writer's upkeep trained it
        (dict_id,) = archive.conn.execute("SELECT id FROM response_dicts").fetchone()
        later = _page(10_000)
        sha = _fetch(archive, f"{URL}-later", later)
        assert tuple(
            archive.conn.execute(
                "SELECT codec, dict_id FROM responses WHERE sha256 = ?", (sha,)
            ).fetchone()
        ) == ("zstd", dict_id)
        assert archive.fetches.raw_body(sha) == later
        with_dict = archive.conn.execute(
            "SELECT length(body) FROM responses WHERE sha256 = ?", (sha,)
        ).fetchone()[0]
        assert with_dict < len(rawcodec.compress(later, None))
        # Bodies from before the dictionary: readable, and `prune` brings them onto it.
        assert all(
            archive.fetches.raw_body(hashlib.sha256(b).hexdigest()) == b for b in bodies.values()
        )
        report = prune(archive, load_config(environ={}))
        assert report["recompressed"] == len(bodies)
        assert {r[0] for r in archive.conn.execute("SELECT DISTINCT dict_id FROM responses")} == {
            dict_id
        }
        assert all(
            archive.fetches.raw_body(hashlib.sha256(b).hexdigest()) == b for b in bodies.values()
        )


def test_an_older_archive_loses_only_what_nothing_refers_to(tmp_path: Path) -> None:
    db = Database(tmp_path / "old.db")
    migrations.migrations.apply(db, stop_before="0014_cost")
    bodies = {name: _page(n) for n, name in enumerate(("version", "latest", "orphan"))}
    shas = {name: hashlib.sha256(body).hexdigest() for name, body in bodies.items()}
    db["responses"].insert_all(
        {"sha256": shas[name], "url": URL, "size": len(body), "body": zlib.compress(body, 1),
         "first_fetched_at": AT}
        for name, body in bodies.items()
    )  # fmt: skip
    db["fetches"].insert({"url": URL, "raw_sha256": shas["latest"], "http_status": 200})
    db["pages"].insert(
        {"id": 1, "url": URL, "kind": "news", "lang": "en", "first_seen": AT, "last_seen": AT,
         "last_changed": AT}
    )  # fmt: skip
    db["versions"].insert(
        {"page_id": 1, "version": 1, "url": URL, "fetched_at": AT, "content_hash": "h",
         "raw_sha256": shas["version"]}
    )  # fmt: skip
    db.close()
    with open_archive(tmp_path / "old.db") as archive:
        assert _blobs(archive) == {shas["version"], shas["latest"]}
        assert archive.fetches.raw_body(shas["version"]) == bodies["version"]  # zlib, still read
        assert archive.fetches.cached_response(URL) == (bodies["latest"], None)


def test_prune_drops_old_checks_keeps_summaries_and_vacuums(tmp_path: Path) -> None:
    config = load_config(environ={}).replace(prune_checks_after_days=30)
    with open_archive(tmp_path / "a.db") as archive:
        archive.conn.execute("PRAGMA auto_vacuum = NONE")  # as archives before 0007 are
        archive.conn.execute("VACUUM")
        with archive.transaction():
            _version_of(archive, URL, "none")
        for day in range(1, 29):
            archive.plan.add_check(
                URL, CheckOutcome.SAME, run_id=None, checked_at=f"2026-02-{day:02d}T00:00:00Z"
            )
        archive.plan.add_check(
            f"{URL}-gone", CheckOutcome.GONE, run_id=None, checked_at="2026-01-01T00:00:00Z"
        )
        stats = archive.plan.check_stats(1)
        report = prune(archive, config, now="2026-03-10T00:00:00Z")
        assert report["checks"] == 7  # Feb 1-7 are older than 30 days
        assert report["vacuum"] == "full"
        assert archive.plan.check_stats(1) == stats
        assert archive.plan.settled_unknown_urls() == {f"{URL}-gone"}
        assert len(archive.plan.checks_of_page(1, 100)) == 21
        with archive.transaction():  # bodies nothing refers to (as before 0007)
            archive.conn.executemany(
                "INSERT INTO responses (sha256, url, size, body, first_fetched_at)"
                " VALUES (?, ?, 0, randomblob(4000), ?)",
                [(f"orphan-{n}", URL, AT) for n in range(200)],
            )
        again = prune(archive, config, now="2026-03-10T00:00:00Z")
        assert (again["raws"], again["vacuum"]) == (200, "incremental")
        assert again["bytes_after"] < again["bytes_before"] - 500_000


def test_reextract_rebuilds_history_from_the_kept_raws_after_prune(two_state_copy: Path) -> None:
    proc = run_cli("prune", db=two_state_copy)
    assert proc.returncode == 0, proc.stderr
    assert "vacuum" in proc.stderr
    with open_archive(two_state_copy) as archive:
        live = archive.pages.count_pages("news") + archive.pages.count_pages("partnership")
        assert (
            archive.conn.execute(
                "SELECT COUNT(*) FROM versions v WHERE raw_sha256 IS NOT NULL AND NOT EXISTS"
                " (SELECT 1 FROM responses r WHERE r.sha256 = v.raw_sha256)"
            ).fetchone()[0]
            == 0
        )
        deltas = archive.conn.execute(
            "SELECT COUNT(*) FROM responses WHERE codec = ?", (rawcodec.DELTA,)
        ).fetchone()[0]
        assert deltas > 0  # reextract replays bodies stored as deltas
    proc = run_cli("reextract", db=two_state_copy)
    assert proc.returncode == 0, proc.stderr
    assert f"re-extracted {live} pages: 0 new versions, 0 errors" in proc.stderr


def test_a_writer_leaves_fresh_planner_statistics(tmp_path: Path) -> None:
    """`PRAGMA optimize` on close: the per-run queries keep their indexes as tables grow."""
    with open_archive(tmp_path / "a.db") as archive:
        with archive.transaction():
            for n in range(50):
                _version_of(archive, f"{URL}-{n}", f"sha-{n}")
        archive.pages.duplicates_of(URL, other_than=None)
    with open_archive(tmp_path / "a.db", readonly=True) as archive:
        tables = {r[0] for r in archive.conn.execute("SELECT tbl FROM sqlite_stat1")}
    assert "pages" in tables


def _stored(archive: Archive, sha: str) -> tuple[str, str | None, int]:
    row = archive.conn.execute(
        "SELECT codec, base, length(body) FROM responses WHERE sha256 = ?", (sha,)
    ).fetchone()
    return row[0], row[1], row[2]


def test_a_urls_later_bodies_are_deltas_against_its_keyframe(tmp_path: Path) -> None:
    with open_archive(tmp_path / "a.db") as archive:
        first = _fetch(archive, URL, _page(1))
        with archive.transaction():
            _version_of(archive, URL, first)
        edited = _fetch(archive, URL, _page(1).replace(b"word7 ", b"edited "))
        with archive.transaction():  # a second version refers to the edited body
            _version_of(archive, f"{URL}-2", edited)
        latest = _fetch(archive, URL, _page(1, "card 2"))
        assert _stored(archive, first)[:2] == (rawcodec.ZSTD, None)
        for sha in (edited, latest):
            codec, base, size = _stored(archive, sha)
            assert (codec, base) == (rawcodec.DELTA, first)
            assert size * 4 < _stored(archive, first)[2]
        assert archive.fetches.raw_body(edited) == _page(1).replace(b"word7 ", b"edited ")
        assert archive.fetches.cached_response(URL) == (_page(1, "card 2"), None)


def test_a_keyframe_stays_while_a_delta_refers_to_it(tmp_path: Path) -> None:
    with open_archive(tmp_path / "a.db") as archive:
        key = _fetch(archive, URL, _page(1, "card 1"))  # the URL's latest, then replaced
        later = _fetch(archive, URL, _page(1, "card 2"))
        assert _stored(archive, later)[:2] == (rawcodec.DELTA, key)
        assert archive.fetches.drop_unreferenced_raws() == 0
        assert archive.fetches.cached_response(URL) == (_page(1, "card 2"), None)
        archive.conn.execute("UPDATE fetches SET raw_sha256 = NULL")  # nothing refers now
        assert archive.fetches.drop_unreferenced_raws() == 2  # the delta, then its keyframe
        assert _blobs(archive) == set()


def test_a_body_with_new_markup_becomes_a_new_keyframe(tmp_path: Path) -> None:
    with open_archive(tmp_path / "a.db") as archive:
        _fetch(archive, URL, _page(1))
        redesigned = random.Random(1).randbytes(4000)  # nothing in common with the keyframe
        sha = _fetch(archive, URL, redesigned)
        assert _stored(archive, sha)[:2] == (rawcodec.ZSTD, None)
        assert archive.fetches.raw_body(sha) == redesigned


def test_an_archive_before_deltas_upgrades_and_prune_stores_its_bodies_as_deltas(
    tmp_path: Path,
) -> None:
    db = Database(tmp_path / "old.db")
    migrations.migrations.apply(db, stop_before="0016_raw_deltas")
    bodies = {n: _page(1, f"edit {n}") for n in range(1, 6)}
    shas = {n: hashlib.sha256(body).hexdigest() for n, body in bodies.items()}
    db["responses"].insert_all(
        {"sha256": shas[n], "url": URL, "size": len(body), "body": zlib.compress(body, 1),
         "first_fetched_at": f"2026-01-0{n}T00:00:00Z"}
        for n, body in bodies.items()
    )  # fmt: skip
    db["fetches"].insert({"url": URL, "raw_sha256": shas[5], "http_status": 200})
    db["pages"].insert(
        {"id": 1, "url": URL, "kind": "news", "lang": "en", "first_seen": AT, "last_seen": AT,
         "last_changed": AT}
    )  # fmt: skip
    db["versions"].insert_all(
        {"page_id": 1, "version": n, "url": URL, "fetched_at": AT, "content_hash": f"h{n}",
         "raw_sha256": shas[n]}
        for n in range(1, 5)
    )  # fmt: skip
    db.close()
    with open_archive(tmp_path / "old.db") as archive:
        assert all(archive.fetches.raw_body(shas[n]) == body for n, body in bodies.items())
        before = archive.conn.execute("SELECT SUM(length(body)) FROM responses").fetchone()[0]
        report = prune(archive, load_config(environ={}))
        assert report["deltas"] == 4
        assert [_stored(archive, shas[n])[:2] for n in bodies] == [
            (rawcodec.ZSTD, None),
            *[(rawcodec.DELTA, shas[1])] * 4,
        ]
        assert all(archive.fetches.raw_body(shas[n]) == body for n, body in bodies.items())
        after = archive.conn.execute("SELECT SUM(length(body)) FROM responses").fetchone()[0]
        assert after * 2 < before
        assert prune(archive, load_config(environ={}))["deltas"] == 0
