"""An archive knows its site: recorded at its first run, another site refused before any request."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from aaltowatch.core.config import Config
from aaltowatch.core.errors import EXIT_USAGE, OtherSiteError
from aaltowatch.core.site import LOCAL, Site, claim_site
from aaltowatch.demo import snapshot_site
from aaltowatch.testing.snapshot_server import SnapshotServer
from storage import open_archive
from tests.conftest import run_cli

REAL = "https://www.aalto.fi"


@pytest.mark.parametrize(
    ("base_url", "key"),
    [
        ("https://www.aalto.fi", "https://www.aalto.fi"),
        ("https://www.aalto.fi:443/", "https://www.aalto.fi"),
        ("http://mirror.example.org:8080", "http://mirror.example.org:8080"),
        ("http://127.0.0.1:8123", LOCAL),
        ("http://localhost:9", LOCAL),
    ],
)
def test_a_site_is_its_origin_and_every_local_port_is_one_mirror(base_url: str, key: str) -> None:
    assert Site.of(Config(base_url=base_url)).key == key


def test_the_demo_is_its_snapshot_whatever_its_port() -> None:
    first, second = snapshot_site("http://127.0.0.1:1111"), snapshot_site("http://127.0.0.1:2222")
    assert first.key == second.key != LOCAL
    assert "snapshot" in first.label


def test_first_claim_records_the_site_and_another_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    with open_archive(db) as archive:
        claim_site(archive, Site.of_url("http://127.0.0.1:1111"))
        claim_site(archive, Site.of_url("http://127.0.0.1:2222"))  # another port: same mirror
        with pytest.raises(OtherSiteError) as refused:
            claim_site(archive, Site.of_url(REAL))
        claim_site(archive, Site.of_url(REAL), allow_other=True)  # said explicitly
        assert Site.from_meta(archive.meta()) == Site(LOCAL, "http://127.0.0.1:1111")
    message = str(refused.value)
    assert "\n" not in message and REAL in message and "--allow-other-site" in message
    assert refused.value.exit_code == EXIT_USAGE


def test_an_older_archive_takes_the_site_of_its_first_run(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with open_archive(db) as archive:
        archive.runs.start_run("news", "http://127.0.0.1:4321")
    with sqlite3.connect(db) as conn:  # as an archive written before migration 0007
        conn.execute("DROP TABLE meta")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = '0012_site_identity'")
    with open_archive(db) as archive:
        assert Site.from_meta(archive.meta()) == Site(LOCAL, "http://127.0.0.1:4321")
        with pytest.raises(OtherSiteError):
            claim_site(archive, Site.of_url(REAL))


def _demo_archive(db: Path) -> None:
    with open_archive(db) as archive:
        claim_site(archive, snapshot_site("http://127.0.0.1:1111"))


@pytest.mark.parametrize("command", [("crawl", "--no-progress"), ("run", "--once")])
def test_the_demo_archive_refuses_the_real_site_in_one_line(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    """The README's prepared shell: `crawl` / `run --once` with the default base URL."""
    db = tmp_path / "demo.db"
    _demo_archive(db)
    proc = run_cli("--feeds-dir", str(tmp_path / "feeds"), *command, db=db, timeout=60)
    assert proc.returncode == EXIT_USAGE, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and REAL in lines[0], proc.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone() == (0,)
    assert not (tmp_path / "feeds").exists()


def test_the_demo_archive_refuses_a_local_mirror_before_any_request(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    _demo_archive(db)
    with SnapshotServer("state-1") as server:
        proc = run_cli("--base-url", server.url, "crawl", "--no-progress", db=db, timeout=60)
        assert proc.returncode == EXIT_USAGE, proc.stderr
        assert server.requests == []
        allowed = run_cli(
            "--base-url", server.url, "--allow-other-site", "crawl", "--spider", "partnerships",
            "--no-progress", db=db, timeout=120,
        )  # fmt: skip
        assert allowed.returncode == 0, allowed.stderr
        assert server.requests


def test_schedule_refuses_another_site_before_any_job(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    _demo_archive(db)
    proc = run_cli("--feeds-dir", str(tmp_path / "feeds"), "schedule", db=db, timeout=60)
    assert proc.returncode == EXIT_USAGE, proc.stderr
    assert "refusing to crawl" in proc.stderr and "scheduler started" not in proc.stderr


def test_the_schedulers_crawls_are_allowed_what_it_was_allowed(tmp_path: Path) -> None:
    from scheduler import crawl_command

    config = Config(db=tmp_path / "a.db", base_url=REAL)
    assert "--allow-other-site" not in crawl_command(config, None, "news")
    allowed = crawl_command(config.replace(allow_other_site=True), None, "news")
    assert allowed.index("--allow-other-site") < allowed.index("run")


def test_the_demo_refuses_an_archive_of_another_site(tmp_path: Path) -> None:
    """`demo --db` names the real archive: refused before the crawl, nothing added."""
    db = tmp_path / "real.db"
    with open_archive(db) as archive:
        claim_site(archive, Site.of_url(REAL))
    proc = run_cli("--feeds-dir", str(tmp_path / "feeds"), "demo", db=db, timeout=120)
    assert proc.returncode == EXIT_USAGE, proc.stderr
    assert "refusing to crawl the demo's bundled snapshot" in proc.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone() == (0,)
