"""`run --once` end to end: one lock for concurrent runs, health alerts -> exit 3, metrics."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from aaltowatch.core.urls import KINDS, SPIDER_NAMES, content_kind
from aaltowatch.testing.snapshot_server import SnapshotServer
from tests.conftest import CLI, cli_env, run_cli
from tests.faultserver import FaultServer

PUBLIC = "https://www.aalto.fi"


def run_once(db: Path, base_url: str, spider: str = "news") -> subprocess.CompletedProcess[str]:
    return run_cli(
        "--base-url", base_url, "--feeds-dir", str(db.parent / "feeds"),
        "run", "--once", "--spider", spider, db=db,
    )  # fmt: skip


def status_json(db: Path) -> tuple[int, dict[str, Any]]:
    proc = run_cli("status", "--json", db=db)
    return proc.returncode, json.loads(proc.stdout)


def query(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def metrics(db: Path) -> dict[tuple[str, str], float]:
    """{(sample name, spider label): value} from the Prometheus textfile next to the DB."""
    text = (db.parent / "aaltowatch.prom").read_text(encoding="utf-8")
    return {
        (s.name, s.labels.get("spider", "")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_two_concurrent_runs_never_both_crawl(snapshot_server: SnapshotServer, tmp_path: Path):
    db = tmp_path / "archive.db"
    cmd = [*CLI, "--db", str(db), "--base-url", snapshot_server.url,
           "--feeds-dir", str(tmp_path / "feeds"), "run", "--once"]  # fmt: skip
    started = time.monotonic()
    procs = [
        subprocess.Popen(cmd, env=cli_env(), stderr=subprocess.PIPE, text=True) for _ in range(2)
    ]
    ended: dict[int, float] = {}
    while len(ended) < 2:
        for i, proc in enumerate(procs):
            if i not in ended and proc.poll() is not None:
                ended[i] = time.monotonic() - started
        time.sleep(0.05)
    codes = [proc.returncode for proc in procs]
    assert sorted(codes) == [0, 4], [proc.stderr.read() for proc in procs]
    loser = codes.index(4)
    message = " ".join(procs[loser].stderr.read().split())
    assert "another aaltowatch run holds" in message
    assert ended[loser] < ended[1 - loser]  # gave up at once instead of queueing
    # One crawl: one run per spider, and each spider's robots.txt fetched once.
    assert query(db, "SELECT spider FROM runs ORDER BY id") == [(s,) for s in SPIDER_NAMES]
    robots = [r for r in snapshot_server.requests if r.path == "/robots.txt"]
    # per spider: its own fetch + Scrapy's robots middleware
    assert len(robots) == 2 * len(SPIDER_NAMES)


def test_layout_drift_exits_3_and_stores_nothing(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    with SnapshotServer("state-1") as server:
        first = run_once(db, server.url)
    assert first.returncode == 0, first.stderr
    assert metrics(db)[("aaltowatch_run_healthy", "news")] == 1
    (first_run,) = query(db, "SELECT id FROM runs")

    def rename(path: str, body: bytes) -> bytes:
        return body.replace(b"aalto-article", b"xyz-article")

    with SnapshotServer("state-1", transform=rename) as server:
        second = run_once(db, server.url)
    assert second.returncode == 3, second.stderr
    assert "layout_drift" in second.stderr
    code, report = status_json(db)
    assert code == 3 and report["healthy"] is False
    latest = report["latest"]["news"]
    assert latest["status"] == "unhealthy"
    assert "layout_drift" in {a["check"] for a in latest["alerts"]}
    run_id = latest["id"]
    assert run_id != first_run[0]
    assert query(db, "SELECT COUNT(*) FROM versions WHERE run_id = ?", run_id) == [(0,)]
    assert query(db, "SELECT COUNT(*) FROM changes WHERE run_id = ?", run_id) == [(0,)]
    # The Spidermon monitor saw the same failure and left it in the run's stats.
    (stats,) = query(db, "SELECT stats FROM runs WHERE id = ?", run_id)[0]
    assert json.loads(stats).get("spidermon/failed/layout_drift") == 1
    values = metrics(db)
    assert values[("aaltowatch_run_healthy", "news")] == 0
    assert values[("aaltowatch_run_exit_code", "news")] == 3
    assert values[("aaltowatch_last_exit_code", "")] == 3


def test_zero_items_exits_3(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    with FaultServer(pages={}) as server:  # every path answers 404
        proc = run_once(db, server.url)
    assert proc.returncode == 3, proc.stderr
    code, report = status_json(db)
    assert code == 3
    assert "zero_items" in {a["check"] for a in report["latest"]["news"]["alerts"]}


class VanishingNews(SnapshotServer):
    """state-1, except that about four in five news articles answer the snapshot's 404 page."""

    def lookup(self, target: str, state: str | None = None) -> tuple[str, dict[str, Any]]:
        key, entry = super().lookup(target, state)
        kind = content_kind(PUBLIC + key)
        if kind and kind[0] == "news" and sum(key.encode()) % 5:
            states = self.manifest["states"]
            return key, {**states[state or self.state]["not_found"], "last_modified": None}
        return key, entry


def test_mass_disappearance_keeps_pages_live(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    with SnapshotServer("state-1") as server:
        assert run_once(db, server.url).returncode == 0
    live = status_json(db)[1]["pages"]["news_live"]
    assert live > 4
    with VanishingNews("state-1") as server:
        proc = run_once(db, server.url)
    assert proc.returncode == 3, proc.stderr
    code, report = status_json(db)
    assert code == 3
    alerts = report["latest"]["news"]["alerts"]
    assert [a["check"] for a in alerts] == ["mass_disappearance"], alerts
    assert report["pages"]["news_live"] == live
    assert report["pages"]["news_removed"] == 0
    assert query(db, "SELECT COUNT(*) FROM changes WHERE change = 'removed'") == [(0,)]


def test_metrics_keep_other_spiders_series(tmp_path: Path) -> None:
    """The scheduler crawls one spider per run: the other spider's last values must survive."""
    from aaltowatch.core.health import Alert
    from aaltowatch.core.runstats import RunStats
    from aaltowatch.figures import RunSummary
    from aaltowatch.metrics import write_metrics

    path = tmp_path / "aaltowatch.prom"
    both = [
        RunSummary("news", 1, RunStats(pages=5)),
        RunSummary("partnerships", 2, RunStats(pages=7)),
    ]
    write_metrics(path, both, exit_code=0, finished_at=100.0)
    drifted = RunSummary("news", 3, RunStats(pages=4), [Alert("layout_drift", "x")])
    write_metrics(path, [drifted], exit_code=3, finished_at=200.0)
    values = {
        (s.name, s.labels.get("spider", "")): s.value
        for family in text_string_to_metric_families(path.read_text(encoding="utf-8"))
        for s in family.samples
    }
    assert values[("aaltowatch_run_pages", "news")] == 4
    assert values[("aaltowatch_run_healthy", "news")] == 0
    assert values[("aaltowatch_run_alerts", "news")] == 1
    assert values[("aaltowatch_run_pages", "partnerships")] == 7
    assert values[("aaltowatch_run_healthy", "partnerships")] == 1
    assert values[("aaltowatch_run_finished_timestamp_seconds", "partnerships")] == 100.0
    assert values[("aaltowatch_last_exit_code", "")] == 3


def closed_port_url() -> str:
    """A 127.0.0.1 URL nothing listens on (the port was just free; every connection refused)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_offline_run_says_site_unreachable_in_one_line(tmp_path: Path) -> None:
    """The real-site `make run` without network: no tracebacks, no Spidermon block, no
    warnings of libraries; one alert line per spider that names the cause; exit 3."""
    db = tmp_path / "archive.db"
    proc = run_cli(
        "--base-url", closed_port_url(), "--feeds-dir", str(tmp_path / "feeds"),
        "run", "--once", db=db, AALTOWATCH_RETRY_TIMES="1",
    )  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    err = proc.stderr
    assert "Traceback" not in err and "[Spidermon]" not in err and "FAIL" not in err
    assert "Warning" not in err and "Gave up retrying" not in err
    alerts = [line for line in err.splitlines() if line.startswith("ALERT")]
    assert len(alerts) == len(KINDS)
    for alert, kind in zip(alerts, KINDS, strict=True):
        assert re.fullmatch(
            f"ALERT site_unreachable: {kind}: site unreachable, none of [0-9]+ requests got an"
            r" answer \(DownloadConnectionRefusedError\)"
            r"(; stopped after 5 connection failures in a row \([0-9]+ URLs given up, the rest"
            r" not tried\))?",
            alert,
        ), alert
    _, report = status_json(db)
    assert [a["check"] for a in report["latest"]["news"]["alerts"]] == ["site_unreachable"]
