"""E-mail notifications end to end: real crawls of the snapshot on its own days (libfaketime),
Apprise, a real SMTP server.

The baseline: day 1 is the archive's first crawl, and sends nothing. Exactly once: day 2 is
crawled, then a sender process dies (a real `os._exit`) right after the SMTP server accepted
the first day-2 message and before it could be recorded; the next run sends the rest, and one
more run sends nothing. Every day-2 match reaches the server once, with its date and snippet.
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
from aaltowatch.core.watchconfig import target_label
from aaltowatch.testing.snapshot_server import SnapshotServer
from storage import open_archive
from tests.conftest import SNAPSHOT_DAYS, cli_env, crawl, on_day, run_cli
from tests.mailserver import PASSWORD, MailServer, free_port

DAY1, DAY2 = SNAPSHOT_DAYS
DAY2_LATER = "2026-01-21 12:30:00"

CRASH_AFTER_SEND = """
import os, sys
from pathlib import Path
from aaltowatch.core.config import load_config
from aaltowatch.core.watchconfig import target_label
from aaltowatch.notify import deliver
from storage import open_archive
from storage.notifications import NotificationStore

config = load_config(Path(sys.argv[1]), {"db": sys.argv[2]})
NotificationStore.mark_sent = lambda *args, **kwargs: os._exit(9)  # the crash: sent, not recorded
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


def _run_once(db: Path, config: Path, server: SnapshotServer, feeds: Path, day: str) -> str:
    proc = run_cli(
        "--config", str(config), "--base-url", server.url, "--feeds-dir", str(feeds), "-v",
        "run", "--once", db=db, **on_day(day),
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
        logs.append(_run_once(db, config, server, feeds, DAY1))
        assert mail.messages == []  # the first crawl is the baseline: in the feed, not sent
        day1 = json.loads(run_cli("--config", str(config), "watches", "--json", db=db).stdout)
        assert day1[0]["matches"] > 0

        server.set_state("state-2")
        assert crawl(db, server.url, **on_day(DAY2)).returncode == 0  # stored, nothing sent yet
        crashed = subprocess.run(
            [sys.executable, "-c", CRASH_AFTER_SEND, str(config), str(db)],
            capture_output=True, text=True, timeout=120, env=cli_env(**on_day(DAY2)),
        )  # fmt: skip
        assert crashed.returncode == 9, crashed.stderr
        assert len(mail.messages) == 1  # the server has it; the archive does not know
        with sqlite3.connect(db) as conn:
            assert conn.execute(
                "SELECT COUNT(*) FROM notifications WHERE status = 'sending'"
            ).fetchone() == (1,)

        logs.append(_run_once(db, config, server, feeds, DAY2_LATER))  # the re-run after it
        after_rerun = len(mail.messages)
        logs.append(_run_once(db, config, server, feeds, DAY2_LATER))  # and one more: nothing
        assert len(mail.messages) == after_rerun

    watch = load_config(config).watches[0]
    with open_archive(db, readonly=True) as archive:
        matches = archive.watches.changes(watch, pushed_only=True, oldest_first=True)
        baseline = archive.watches.changes(watch)
    assert {m["detected_at"][:10] for m in matches} == {"2026-01-21"}  # day 2, all of it
    assert len(baseline) > len(matches)
    expected = Counter((m["change"].capitalize(), m["url"]) for m in matches)
    received = Counter(_event_key(m) for m in mail.messages)
    assert received == expected  # every day-2 match, each exactly once
    assert {c for c, _ in expected} >= {"New", "Modified"}

    # What a message says: subject, link, its date, why it matched, fields, a readable diff.
    for message in mail.messages:
        lines = message.get_content().splitlines()
        assert re.fullmatch(r"Published (\d{4}-\d{2}-\d{2}|no date on the page);"
                            r" detected 2026-01-21", lines[2]), lines[2]  # fmt: skip
        assert lines[3].startswith("Match: ") and "«Espoo»" in lines[3], lines[3]
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
    assert "Published 2026-01-21;" in new.get_content()

    # The crash is visible, and the password is nowhere: logs, status, feeds, archive.
    status = run_cli("--config", str(config), "status", "--json", db=db)
    report = json.loads(status.stdout)
    dead, smtp = report["notifications"]
    assert (smtp["events_sent"], smtp["events_unknown"]) == (sum(expected.values()) - 1, 1)
    # The dead target: failed in each of the 3 passes with news, alerted once (at 3), lost nothing.
    assert (dead["events_sent"], dead["consecutive_failures"]) == (0, 3)
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


def test_watch_test_send_marks_a_test_and_fails_on_a_dead_target(
    two_state_copy: Path, tmp_path: Path
) -> None:
    with MailServer() as mail:
        config = _config(tmp_path, mail)  # a dead webhook, then the SMTP server
        proc = run_cli(
            "--config", str(config), "watch", "test", "espoo", "--send", db=two_state_copy
        )  # fmt: skip
        labels = [target_label(url) for url in load_config(config).watches[0].notify]
    assert proc.returncode == 1, proc.stderr  # one target failed
    assert f"test message to {labels[0]}: FAILED" in proc.stderr
    assert f"test message to {labels[1]}: sent" in proc.stderr
    (message,) = mail.messages
    assert message["subject"] == "[aaltowatch: espoo] Test message"
    body = message.get_content()
    assert body.startswith("This is a test message of the aaltowatch watch 'espoo'")
    assert "«Espoo»" in body and "Published " in body  # its newest match, as a message shows it
    assert PASSWORD not in proc.stdout + proc.stderr
    with sqlite3.connect(two_state_copy) as conn:  # a test is not a delivery
        assert conn.execute("SELECT COUNT(*) FROM notifications").fetchone() == (0,)
