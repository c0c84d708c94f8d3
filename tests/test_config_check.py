"""`config check` (every problem, a line each, exit 2) and `config show` (the effective config as
TOML, from every layer, notify URLs by label)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import tomli_w
from click.testing import CliRunner, Result

from aaltowatch.cli import cli
from aaltowatch.core.config import load_config
from aaltowatch.core.watchconfig import target_label

SECRET = "Hdr5ecretK9"
HOOK = f"json://hooks.example.org/x?+Authorization=Bearer%20{SECRET}"
MAIL = f"mailto://staff:{SECRET}@smtp.example.org?to=a@example.org"


def _invoke(tmp_path: Path, toml: str, *args: str, **env: str) -> Result:
    path = tmp_path / "aaltowatch.toml"
    path.write_text(toml, encoding="utf-8")
    return CliRunner().invoke(cli, ["--config", str(path), *args], env=env)


GOOD = f"""
[aaltowatch]
download_delay = 0.5
retry_times = 5

[aaltowatch.health]
min_items = 2

[[aaltowatch.watch]]
name = "espoo"
query = "Espoo"
notify = ["{HOOK}", "{MAIL}"]
"""


def test_check_lists_every_problem_on_its_own_line(tmp_path: Path) -> None:
    toml = GOOD.replace("retry_times = 5", 'retry_times = -1\nbogus = 1\ndownload_timeout = "x"')
    toml = toml.replace("min_items = 2", "min_items = -2")
    result = _invoke(tmp_path, toml, "config", "check", AALTOWATCH_MAX_HEADER_BYTES="10")
    assert result.exit_code == 2
    problems = [line for line in result.output.splitlines() if line.startswith("problem: ")]
    wanted = ("'bogus'", "download_timeout", "retry_times", "min_items", "max_header_bytes")
    assert len(problems) == len(wanted)
    assert all(sum(setting in p for p in problems) == 1 for setting in wanted)
    assert result.output.splitlines()[-1] == "5 problems"
    assert SECRET not in result.output


def test_check_of_a_good_config_names_its_sources_and_targets_by_label(tmp_path: Path) -> None:
    result = _invoke(
        tmp_path, GOOD, "--base-url", "http://127.0.0.1:9", "config", "check",
        AALTOWATCH_RETRY_TIMES="7",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    file, environment, options, ok = result.output.splitlines()
    assert file.endswith("aaltowatch.toml (download_delay, health, watches)")
    assert environment == "environment: AALTOWATCH_RETRY_TIMES (retry_times)"
    assert options == "options: --base-url (base_url)"
    assert ok.startswith("ok: 1 watch, 2 notify targets: ")
    assert target_label(HOOK) in ok and target_label(MAIL) in ok
    assert SECRET not in result.output


def test_show_is_the_effective_config_as_toml_with_targets_by_label(tmp_path: Path) -> None:
    result = _invoke(
        tmp_path, GOOD, "--db", str(tmp_path / "a.db"), "config", "show",
        AALTOWATCH_RETRY_TIMES="7",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    assert "# environment: AALTOWATCH_RETRY_TIMES (retry_times)" in result.output
    shown = tomllib.loads(result.output)["aaltowatch"]
    assert (shown["download_delay"], shown["retry_times"]) == (0.5, 7)  # file < environment
    assert shown["db"] == str(tmp_path / "a.db") and shown["health"]["min_items"] == 2
    (watch,) = shown.pop("watch")
    assert watch["notify"] == [target_label(HOOK), target_label(MAIL)]

    # Without its watches, what `show` prints is a config file for the same config.
    again = tmp_path / "shown.toml"
    again.write_text(tomli_w.dumps({"aaltowatch": shown}), encoding="utf-8")
    effective = load_config(tmp_path / "aaltowatch.toml", {"db": tmp_path / "a.db"}, environ={})
    expected = effective.replace(retry_times=7, watches=())
    assert load_config(again, environ={}) == expected


def test_show_refuses_a_bad_config_with_its_problems(tmp_path: Path) -> None:
    result = _invoke(
        tmp_path, GOOD.replace("retry_times = 5", "retry_times = -1"), "config", "show"
    )
    assert result.exit_code == 2
    assert "retry_times = -1 must be at least 0" in result.output
    assert "[aaltowatch]" not in result.output


def test_a_notify_url_can_live_in_the_environment_variable_it_names(tmp_path: Path) -> None:
    toml = GOOD.replace(f'"{MAIL}"', '"env:AW_TEST_MAIL_URL"')
    path = tmp_path / "aaltowatch.toml"
    path.write_text(toml, encoding="utf-8")
    (watch,) = load_config(path, environ={"AW_TEST_MAIL_URL": MAIL}).watches
    assert watch.notify == (HOOK, MAIL)
    shown = _invoke(tmp_path, toml, "config", "show", AW_TEST_MAIL_URL=MAIL)
    assert target_label(MAIL) in shown.output and SECRET not in shown.output
    unset = _invoke(tmp_path, toml, "config", "check")
    assert unset.exit_code == 2
    assert "notify env:AW_TEST_MAIL_URL: the environment variable is not set" in unset.output
