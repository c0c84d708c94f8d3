"""Prometheus textfile metrics after each run (node_exporter's textfile collector reads them).

The scheduler crawls one spider per run, so a run rewrites only its own spiders' series and
carries the others over from the previous file: the file always describes every spider's last
run, and alert rules can look at `aaltowatch_run_healthy{spider="..."}` per spider.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile
from prometheus_client.parser import text_string_to_metric_families

from aaltowatch.figures import FIGURES, RunSummary

PREFIX = "aaltowatch_run_"
# Besides the run's figures (aaltowatch.figures): how the run ended.
RUN_OUTCOME = (
    ("failed_steps", "Steps of the last run that failed (feeds, notify, ...; aaltowatch.steps)"),
    ("healthy", "1 when the last run raised no alert, completed and no step failed, else 0"),
    ("exit_code", "Exit code of the last `run --once` that crawled this spider"),
    ("finished_timestamp_seconds", "When the last run of this spider finished (Unix time)"),
)
PER_SPIDER = tuple((f.name, f.help) for f in FIGURES) + RUN_OUTCOME


def _previous(path: Path) -> dict[str, dict[str, float]]:
    """Per-spider values from the last file: {metric suffix: {spider: value}}."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    values: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            spider = sample.labels.get("spider")
            if spider and sample.name.startswith(PREFIX):
                values.setdefault(sample.name.removeprefix(PREFIX), {})[spider] = sample.value
    return values


def write_metrics(
    path: Path,
    summaries: list[RunSummary],
    *,
    exit_code: int,
    finished_at: float,
    failed_steps: int = 0,
) -> None:
    """Write the textfile atomically (write_to_textfile renames a temporary file into place).
    `failed_steps`: the steps of this run that failed before the metrics were written."""
    registry = CollectorRegistry()
    gauges = {
        name: Gauge(PREFIX + name, help_text, ["spider"], registry=registry)
        for name, help_text in PER_SPIDER
    }
    this_run = {s.spider for s in summaries}
    for name, by_spider in _previous(path).items():
        if name in gauges:
            for spider, value in by_spider.items():
                if spider not in this_run:
                    gauges[name].labels(spider).set(value)
    for s in summaries:
        values = {
            **{f.name: f.value(s) for f in FIGURES},
            "failed_steps": failed_steps,
            "healthy": int(s.healthy and not s.interrupted and not failed_steps),
            "exit_code": exit_code,
            "finished_timestamp_seconds": finished_at,
        }
        for name, value in values.items():
            gauges[name].labels(s.spider).set(value)
    Gauge("aaltowatch_last_exit_code", "Exit code of the last run", registry=registry).set(
        exit_code
    )
    Gauge(
        "aaltowatch_last_run_finished_timestamp_seconds",
        "When the last run finished (Unix time)",
        registry=registry,
    ).set(finished_at)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry)
