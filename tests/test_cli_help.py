"""The command line a person meets: --help with examples, environment and exit codes (from
their one home, aaltowatch.core.errors), and `make run` saying aaltowatch's exit code."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from aaltowatch.cli import cli
from aaltowatch.core.errors import EXIT_CODES, EXIT_UNHEALTHY
from tests.conftest import cli_env

ROOT = Path(__file__).resolve().parents[1]


def help_text(*args: str) -> str:
    result = CliRunner().invoke(cli, [*args, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())  # unwrapped


@pytest.mark.parametrize("command", [(), ("run",), ("crawl",)])
def test_help_lists_every_exit_code_from_its_one_home(command: tuple[str, ...]) -> None:
    text = help_text(*command)
    for code, meaning in EXIT_CODES.items():
        assert f"{code} {meaning}" in text


def test_main_help_has_examples_environment_and_defaults() -> None:
    text = help_text()
    assert "Examples: aaltowatch demo" in text and "aaltowatch run --once" in text
    for var in (
        "AALTOWATCH_DB",
        "AALTOWATCH_CONFIG",
        "AALTOWATCH_BASE_URL",
        "AALTOWATCH_FEEDS_DIR",
    ):
        assert f"env var: {var}" in text
    assert "AALTOWATCH_<NAME>" in text
    assert "default data/aaltowatch.db" in text and "default https://www.aalto.fi" in text


@pytest.mark.parametrize("command", ["search", "changes"])
def test_commands_show_examples_and_defaults(command: str) -> None:
    text = help_text(command)
    assert re.search(rf"Examples: aaltowatch {command} ", text), text
    if command == "search":
        assert "[default: 20; x>=1]" in text


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_says_aaltowatchs_exit_code(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on: the run ends unhealthy (3)
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    env = cli_env(
        AALTOWATCH_DB=str(tmp_path / "a.db"),
        AALTOWATCH_FEEDS_DIR=str(tmp_path / "feeds"),
        AALTOWATCH_BASE_URL=url,
    )
    # -o: the virtualenv counts as up to date (the test runs inside it).
    proc = subprocess.run(
        ["make", "-s", "-o", ".venv/.installed", "run"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr  # make's own code for any failure
    assert f"make run: aaltowatch exited {EXIT_UNHEALTHY}" in proc.stderr
