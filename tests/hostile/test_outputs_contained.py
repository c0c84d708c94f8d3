"""One bad value must not silence the outputs: every step of a run runs, whatever failed.

Each case breaks one output of `run --once` (a chart, one feed's file, the metrics file, the
notification step) and checks that the other outputs were still written and the watch's
notification still sent, that the run records the failed step (`run_steps`) with an alert, that
the exit code is 1 (docs/DESIGN.md §9) and that `status` says unhealthy. `run --once` runs in
this process; its crawl is replaced by one that records a modified page, as a crawl would.
The chart text case crawls a crafted site for real.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feedparser
import pytest
from click.testing import CliRunner
from rich.console import Console

from aaltowatch import crawlcmd
from aaltowatch.cli import cli
from aaltowatch.core.config import Config, load_config
from aaltowatch.core.runstats import RunStats
from aaltowatch.figures import RunSummary
from aaltowatch.runonce import run_once
from aaltowatch.status import print_status, status_report
from pages.article import PageItem
from pipeline.recorder import Recorder
from storage import Archive
from tests.faultserver import Fault, Page, site_pages
from tests.hostile.conftest import hostile_run
from tests.hostile.server import HostileServer, article, rss
from tests.webhook import Webhook, running_webhook

URL = "https://www.aalto.fi/en/news/budget-story"
MATH = ("Costs $5 and $10", r"$\undefinedmacro$")
OUTPUTS = ("health.xml", "health.atom", "index.html", "feeds.opml", "dashboard.html")


@pytest.fixture
def hooks() -> Iterator[Webhook]:
    with running_webhook() as server:
        yield server


def _item(title: str) -> PageItem:
    return PageItem(
        url=URL,
        kind="news",
        lang="en",
        title=title,
        lead="What the budget covers.",
        body="The budget story, in full.",
        published="2026-01-20T10:00:00Z",
        updated="2026-01-20T10:00:00Z",
        categories=["Campus"],
        fetched_at="2026-01-21T10:00:00Z",
    )


def _recorded_run(db: Path, title: str) -> list[RunSummary]:
    """What a crawl of the news leaves: a finished, healthy run that stored `title`."""
    with Archive(db) as archive:
        run_id = archive.runs.start_run("news", "http://127.0.0.1")
        change = Recorder(archive, run_id).record_page(_item(title)).change
        archive.runs.finish_run(run_id, status="ok", exit_code=0)
    counted = RunStats(pages=1, **{"new" if change == "new" else "modified": 1})
    return [RunSummary("news", run_id, counted)]


@pytest.fixture
def site(tmp_path: Path, hooks: Webhook, monkeypatch: pytest.MonkeyPatch) -> Config:
    """An archive that has seen the story once; the next crawl finds it modified. A watch on
    it notifies the webhook."""
    toml = tmp_path / "aaltowatch.toml"
    toml.write_text(
        "[aaltowatch]\nnotify_interval_s = 0\n\n[[aaltowatch.watch]]\n"
        'name = "budget"\nquery = "budget"\nmatch = "page"\n'  # the edit is to the page
        f'notify = ["json://127.0.0.1:{hooks.server_port}/hook"]\n',
        encoding="utf-8",
    )
    config = load_config(toml, environ={}).replace(
        db=tmp_path / "archive.db",
        feeds_dir=tmp_path / "feeds",
        metrics_file=tmp_path / "metrics" / "aaltowatch.prom",
    )
    titles = iter(["Budget story", "Budget story, revised"])
    monkeypatch.setattr(
        crawlcmd, "crawl_archive", lambda *a: _recorded_run(config.db, next(titles))
    )
    run_once(config)  # the baseline run: every output written once, the story known
    hooks.posts.clear()
    return config


def _run(config: Config) -> tuple[int, dict[str, Any]]:
    code = run_once(config)
    with Archive(config.db, readonly=True) as archive:
        report = status_report(archive, lock_path=config.effective_lock_file)
    return code, report


def _steps(report: dict[str, Any]) -> dict[str, str]:
    return {s["step"]: s["outcome"] for s in report["latest"]["news"]["steps"]}


def _alerts(report: dict[str, Any]) -> list[str]:
    return [a["check"] for a in report["latest"]["news"]["alerts"]]


def _assert_other_outputs(config: Config, hooks: Webhook, *, but: tuple[str, ...] = ()) -> None:
    for name in OUTPUTS:
        if name not in but:
            assert (config.feeds_dir / name).exists(), name
    if "metrics" not in but:
        metrics = config.effective_metrics_file.read_text()
        assert "aaltowatch_last_exit_code 1.0" in metrics
        assert 'aaltowatch_run_healthy{spider="news"} 0.0' in metrics
        assert 'aaltowatch_run_failed_steps{spider="news"} 1.0' in metrics
    if "notify" not in but:
        assert any("revised" in post["message"] for post in hooks.posts), hooks.posts


def _assert_failed(code: int, report: dict[str, Any], step: str) -> None:
    assert code == 1
    assert report["healthy"] is False
    assert report["latest"]["news"]["status"] == "failed"
    steps = _steps(report)
    assert steps[step] == "failed", steps
    assert all(v == "ok" for k, v in steps.items() if k != step), steps
    assert f"{step}_failed" in _alerts(report)
    health = feedparser.parse(str(Path(report["_feeds"]) / "health.xml"))
    assert any(f"step {step} failed" in e.summary for e in health.entries)


def test_a_failing_chart_costs_that_chart(site: Config, hooks: Webhook, monkeypatch) -> None:
    """A chart whose data cannot be read (its query broken) is a placeholder; the rest of the
    dashboard and every other output stay."""
    from storage import dashboard

    broken = "SELECT month, category, count FROM no_such_view"
    monkeypatch.setitem(dashboard.SQL, "news_by_month_category", broken)
    code, report = _run(site)
    report["_feeds"] = str(site.feeds_dir)
    _assert_failed(code, report, "feeds")
    _assert_other_outputs(site, hooks)
    html = (site.feeds_dir / "dashboard.html").read_text(encoding="utf-8")
    assert html.count('data-unavailable="true"') == 1  # news-by-category only
    assert 'id="news-by-language-mark-0"' in html
    error = next(s for s in report["latest"]["news"]["steps"] if s["step"] == "feeds")["error"]
    assert "news-by-category" in error


def test_a_feed_that_cannot_be_written_costs_that_feed(site: Config, hooks: Webhook) -> None:
    (site.feeds_dir / "news-en.xml").unlink()
    (site.feeds_dir / "news-en.xml").mkdir()  # a directory where the file goes: EISDIR
    code, report = _run(site)
    report["_feeds"] = str(site.feeds_dir)
    _assert_failed(code, report, "feeds")
    _assert_other_outputs(site, hooks)
    assert "news-en.xml" in next(
        s["error"] for s in report["latest"]["news"]["steps"] if s["step"] == "feeds"
    )
    changes = feedparser.parse(str(site.feeds_dir / "changes.xml"))
    assert any("revised" in e.title for e in changes.entries)  # the other feeds moved on
    assert "news-en.xml" not in (site.feeds_dir / "feeds.opml").read_text()
    # `aaltowatch feeds` too: the rest rebuilt, the failed part named, exit 1.
    args = ["--db", str(site.db), "--feeds-dir", str(site.feeds_dir), "feeds"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert "FAILED news-en.xml: IsADirectoryError" in " ".join(result.output.split())


def test_an_unwritable_metrics_file_costs_the_metrics(site: Config, hooks: Webhook) -> None:
    site.effective_metrics_file.unlink()
    site.effective_metrics_file.mkdir()  # a directory where the file goes
    code, report = _run(site)
    report["_feeds"] = str(site.feeds_dir)
    _assert_failed(code, report, "metrics")
    _assert_other_outputs(site, hooks, but=("metrics",))
    console = Console(record=True, width=100)
    print_status(report, console)
    text = console.export_text()
    assert "step metrics: IsADirectoryError" in text and text.rstrip().endswith("unhealthy")


def test_a_failing_notify_step_costs_the_notifications(
    site: Config, hooks: Webhook, monkeypatch
) -> None:
    from storage.notifications import NotificationStore

    def locked(*args: Any) -> int:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(NotificationStore, "resolve_stale_claims", locked)
    code, report = _run(site)
    report["_feeds"] = str(site.feeds_dir)
    _assert_failed(code, report, "notify")
    _assert_other_outputs(site, hooks, but=("notify",))
    assert hooks.posts == []
    changes = feedparser.parse(str(site.feeds_dir / "changes.xml"))
    assert any("revised" in e.title for e in changes.entries)


def test_dollar_signs_in_categories_are_text(tmp_path: Path) -> None:
    """Teaser categories a chart library could read as markup (matplotlib's mathtext): a real
    crawl, every output, the labels drawn as written."""
    pages = site_pages()
    first = "https://www.aalto.fi/en/news/first-story"
    pages["/en/news/feed"] = Page(
        Fault.ok(rss([(first, "First", list(MATH))]), "application/rss+xml")
    )
    with HostileServer(pages) as srv:
        run = hostile_run(tmp_path, srv.url)
    assert run.proc.returncode == 0, run.proc.stderr[-2000:]
    for name in OUTPUTS:
        assert (run.feeds / name).exists(), name
    assert (tmp_path / "aaltowatch.prom").exists()
    html = (run.feeds / "dashboard.html").read_text(encoding="utf-8")
    assert "data-unavailable" not in html
    for label in MATH:  # drawn as written, as text
        assert f">{label}</text>" in html, label
    with sqlite3.connect(run.db) as conn:
        steps = conn.execute("SELECT step, outcome FROM run_steps ORDER BY id").fetchall()
    assert steps == [(s, "ok") for s in ("crawl", "store", "feeds", "notify", "metrics", "health")]


def test_page_data_that_breaks_the_feeds_cannot_stop_the_health_feed(
    site: Config, hooks: Webhook, monkeypatch
) -> None:
    """A page whose entry cannot be rendered breaks every feed that reads pages: the health
    feed and the index's alerts come from the alerts alone and are still published."""
    from feeds import build

    def broken(row: dict[str, Any]) -> Any:
        raise ValueError(f"cannot render {row['url']}")

    monkeypatch.setattr(build, "page_entry", broken)
    code, report = _run(site)
    report["_feeds"] = str(site.feeds_dir)
    _assert_failed(code, report, "feeds")
    _assert_other_outputs(site, hooks)
    index = (site.feeds_dir / "index.html").read_text(encoding="utf-8")
    alerts = index.split('id="alerts"')[1]
    assert "step feeds failed" in alerts and "cannot render" in alerts


def test_dates_at_the_ends_of_the_calendar_cannot_stop_the_outputs(tmp_path: Path) -> None:
    """Stories dated year 1 and year 9999: a real crawl, every output, every step ok."""
    pages = site_pages()
    for path, year in (("/en/news/first-story", "0001"), ("/en/news/second-story", "9999")):
        html = article(path, f"Story of {year}")
        pages[path] = Page(
            Fault.ok(html.replace("2026-01-10T08:00:00Z", f"{year}-01-01T00:00:00Z"))
        )
    with HostileServer(pages) as srv:
        run = hostile_run(tmp_path, srv.url)
    for name in OUTPUTS:
        assert (run.feeds / name).exists(), name
    html = (run.feeds / "dashboard.html").read_text(encoding="utf-8")
    assert "data-unavailable" not in html and 'id="news-by-language-mark-0"' in html
    with sqlite3.connect(run.db) as conn:
        outcomes = conn.execute("SELECT DISTINCT outcome FROM run_steps").fetchall()
    assert outcomes == [("ok",)]
