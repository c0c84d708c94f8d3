"""Webhook notifications (Apprise json://) to a local HTTP server: the first crawl sends nothing,
payload, failure and recovery, the health alert, daily digests, and secrets kept out of
everything aaltowatch writes. Runs happen on the snapshot's own days (libfaketime)."""

from __future__ import annotations

import base64
import json
import threading
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aaltowatch.core.config import load_config
from aaltowatch.notify.deliver import Limits, deliver
from aaltowatch.testing.snapshot_server import SnapshotServer
from storage import open_archive
from tests.conftest import on_day, run_cli
from tests.mailserver import free_port

TOKEN = "T0ken-s3cret"


class Hooks(ThreadingHTTPServer):
    """Receives Apprise's JSON posts; answers 401 to a wrong password, 400 to a bad payload."""

    def __init__(self, port: int) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        super().__init__(("127.0.0.1", port), HookHandler)


class HookHandler(BaseHTTPRequestHandler):
    server: Hooks

    def do_POST(self) -> None:
        expected = "Basic " + base64.b64encode(f"hook:{TOKEN}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            self.send_response(401)
            self.end_headers()
            return
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ok = (
            self.headers.get("Content-Type") == "application/json"
            and payload.get("version") == "1.0"
            and payload.get("type") == "info"
            and payload.get("title", "").startswith("[aaltowatch: ")
            and payload.get("message")
        )
        if ok:
            self.server.posts.append((self.path, payload))
        self.send_response(200 if ok else 400)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _config(tmp_path: Path, port: int) -> Path:
    hook = f"json://hook:{TOKEN}@127.0.0.1:{port}/hooks"
    path = tmp_path / "aaltowatch.toml"
    path.write_text(
        f"""
[aaltowatch]
notify_interval_s = 0
notify_alert_after = 1

[[aaltowatch.watch]]
name = "helsinki"
query = "{{title lead}}: Helsinki"
match = "page"  # an edit anywhere on a page about Helsinki
notify = ["{hook}/each"]

[[aaltowatch.watch]]
name = "helsinki-daily"
query = "{{title lead}}: Helsinki"
match = "page"
digest = "daily"
notify = ["{hook}/digest"]
""",
        encoding="utf-8",
    )
    return path


def _key(payload: dict[str, Any]) -> tuple[str, str]:
    label_line, url = payload["message"].splitlines()[:2]
    return label_line.split(":", 1)[0], url


def test_webhook_down_then_up_loses_nothing_and_sends_nothing_twice(tmp_path: Path) -> None:
    db, feeds, port = tmp_path / "archive.db", tmp_path / "feeds", free_port()
    config_file = _config(tmp_path, port)

    def run_once(server: SnapshotServer, day: str) -> str:
        proc = run_cli(
            "--config", str(config_file), "--base-url", server.url, "--feeds-dir", str(feeds),
            "-v", "run", "--once", db=db, **on_day(day),
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr  # a failing target never fails the run
        return proc.stderr

    def status() -> dict[str, Any]:
        proc = run_cli("--config", str(config_file), "status", "--json", db=db)
        assert TOKEN not in proc.stdout
        return json.loads(proc.stdout)

    with SnapshotServer("state-1") as site:
        # Nothing listens on the hook's port yet; day 1 is the baseline: nothing to send.
        logs = [run_once(site, "2026-01-20 20:00:00")]
        assert {t["watch"]: t["failures"] for t in status()["notifications"]} == {
            "helsinki": 0,
            "helsinki-daily": 0,
        }
        site.set_state("state-2")
        logs.append(run_once(site, "2026-01-21 12:00:00"))  # day 2's news, the hook down
        down = {t["watch"]: t for t in status()["notifications"]}
        assert down["helsinki"]["consecutive_failures"] == 1
        assert down["helsinki"]["events_sent"] == 0
        # The digest of today is not due yet: no attempt, no failure.
        assert down["helsinki-daily"]["failures"] == 0
        alerts = [
            a for run in status()["latest"].values() for a in run["alerts"]
            if a["check"] == "notification_failures"
        ]  # fmt: skip
        assert len(alerts) == 1 and down["helsinki"]["target"] in alerts[0]["message"]
        assert "notification_failures" in (feeds / "health.xml").read_text(encoding="utf-8")

        hooks = Hooks(port)
        threading.Thread(target=hooks.serve_forever, daemon=True).start()
        try:
            logs.append(run_once(site, "2026-01-21 12:30:00"))  # the backlog of day 2
            received = len(hooks.posts)
            logs.append(run_once(site, "2026-01-21 13:00:00"))  # a re-run sends nothing twice
            assert len(hooks.posts) == received

            config = load_config(config_file, {"db": db})
            each, daily = config.watches
            with open_archive(db) as archive:
                matches = archive.watches.changes(each, pushed_only=True, oldest_first=True)
                tomorrow = datetime(2026, 1, 22, 6, tzinfo=UTC)
                limits = Limits.from_config(config)
                first = deliver(archive, [daily], limits=limits, now=tomorrow)
                again = deliver(archive, [daily], limits=limits, now=tomorrow)
        finally:
            hooks.shutdown()
            hooks.server_close()

    sent = Counter(_key(p) for path, p in hooks.posts if path == "/hooks/each")
    assert sent == Counter((m["change"].capitalize(), m["url"]) for m in matches)
    assert {change for change, _ in sent} >= {"Modified"}
    up = {t["watch"]: t for t in status()["notifications"]}["helsinki"]
    assert (up["events_sent"], up["consecutive_failures"], up["failures"]) == (len(matches), 0, 1)

    # Daily digest: one message for the day's events, once.
    digests = [p for path, p in hooks.posts if path == "/hooks/digest"]
    assert first.messages == 1 and again.messages == 0 and len(digests) == 1
    assert digests[0]["title"].startswith(f"[aaltowatch: helsinki-daily] {len(matches)} changes on")
    for _, url in sent:
        assert url in digests[0]["message"]

    for output in logs:
        assert TOKEN not in output
    for path in [*feeds.iterdir(), db]:
        assert TOKEN.encode() not in path.read_bytes(), path.name
