"""Redirect and robots.txt quirks another copy of the site may have (from the code review)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import crawl, run_cli
from tests.faultserver import STORIES, Fault, FaultServer, Page, article_html
from tests.test_faults import FAST, PUBLIC, baseline, export, site  # noqa: F401 (fixtures)

FIRST, SECOND = (f"/en/news/{slug}" for slug in STORIES)


def test_redirect_to_the_same_identity_is_followed(tmp_path: Path) -> None:
    """`/x` -> `/x/` (or another host spelling) is the same page, not a loop or a move."""
    with FaultServer() as srv:
        srv.set_page(FIRST, Page(Fault.redirect(FIRST + "/")))
        srv.set_page(FIRST + "/", Page(Fault.ok(article_html(FIRST).encode())))
        proc = crawl(tmp_path / "a.db", srv.url, spider="news", **FAST)
        hops = [r.path for r in srv.requests if r.path.rstrip("/") == FIRST]
    assert proc.returncode == 0, proc.stderr
    assert export(tmp_path / "a.db")[PUBLIC + FIRST]["status"] == "live"
    assert hops == [FIRST, FIRST + "/"]
    assert "a loop" not in proc.stderr


def test_temporary_redirect_is_not_a_move(site) -> None:  # noqa: F811
    srv, db = site
    srv.set_page(SECOND, Page(Fault.redirect("/en/notice", code=302)))
    proc = crawl(db, srv.url, spider="news", **FAST)
    assert proc.returncode in (0, 3), proc.stderr
    pages = export(db)
    assert pages[PUBLIC + SECOND]["status"] == "live"
    assert PUBLIC + "/en/notice" not in pages
    moves = run_cli("changes", "--json", "--change", "moved", db=db, check=True).stdout
    assert moves.strip() == "[]"


def test_missing_or_failing_robots_txt_still_discovers(tmp_path: Path) -> None:
    for n, robots in enumerate((Fault.status(404), Fault.status(503))):
        db = tmp_path / f"{n}.db"
        with FaultServer() as srv:
            srv.set_page("/robots.txt", Page(robots))
            proc = crawl(db, srv.url, spider="news", **FAST)
            paths = [r.path for r in srv.requests]
        assert "/sitemap.xml" in paths, proc.stderr
        assert PUBLIC + FIRST in export(db)


def test_bad_inputs_are_clear_errors_not_tracebacks(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    cases = [
        (["status"], junk, 1),
        (["changes"], empty, 1),
        (["feeds"], tmp_path / "missing.db", 1),
        (["export", "--since", "0001-01-01T00:00:00+01:00"], empty, 2),
        (["--base-url", "notaurl", "crawl"], tmp_path / "x.db", 2),
        (["serve", "--port", "99999"], tmp_path / "x.db", 2),
    ]
    for args, db, code in cases:
        proc = run_cli(*args, db=db)
        assert proc.returncode == code, (args, proc.stderr)
        assert "Traceback" not in proc.stderr, (args, proc.stderr)
    assert not (tmp_path / "missing.db").exists()  # a typo never creates an empty archive
