"""Spidermon monitors: aaltowatch's health checks, shown in Scrapy's own log and stats.

The verdict that sets the exit code and the `alerts` rows comes from
`aaltowatch.core.health.check_run`; these monitors call that same function with the same
`[health]` thresholds when the spider closes, one monitor test per registered check (derived
from `aaltowatch.core.health.CHECKS`), so a failing check is also
visible where Scrapy users look (an ERROR "[Spidermon]" block in the log, and
`spidermon/failed/<check>` stats) without a second copy of the rules.
"""

from __future__ import annotations

import warnings
from typing import Any

from scrapy.exceptions import ScrapyDeprecationWarning
from spidermon import Monitor, MonitorSuite, monitors
from spidermon.core.actions import Action

from aaltowatch.core.health import CHECKS, Alert, check_run
from aaltowatch.core.runstats import RunStats

STATS_PREFIX = "spidermon/failed/"
# unittest (under Spidermon) leaves this module's frames out of failure reports: the log shows
# the alert text alone, not a traceback that reads like a crash.
__unittest = True
# Spidermon 1.27 still logs through Spider.log(), deprecated in Scrapy 2.13+; the lines are wanted.
warnings.filterwarnings(
    "ignore", message=r"Spider\.log\(\) is deprecated", category=ScrapyDeprecationWarning
)


class HealthMonitor(Monitor):
    """aaltowatch health checks (thresholds from the [health] config section)."""

    longMessage = False  # the alert text alone, not unittest's repr of the list

    def _alerts(self, check: str) -> list[Alert]:
        config = self.data.crawler.settings.get("AALTOWATCH_CONFIG")
        run = RunStats.from_scrapy(self.data.stats)
        found = check_run(self.data.spider.kind, run, config.health)
        return [a for a in found if a.check == check]

    def _assert_healthy(self, check: str) -> None:
        alerts = self._alerts(check)
        self.assertFalse(alerts, "; ".join(a.message for a in alerts))


def _test_for(check: str) -> Any:
    @monitors.name(check)
    def test(self: HealthMonitor) -> None:
        self._assert_healthy(check)

    test.__doc__ = f"no {check} alert"
    return test


for _check in CHECKS:
    setattr(HealthMonitor, f"test_{_check}", _test_for(_check))


class RecordFailures(Action):
    """Put each failed check in the crawl stats, which aaltowatch keeps with the run."""

    def run_action(self) -> None:
        stats = self.data.crawler.stats
        for result in self.result.monitors_failed_results:
            stats.set_value(STATS_PREFIX + result.monitor.method_name, 1)


class SpiderCloseMonitorSuite(MonitorSuite):
    """Run at spider close, after the item pipeline has set its outcome stats."""

    monitors = [HealthMonitor]
    monitors_failed_actions = [RecordFailures]
