"""Config values are checked against their declared ranges: one line, exit 2, before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from aaltowatch.core.config import Config, load_config
from aaltowatch.core.errors import ConfigError
from tests.conftest import run_cli


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[schedule]\nnews = "every 5 minutes"', "[schedule] news = 'every 5 minutes' is not a"),
        ('[schedule]\npartnerships = "61 * * * *"', "[schedule] partnerships = '61 * * * *'"),
        ("feed_max_entries = 0", "feed_max_entries = 0 must be at least 1"),
        ("feed_max_entries = -5", "feed_max_entries = -5 must be at least 1"),
        ("download_timeout = -1", "download_timeout = -1.0 must be greater than 0"),
        ("download_delay = -0.5", "download_delay = -0.5 must be at least 0"),
        ("crawl_delay_cap = -1", "crawl_delay_cap = -1.0 must be at least 0"),
        ("concurrent_requests_per_domain = 0", "must be at least 1"),
        ("retry_times = -1", "retry_times = -1 must be at least 0"),
        ("[health]\nmax_error_rate = 1.5", "[health] max_error_rate = 1.5 must be between 0 and 1"),
        ("[schedule]\nclose_grace_s = 0", "[schedule] close_grace_s = 0.0 must be greater than 0"),
        ('log_level = "LOUD"', "log_level = 'LOUD' must be one of"),
        ('feeds_base_url = "feeds/"', "feeds_base_url = 'feeds/' must be an absolute"),
    ],
)
def test_out_of_range_values_are_usage_errors(tmp_path: Path, toml: str, message: str) -> None:
    config_file = tmp_path / "c.toml"
    config_file.write_text(toml + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(config_file, environ={})
    assert message in str(raised.value)


def test_defaults_and_boundaries_are_valid() -> None:
    env = {"AALTOWATCH_FEED_MAX_ENTRIES": "1", "AALTOWATCH_DOWNLOAD_DELAY": "0"}
    config = load_config(environ=env)
    assert config.feed_max_entries == 1 and config.download_delay == 0
    assert load_config(environ={}) == Config()


def test_bad_cron_expression_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config_file = tmp_path / "c.toml"
    config_file.write_text('[schedule]\nnews = "*/30 * * *"\n', encoding="utf-8")
    proc = run_cli("--config", str(config_file), "schedule", db=tmp_path / "a.db")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: config: [schedule] news")
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "a.db").exists()
