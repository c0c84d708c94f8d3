"""Secrets in notify URLs, in every Apprise syntax, never leave the config file.

Targets that fail (nothing listens on their port) and one that succeeds are sent the events of
two real runs over the snapshot (`-v`, so debug logging is on). Then every place aaltowatch
writes or shows anything is searched for each secret: every file under the run's directory
(archive, its WAL, feeds, health feed, index page, metrics), every text value of every table
and view of the archive, the logs and output of `run`, `status`, `watches` and `config show`,
and every table page `browse` serves.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from aaltowatch.testing.snapshot_server import SnapshotServer
from tests.browse import browsing
from tests.conftest import SNAPSHOT_DAYS, on_day, run_cli
from tests.mailserver import free_port
from tests.webhook import Webhook, running_webhook

# One distinct secret per Apprise syntax (letters and digits only: no encoding changes them).
SECRETS = {
    "mail password": "PwMail7q3k",
    "userinfo password (delivered)": "PwHook4x9z",
    "path token": "PathTok8m2w",
    "path token (delivered)": "PathTok5r7t",
    "workflow signature (Teams)": "SigTeams3v6y",
    "slack tokens": "SlackTokC9d1",
    "header": "HdrBearer6n4p",
    "header (delivered)": "HdrApiKey2b8c",
    "json payload parameter": "QPayload1j5h",
    "query parameter": "QToken7f2g",
    "form parameter": "FormKey9s3e",
}


def _targets(dead: int, live: int) -> list[str]:
    s = SECRETS
    return [
        f"mailto://staff:{s['mail password']}@127.0.0.1:{dead}"
        "?from=aaltowatch@example.org&to=staff@example.org&mode=insecure",
        f"json://hook:{s['userinfo password (delivered)']}@127.0.0.1:{live}/ok",
        f"json://127.0.0.1:{dead}/hooks/{s['path token']}/x",
        f"json://127.0.0.1:{live}/services/{s['path token (delivered)']}/y",
        f"workflow://127.0.0.1:{dead}/workflowid/{s['workflow signature (Teams)']}",
        f"slack://T1JJ3T3L2/A1BRTD4JD/{s['slack tokens']}/#general",
        f"json://127.0.0.1:{dead}/h?+Authorization=Bearer%20{s['header']}",
        f"json://127.0.0.1:{live}/z?+X-Api-Key={s['header (delivered)']}",
        f"json://127.0.0.1:{dead}/q?:token={s['json payload parameter']}",
        f"json://127.0.0.1:{dead}/r?token={s['query parameter']}",
        f"form://127.0.0.1:{dead}/?-api_key={s['form parameter']}",
    ]


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with running_webhook() as server:
        yield server


def _config(path: Path, targets: list[str]) -> Path:
    notify = ", ".join(json.dumps(t) for t in targets)
    path.write_text(
        f"""
[aaltowatch]
notify_interval_s = 0
notify_alert_after = 1

[[aaltowatch.watch]]
name = "helsinki"
query = "{{title lead}}: Helsinki"
match = "page"
notify = [{notify}]
""",
        encoding="utf-8",
    )
    return path


def _table_text(db: Path) -> dict[str, str]:
    """Every text value of every table and view, per table."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
                " AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '%_fts_%'"
            )
        ]
        return {
            name: "\n".join(repr(row) for row in conn.execute(f'SELECT * FROM "{name}"'))
            for name in names
        }
    finally:
        conn.close()


def _browse_pages(db: Path) -> dict[str, str]:
    """Every table and view page `browse` serves, as HTML and as JSON."""
    pytest.importorskip("datasette", reason="Datasette is not installed: pip install -e '.[web]'")
    with browsing(db, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as (_, base):

        def get(path: str) -> str:
            with urllib.request.urlopen(base + path, timeout=20) as response:
                return response.read().decode("utf-8", "replace")

        pages = {"/": get("/"), "/archive": get("/archive")}
        listing = json.loads(get("/archive.json"))
        names = [t["name"] for t in listing["tables"]] + [v["name"] for v in listing["views"]]
        for name in names:
            if "_fts" in name:
                continue
            for path in (f"/archive/{name}", f"/archive/{name}.json?_size=max"):
                pages[path] = get(path)
        return pages


def test_no_secret_of_any_apprise_syntax_leaves_the_config(tmp_path: Path, hook: Webhook) -> None:
    db, feeds, dead = tmp_path / "archive.db", tmp_path / "feeds", free_port()
    config = _config(tmp_path / "aaltowatch.toml", _targets(dead, hook.server_address[1]))
    base = ("--config", str(config), "--db", str(db))
    places: dict[str, str] = {}

    with SnapshotServer("state-1") as site:
        # On the snapshot's own days: a story is news on the day it was published (the
        # watches' baseline holds back what was published before a watch existed).
        for step, (state, day) in enumerate(
            zip(("state-1", "state-2"), SNAPSHOT_DAYS, strict=True), 1
        ):
            site.set_state(state)
            proc = run_cli(
                *base, "--base-url", site.url, "--feeds-dir", str(feeds), "-v", "run", "--once",
                **on_day(day),
            )  # fmt: skip
            assert proc.returncode == 0, proc.stderr
            places[f"run {step} log (-v)"] = proc.stderr + proc.stdout
    for command in (
        ("status",),
        ("status", "--json"),
        ("watches",),
        ("watches", "--json"),
        ("config", "show"),
        ("config", "check"),
    ):
        proc = run_cli(*base, *command)
        places[" ".join(command)] = proc.stdout + proc.stderr

    # The run did what the secrets are exposed by: deliveries, failures, their alerts.
    status = json.loads(places["status --json"])
    targets = status["notifications"]
    assert hook.posts
    assert len(targets) == len(SECRETS) and sum(t["failures"] > 0 for t in targets) >= 7
    alerts = [
        a for run in status["runs"] for a in run["alerts"] if a["check"] == "notification_failures"
    ]
    assert len(alerts) >= 7
    health = (feeds / "health.xml").read_text(encoding="utf-8")
    assert "notification_failures" in health
    for path in sorted(tmp_path.rglob("*")):
        if path.is_file() and path != config:
            places[f"file {path.relative_to(tmp_path)}"] = path.read_bytes().decode("latin-1")
    for table, text in _table_text(db).items():
        places[f"table {table}"] = text
    for page, text in _browse_pages(db).items():
        places[f"browse {page}"] = text

    hits = [
        (name, place)
        for name, secret in SECRETS.items()
        for place, text in places.items()
        if secret.lower() in text.lower()
    ]
    print(f"{len(SECRETS)} secrets planted, {len(places)} places searched, {len(hits)} hits")
    assert hits == []
    for target in targets:  # every target is named by its label
        assert " #" in target["target"] and target["target"] in places["status"]
