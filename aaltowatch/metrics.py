"""Prometheus textfile metrics after each run (node_exporter's textfile collector reads them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile


def write_metrics(path: Path, summaries: list[Any], *, exit_code: int, finished_at: float) -> None:
    registry = CollectorRegistry()
    labels = ["spider"]
    gauges = {
        name: Gauge(f"aaltowatch_run_{name}", help_text, labels, registry=registry)
        for name, help_text in (
            ("requests", "HTTP requests made by the last run"),
            ("pages", "Pages fetched and parsed by the last run"),
            ("not_modified", "Responses answered 304 in the last run"),
            ("new", "New pages found by the last run"),
            ("modified", "Modified pages found by the last run"),
            ("removed", "Pages removed (404/410) in the last run"),
            ("errors", "Failed requests and extractions in the last run"),
            ("alerts", "Health alerts raised by the last run"),
        )
    }
    for s in summaries:
        values = {
            "requests": s.requests,
            "pages": s.pages,
            "not_modified": s.not_modified,
            "new": s.new + s.duplicates,
            "modified": s.modified,
            "removed": s.removed,
            "errors": s.errors,
            "alerts": len(s.alerts),
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
