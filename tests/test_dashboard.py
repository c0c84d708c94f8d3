"""dashboard.html: charts from the archive, rebuilt like the feeds, shown by headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
from collections import Counter
from html import escape
from pathlib import Path

import pytest

from feeds.build import build_feeds
from feeds.dashboard import CHARTS
from feeds.serve import FeedServer
from storage import Archive

SLUGS = [chart[0] for chart in CHARTS]
BAR_BLUE = (31, 119, 180)  # matplotlib's first colour: a chart was painted
# Headless Chromium's own services (clock check, component updater, account check) call out
# whatever the page does and whatever the flags say; exactly these are not the page's requests.
BROWSER_OWN = (
    b"GET http://clients2.google.com/time/1/current?",
    b"POST http://update.googleapis.com/service/update2/json?",
    b"CONNECT update.googleapis.com:443 ",
    b"CONNECT accounts.google.com:443 ",
    b"CONNECT redirector.gvt1.com:443 ",
)


def marks(html: str, slug: str) -> int:
    return len(re.findall(rf'id="{re.escape(slug)}-mark-\d+"', html))


def test_empty_archive_gets_no_data_panels(tmp_path: Path) -> None:
    with Archive(tmp_path / "empty.db") as archive:
        build_feeds(archive, tmp_path / "feeds")
    html = (tmp_path / "feeds" / "dashboard.html").read_text(encoding="utf-8")
    assert html.count('data-empty="true"') == len(SLUGS)
    assert "<svg" not in html
    assert 'href="dashboard.html"' in (tmp_path / "feeds" / "index.html").read_text()


def test_labels_are_text_and_dates_at_the_ends_of_the_calendar_are_drawn() -> None:
    """Categories matplotlib would parse as mathtext, and years 1 and 9999 (padding the x axis
    around them used to overflow): one bar each, every label as written."""
    from feeds.dashboard import _month, _stacked

    labels = ["Costs $5 and $10", r"$\undefinedmacro$", "<b>&amp;</b>", "9999 $x"]
    rows = [
        {"month": month, "category": label, "count": 1}
        for month, label in zip(("2026-01", "2026-02", "0001-01", "9999-12"), labels, strict=True)
    ]
    svg = _stacked("c", "t", rows, "month", "category", _month, 25, "news items")
    assert marks(svg, "c") == 4
    for label in labels:
        assert f">{escape(label, quote=False)}</text>" in svg, label  # SVG text, as written


def test_a_chart_that_fails_is_a_placeholder_not_a_missing_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage import dashboard

    monkeypatch.setitem(dashboard.SQL, "run_health", "SELECT * FROM no_such_table")
    with Archive(tmp_path / "a.db") as archive:
        report = build_feeds(archive, tmp_path / "feeds")
    html = (tmp_path / "feeds" / "dashboard.html").read_text(encoding="utf-8")
    assert html.count('data-unavailable="true"') == 1
    assert html.count('data-empty="true"') == len(SLUGS) - 1
    assert list(report.failed) == ["dashboard.html#chart-crawl-health"]
    assert "no_such_table" in report.failed["dashboard.html#chart-crawl-health"]


def test_charts_count_what_the_archive_holds(two_state_copy: Path, tmp_path: Path, expected):
    out = tmp_path / "feeds"
    with Archive(two_state_copy) as archive:
        build_feeds(archive, out)
        again = build_feeds(archive, out)
    assert out / "dashboard.html" in again.unchanged  # a pure function of the archive
    html = (out / "dashboard.html").read_text(encoding="utf-8")
    for slug in SLUGS:
        assert f'id="chart-{slug}"' in html and marks(html, slug) > 0, slug
    # One bar per (publication month, language) of the live, non-duplicate news of day 2.
    news = Counter(
        ((p["published"] or "")[:7], p["lang"])
        for p in expected["state-2"]["pages"]
        if p["kind"] == "news" and not p.get("duplicate_of")
    )
    assert marks(html, "news-by-language") == len(news)
    assert "<text" in html and "news items" in html  # axis labels stay text
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)  # nothing fetched from outside


class Blackhole:
    """A proxy that records and refuses every connection: whatever reaches it left 127.0.0.1."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.seen: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    self.seen.append(conn.recv(1024).split(b"\r\n")[0])
                except OSError:
                    self.seen.append(b"?")

    def close(self) -> None:
        self.sock.close()


@pytest.mark.browser
@pytest.mark.skipif(
    shutil.which("chromium") is None, reason="chromium not installed: apt-get install chromium"
)
def test_chromium_renders_the_dashboard(two_state_copy: Path, tmp_path: Path) -> None:
    from PIL import Image

    out = tmp_path / "feeds"
    with Archive(two_state_copy) as archive:
        build_feeds(archive, out)
    log: list[str] = []
    proxy = Blackhole()
    shot = tmp_path / "dashboard.png"
    common = [
        "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-default-apps", "--disable-extensions",
        f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
        f"--proxy-server=http://127.0.0.1:{proxy.port}", "--proxy-bypass-list=127.0.0.1",
        "--window-size=1100,3000",
    ]  # fmt: skip
    env = {**os.environ, "HOME": str(tmp_path)}
    try:
        with FeedServer(out, port=0, log=log.append) as server:
            url = f"{server.url}dashboard.html"
            dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True,
                                 timeout=90, env=env)  # fmt: skip
            png = subprocess.run([*common, f"--screenshot={shot}", url], capture_output=True,
                                 text=True, timeout=90, env=env)  # fmt: skip
            # Control: a page that does reach out (an image, as `serve`'s CSP allows) is caught.
            (out / "probe.html").write_text('<img src="https://example.org/leak.png">')
            subprocess.run([*common, "--dump-dom", f"{server.url}probe.html"],
                           capture_output=True, timeout=90, env=env)  # fmt: skip
    finally:
        proxy.close()
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert png.returncode == 0, png.stderr[-2000:]
    for slug in SLUGS:
        assert marks(dom.stdout, slug) > 0, slug
    errors = [
        line for proc in (dom, png) for line in proc.stderr.splitlines()
        if "CONSOLE" in line or "Uncaught" in line or "Refused to" in line
    ]  # fmt: skip
    assert errors == []
    page_requests = [r for r in proxy.seen if not r.startswith(BROWSER_OWN)]
    assert page_requests == [b"CONNECT example.org:443 HTTP/1.1"]  # the probe's, nothing else
    requested = [re.search(r'"GET (\S+)', line).group(1) for line in log if '"GET ' in line]
    assert set(requested) - {"/favicon.ico"} == {"/dashboard.html", "/probe.html"}
    with Image.open(shot) as image:
        assert image.size == (1100, 3000)
        colours = {c for _, c in image.convert("RGB").getcolors(maxcolors=1 << 20)}
    assert BAR_BLUE in colours


def test_changes_per_week_shows_the_last_year_however_old_the_archive(tmp_path: Path) -> None:
    from datetime import date, timedelta

    from storage import dashboard as data

    archive = Archive(tmp_path / "archive.db")
    mondays = [date(2024, 1, 1) + timedelta(weeks=n) for n in range(150)]
    with archive.transaction():
        archive.conn.executemany(
            "INSERT INTO changes_weekly (week, change, count) VALUES (?, 'new', 3)",
            [(d.isoformat(),) for d in mondays],
        )
    weeks = [row["week"] for row in archive.charts.rows("changes_by_week")]
    archive.close()
    assert weeks == [d.isoformat() for d in mondays[-data.WEEK_HISTORY :]]
