"""Hard resource bounds: their names, and how a run records that it reached one.

A bound is a config value (see Config) that no hostile or broken site can talk the crawler
past. Reaching one is recorded in the run's stats as `bounds/reached/<name>` = the limit; the
health check turns every such stat into a `bound_reached` alert (exit 3). A bound that ends
the whole run closes the crawl with STOP_REASON, so what was stored stays and feeds are built.
Any component may add a bound: call `spiders.bounds.reach_bound` with its config key's name.
"""

from __future__ import annotations

from typing import Any

STAT_PREFIX = "bounds/reached/"
STOP_REASON = "bound_reached"


def reached(stats: dict[str, Any]) -> dict[str, Any]:
    """{bound name: limit} of every bound a run's stats say it reached."""
    return {k[len(STAT_PREFIX) :]: v for k, v in stats.items() if k.startswith(STAT_PREFIX)}
