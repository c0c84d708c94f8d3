"""Notification target labels: no secret in any Apprise syntax, stable keys, and the upgrade of
archives keyed by Apprise's masked URLs (ledger kept, secrets gone from the file)."""

from __future__ import annotations

import pytest
from sqlite_utils import Database

from aaltowatch.core.targets import label
from aaltowatch.core.watchconfig import load_target, target_label
from storage import Archive, migrations

SECRET = "Zq7Secret"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"mailto://user:{SECRET}@smtp.example.org?to=a@example.org", "mailto://smtp.example.org"),
        (f"json://127.0.0.1:8080/hooks/{SECRET}", "json://127.0.0.1:8080"),
        (f"json://hooks.example.org/?+Authorization=Bearer%20{SECRET}", "json://hooks.example.org"),
        (f"json://[::1]:9/?:token={SECRET}", "json://[::1]:9"),
        (f"form://10.0.0.5/?-api_key={SECRET}", "form://10.0.0.5"),
        (f"xml://hooks.example.org/{SECRET}/x", "xml://hooks.example.org"),
        (f"slack://T1JJ3T3L2/A1BRTD4JD/{SECRET}", "slack"),
        (f"https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/{SECRET}", "slack"),
        (f"discord://4174216298/{SECRET}", "discord"),
        (f"pover://u4s3rkey@{SECRET}", "pover"),  # the token is where the host goes
        (f"tgram://123456789:{SECRET}/12345", "tgram"),
    ],
)
def test_a_label_is_scheme_plain_host_and_hash(url: str, shown: str) -> None:
    text = target_label(url)
    where, digest = text.split(" #")
    assert where == shown and len(digest) == 6
    assert SECRET.lower() not in text.lower()


def test_a_masked_password_can_be_rotated_a_header_cannot() -> None:
    base = "json://hook:{}@hooks.example.org/x"
    assert target_label(base.format("old")) == target_label(base.format("new"))
    header = "json://hooks.example.org/x?+Authorization=Bearer%20{}"
    assert target_label(header.format("old")) != target_label(header.format("new"))


def test_a_host_that_is_not_a_plain_host_name_is_left_out() -> None:
    for masked in (
        "slack://T...A/B...C",
        "x://a_b.example.org/",
        "x://jwt.eyJ0eXAi.Zm9v9/",
        "x://",
    ):
        assert label(masked).startswith(masked.split("://")[0] + " #")


def test_the_upgrade_relabels_the_ledger_in_place_and_the_secrets_leave_the_file(
    tmp_path,
) -> None:
    url = f"json://127.0.0.1:9/hooks/{SECRET}?+Authorization=Bearer%20{SECRET}"
    masked = load_target(url)[0].url(privacy=True)
    assert SECRET in masked  # what the old code stored
    path = tmp_path / "old.db"
    db = Database(path)
    db.execute("PRAGMA journal_mode = WAL")
    migrations.migrations.apply(db, stop_before="0008_target_labels")
    with db.conn:
        db.execute(
            "INSERT INTO notify_targets (watch, target, since_change, created_at,"
            " consecutive_failures) VALUES ('w', ?, 7, '2026-01-01T00:00:00Z', 3)",
            [masked],
        )
        db.execute(
            "INSERT INTO notifications (target_id, change_id, status, message, claimed_at)"
            " VALUES (1, 8, 'sent', 'event', '2026-01-01T00:00:00Z')"
        )
        db.execute(
            "INSERT INTO alerts (created_at, check_name, severity, message) VALUES"
            " ('2026-01-01T00:00:00Z', 'notification_failures', 'warning', ?)",
            [f"watch w: 3 deliveries in a row to {masked} failed; its events are kept"],
        )
    db.close()

    with Archive(path) as archive:
        row = archive.notifications.register_target("w", target_label(url))
        # The same subscription: its start, its failures and what it was sent are kept.
        assert (row["id"], row["since_change"], row["consecutive_failures"]) == (1, 7, 3)
        assert archive.notifications.delivered(row["id"]) == {8: "sent"}
        (message,) = archive.conn.execute("SELECT message FROM alerts").fetchone()
        assert message.startswith(f"watch w: 3 deliveries in a row to {target_label(url)} failed")
    for file in tmp_path.iterdir():
        assert SECRET.encode() not in file.read_bytes(), file.name
