"""Watches in the config: parsed into frozen Watch objects, every mistake a one-line error
(exit 2) that never echoes a notify URL's secret; `watches` and `watch test` on a real archive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aaltowatch.core.config import load_config
from aaltowatch.core.errors import ConfigError
from aaltowatch.core.urls import KINDS
from aaltowatch.core.watchconfig import Watch
from tests.conftest import run_cli

SECRET = "hunter2-secret"
GOOD = f"""
[aaltowatch]
notify_alert_after = 5

[[aaltowatch.watch]]
name = "vantaa"
query = 'Vantaa OR "Vantaan kaupunki"'
kinds = ["news", "partnership"]
changes = ["new", "modified"]
notify = ["mailto://user:{SECRET}@smtp.example.org?to=staff@example.org",
          "json://hooks.example.org/aaltowatch"]

[[aaltowatch.watch]]
name = "cooperation-fi"
query = "Aalto-yliopisto"
langs = "fi"
categories = ["Cooperation"]
digest = "daily"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "aaltowatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_watches_load_as_frozen_dataclasses(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, GOOD), environ={})
    vantaa, coop = config.watches
    assert vantaa == Watch(
        name="vantaa",
        query='Vantaa OR "Vantaan kaupunki"',
        kinds=("news", "partnership"),
        changes=("new", "modified"),
        notify=vantaa.notify,
    )
    assert len(vantaa.notify) == 2
    assert SECRET not in repr(config)  # notify URLs stay out of reprs (and so out of logs)
    assert (coop.langs, coop.categories, coop.digest) == (("fi",), ("Cooperation",), "daily")
    assert config.notify_alert_after == 5


def _watch(**keys: str) -> str:
    table = {"name": '"w"', "query": '"Espoo"', **keys}
    return "[[aaltowatch.watch]]\n" + "\n".join(f"{k} = {v}" for k, v in table.items())


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (_watch(query='"\\"unclosed phrase"'), "unbalanced double quote"),
        (_watch(query='"Espoo AND"'), "need a search term on each side"),
        (_watch(query='"nosuchcolumn:Espoo"'), "no column 'nosuchcolumn'"),
        (_watch(query='""'), "empty search query"),
        (_watch(notify=f'["mailto://user:{SECRET}@"]'), "not a valid Apprise URL"),
        (_watch(notify=f'["nosuchservice://user:{SECRET}@host"]'), "not a valid Apprise URL"),
        (_watch(notify='["json://a.example.org json://b.example.org"]'), "not a valid Apprise"),
        (_watch(name='"Vantaa Watch"'), "lower-case letters"),
        (_watch(name='"../etc"'), "lower-case letters"),
        (_watch(kinds='["events"]'), "kinds has 'events'"),
        (_watch(changes='["duplicate"]'), "changes has 'duplicate'"),
        (_watch(langs='["de"]'), "langs has 'de'"),
        (_watch(digest='"hourly"'), 'digest must be "daily"'),
        (_watch(match='"words"'), 'match must be "changed"'),
        (_watch(notfiy='["json://x"]'), "unknown key 'notfiy'"),
        (_watch() + "\n" + _watch(), "two watches are named 'w'"),
        (
            _watch(notify='["json://u:one@h.example.org/x", "json://u:two@h.example.org/x"]'),
            "differ only in their secrets",
        ),
        ("[aaltowatch]\nwatches = []", "[[aaltowatch.watch]] tables"),
        ("[aaltowatch]\nnotify_alert_after = 0", "must be at least 1"),
        ("[aaltowatch]\nnotify_interval_s = -1", "must be at least 0"),
    ],
)
def test_bad_watches_are_one_line_config_errors(tmp_path: Path, toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, toml), environ={})
    text = str(info.value)
    assert message in text
    assert "\n" not in text and SECRET not in text


@pytest.mark.parametrize(
    "watch", [_watch(query='"Espoo AND"'), _watch(notify=f'["mailto://user:{SECRET}@"]')]
)
def test_cli_exits_2_on_a_bad_watch(tmp_path: Path, watch: str) -> None:
    proc = run_cli("--config", str(_write(tmp_path, watch)), "watches", COLUMNS="1000")
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and SECRET not in proc.stderr


def test_watches_lists_counts_and_watch_test_shows_matches(
    two_state_copy: Path, tmp_path: Path
) -> None:
    config = _write(
        tmp_path,
        GOOD + '\n[[aaltowatch.watch]]\nname = "nothing"\nquery = "xyzzyplugh"\n',
    )
    proc = run_cli("--config", str(config), "watches", "--json", db=two_state_copy)
    assert proc.returncode == 0, proc.stderr
    listed = {w["name"]: w for w in json.loads(proc.stdout)}
    assert SECRET not in proc.stdout
    assert listed["vantaa"]["matches"] > 0 and listed["nothing"]["matches"] == 0
    assert listed["vantaa"]["feed"] == "watch-vantaa.xml"
    assert len(listed["vantaa"]["notify"]) == 2

    tested = run_cli("--config", str(config), "watch", "test", "vantaa", "--json",
                     db=two_state_copy)  # fmt: skip
    events = json.loads(tested.stdout)
    assert len(events) == listed["vantaa"]["matches"]
    assert {e["change"] for e in events} <= {"new", "modified"}
    assert all(e["kind"] in KINDS for e in events)
    assert all("«Vantaa" in e["match"] for e in events)  # why each matched, highlighted
    assert not any(e["notified"] for e in events)  # crawled before the watch existed: history

    unknown = run_cli("--config", str(config), "watch", "test", "nope", db=two_state_copy)
    assert unknown.returncode == 2 and "no watch named 'nope'" in unknown.stderr


def test_no_watches_names_the_table_to_add(two_state_copy: Path) -> None:
    """The hint is shown as written, not eaten as console markup ("add [] tables")."""
    proc = run_cli("watches", db=two_state_copy)
    assert proc.returncode == 0
    assert "add [[aaltowatch.watch]] tables" in proc.stderr
