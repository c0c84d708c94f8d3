"""E-mail notifications end to end: real crawls of the snapshot, Apprise, a real SMTP server.

Exactly once: day 1 is sent by its run; day 2 is crawled, then a sender process dies (a real
`os._exit`) right after the SMTP server accepted the first day-2 message and before it could be
recorded; the next run sends the rest, and one more run sends nothing. Every matching event
reaches the server once.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

from aaltowatch.core.config import load_config
from aaltowatch.testing.snapshot_server import SnapshotServer
from storage import open_archive
from storage.watches import watch_changes
from tests.conftest import cli_env, crawl, run_cli
from tests.mailserver import PASSWORD, MailServer, free_port

CRASH_AFTER_SEND = """
import os, sys
from pathlib import Path
from aaltowatch.core.config import load_config
from aaltowatch.notify import deliver
from storage import notifications, open_archive

config = load_config(Path(sys.argv[1]), {"db": sys.argv[2]})
notifications.mark_sent = lambda *args, **kwargs: os._exit(9)  # the crash: sent, not recorded
with open_archive(config.db) as archive:
    deliver.deliver(archive, config.watches, limits=deliver.Limits.from_config(config))
"""


def _config(tmp_path: Path, mail: MailServer) -> Path:
    path = tmp_path / "aaltowatch.toml"
    path.write_text(
        f"""
[aaltowatch]
notify_interval_s = 0  # a local test server needs no throttle between messages

[[aaltowatch.watch]]
name = "espoo"
query = "Espoo"
# A dead webhook first: a failing target must not hold up the next one.
notify = ["json://127.0.0.1:{free_port()}/down", "{mail.url()}"]
""",
        encoding="utf-8",
    )
    return path


def _run_once(db: Path, config: Path, server: SnapshotServer, feeds: Path) -> str:
    proc = run_cli(
        "--config", str(config), "--base-url", server.url, "--feeds-dir", str(feeds), "-v",
        "run", "--once", db=db,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def _event_key(message) -> tuple[str, str]:
    """(change label, URL): the first two lines of a single-event message."""
    label_line, url = message.get_content().splitlines()[:2]
    return label_line.split(":", 1)[0], url


def test_each_event_reaches_the_smtp_server_exactly_once(tmp_path: Path) -> None:
    db, feeds = tmp_path / "archive.db", tmp_path / "feeds"
    logs = []
    with MailServer() as mail, SnapshotServer("state-1") as server:
        config = _config(tmp_path, mail)
        logs.append(_run_once(db, config, server, feeds))
        day1 = len(mail.messages)
        assert day1 > 0

        server.set_state("state-2")
        assert crawl(db, server.url).returncode == 0  # day 2 stored, nothing sent yet
        crashed = subprocess.run(
            [sys.executable, "-c", CRASH_AFTER_SEND, str(config), str(db)],
            capture_output=True, text=True, timeout=120, env=cli_env(),
        )  # fmt: skip
        assert crashed.returncode == 9, crashed.stderr
        assert len(mail.messages) == day1 + 1  # the server has it; the archive does not know
        with sqlite3.connect(db) as conn:
            assert conn.execute(
                "SELECT COUNT(*) FROM notifications WHERE status = 'sending'"
            ).fetchone() == (1,)

        logs.append(_run_once(db, config, server, feeds))  # the re-run after the crash
        after_rerun = len(mail.messages)
        logs.append(_run_once(db, config, server, feeds))  # and one more: nothing new
        assert len(mail.messages) == after_rerun

    watch = load_config(config).watches[0]
    with open_archive(db, readonly=True) as archive:
        matches = watch_changes(archive, watch, oldest_first=True)
    expected = Counter((m["change"].capitalize(), m["url"]) for m in matches)
    received = Counter(_event_key(m) for m in mail.messages)
    assert received == expected  # every matching event, each exactly once
    assert {c for c, _ in expected} >= {"New", "Modified"}

    # What a message says: subject, link, fields, a readable diff.
    modified = next(m for m in mail.messages if _event_key(m)[0] == "Modified")
    assert re.match(r"\[aaltowatch: espoo\] Modified: .+", modified["subject"])
    assert modified["to"] == "staff@example.org"
    body = modified.get_content()
    assert "Changed fields: body" in body
    # Removed and added text marked in the text itself: no mail client shows <del>/<ins>.
    assert re.search(r"\[-.+?-\]|\{\+.+?\+\}", "\n".join(body.splitlines()[3:]))
    assert "aaltowatch watch 'espoo': Espoo (change " in body
    new = next(m for m in mail.messages if _event_key(m)[0] == "New")
    assert new["subject"].startswith("[aaltowatch: espoo] New: ")

    # The crash is visible, and the password is nowhere: logs, status, feeds, archive.
    status = run_cli("--config", str(config), "status", "--json", db=db)
    report = json.loads(status.stdout)
    dead, smtp = report["notifications"]
    assert (smtp["events_sent"], smtp["events_unknown"]) == (sum(expected.values()) - 1, 1)
    # The dead target: failed in each of the 4 delivery passes, alerted once (at 3), lost nothing.
    assert (dead["events_sent"], dead["consecutive_failures"]) == (0, 4)
    alerts = [
        a for r in report["runs"] for a in r["alerts"] if a["check"] == "notification_failures"
    ]
    assert len(alerts) == 1 and dead["target"] in alerts[0]["message"]
    watches = run_cli("--config", str(config), "watches", db=db).stdout
    text = run_cli("--config", str(config), "status", db=db).stdout
    for output in [*logs, status.stdout, text, watches]:
        assert PASSWORD not in output
    assert smtp["target"].startswith("mailto://127.0.0.1:")  # the label: no user, no password
    for path in [*feeds.iterdir(), db]:
        assert PASSWORD.encode() not in path.read_bytes(), path.name
