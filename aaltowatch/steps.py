"""A run is a list of contained steps: crawl, store, feeds, notify, metrics, health.

Every step runs even when one before it failed: a failing dashboard must not stop the
notifications, the metrics or the health feed. A failed step is logged, makes this run's rows
`failed` (exit code 1) with a `<step>_failed` alert, and is recorded per run in `run_steps`,
which `status` shows. `run --once`, `crawl` and the demo take their steps from here; the
scheduler runs `run --once` as a child process, so it gets the same steps (docs/DESIGN.md §9).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aaltowatch.core.config import Config
from aaltowatch.core.enums import RunStatus
from aaltowatch.core.errors import ArchiveWriteError, exit_code_for, one_line

log = logging.getLogger(__name__)


class Step(StrEnum):
    """The steps of a run, in the order they run (`run_steps.step`)."""

    CRAWL = "crawl"  # fetch the site, store pages and changes, health-check the crawl
    STORE = "store"  # derived data from what was stored: the partner registry
    FEEDS = "feeds"  # every feed, feeds.opml, index.html, dashboard.html
    NOTIFY = "notify"  # watches' change events to their targets
    METRICS = "metrics"  # the Prometheus textfile
    HEALTH = "health"  # health.xml/.atom and the index's alerts, from the alerts alone

    @property
    def alert(self) -> str:
        """The alert a failure of this step raises: `feeds_failed`, `notify_failed`, ..."""
        return f"{self.value}_failed"


class Outcome(StrEnum):
    """`run_steps.outcome`."""

    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


AFTER_CRAWL: tuple[Step, ...] = tuple(s for s in Step if s is not Step.CRAWL)


class PartsFailed(Exception):
    """A step that finished, but some of its parts (a feed, a chart) could not be made."""


@dataclass
class StepResult:
    step: Step
    outcome: Outcome
    error: str = ""
    duration_s: float = 0.0
    exc: Exception | None = field(default=None, repr=False)  # re-raised by `run --once`


@dataclass
class Steps:
    """The steps of one invocation and their outcomes; its runs are the crawl's summaries."""

    config: Config
    summaries: list[Any] = field(default_factory=list)
    results: list[StepResult] = field(default_factory=list)
    feeds_report: Any = None  # the feeds step's build, re-used by the health step's index

    @classmethod
    def crawled(cls, config: Config, summaries: list[Any]) -> Steps:
        """The steps of a crawl that has already run (the demo's, `crawl`'s): `crawl` ok."""
        return cls(config, summaries, [StepResult(Step.CRAWL, Outcome.OK)])

    @property
    def run_ids(self) -> list[int]:
        return [s.run_id for s in self.summaries if s.run_id is not None]

    @property
    def failed(self) -> list[StepResult]:
        return [r for r in self.results if r.outcome is Outcome.FAILED]

    def exit_code(self) -> int:
        """The crawl's verdict (0 ok, 3 unhealthy, 1 failed), and 1 if any step failed."""
        statuses = [s.status for s in self.summaries]
        if self.failed:
            statuses.append(RunStatus.FAILED)
        return exit_code_for(statuses)

    def run(
        self,
        step: Step,
        action: Callable[[], Any],
        archive: Any | None = None,
        *,
        quiet: bool = False,
    ) -> Any:
        """Run one step; a failure is recorded (and raised as an alert on `archive`), and
        logged unless `quiet` (the caller raises it again later, and the CLI prints it)."""
        started = time.monotonic()
        try:
            value = action()
        except Exception as exc:  # contained: the next step runs whatever this one did
            error = str(exc) if isinstance(exc, PartsFailed) else one_line(exc)
            if not quiet:
                log.error("step %s failed: %s", step, error)
            log.debug("step %s: the traceback", step, exc_info=True)  # -v
            self.results.append(
                StepResult(step, Outcome.FAILED, error, time.monotonic() - started, exc)
            )
            if archive is not None:
                self._raise_alert(archive, step, error)
            return None
        self.results.append(StepResult(step, Outcome.OK, "", time.monotonic() - started))
        return value

    def skip(self, step: Step) -> None:
        self.results.append(StepResult(step, Outcome.SKIPPED))

    def _raise_alert(self, archive: Any, step: Step, error: str) -> None:
        """The runs become `failed` (exit 1) with the step's alert; best effort, since the
        archive may be what failed."""
        message = f"step {step} failed: {error}"
        with suppress(OSError, sqlite3.Error, ArchiveWriteError):
            if self.run_ids:
                archive.runs.fail_runs(self.run_ids, step.alert, message)
            else:
                archive.runs.add_alert(None, step.alert, message)

    def record(self, archive: Any) -> None:
        """Every step's outcome on every run of this invocation (`run_steps`)."""
        with suppress(OSError, sqlite3.Error, ArchiveWriteError):
            for run_id in self.run_ids:
                for r in self.results:
                    archive.runs.add_step(run_id, r.step, r.outcome, r.error, r.duration_s)


def after_crawl(
    steps: Steps, archive: Any, only: Sequence[Step] = AFTER_CRAWL, skip: Sequence[Step] = ()
) -> None:
    """The steps after the crawl, in order, each contained; then their outcomes recorded."""
    actions: dict[Step, Callable[[], Any]] = {
        Step.STORE: lambda: _store(steps, archive),
        Step.FEEDS: lambda: _feeds(steps, archive),
        Step.NOTIFY: lambda: _notify(steps, archive),
        Step.METRICS: lambda: _metrics(steps),
        Step.HEALTH: lambda: _health(steps, archive),
    }
    for step in AFTER_CRAWL:
        if step in skip:
            steps.skip(step)
        elif step in only:
            steps.run(step, actions[step], archive)
    steps.record(archive)


def _store(steps: Steps, archive: Any) -> None:
    from aaltowatch.partners import refresh_partners

    refresh_partners(archive, steps.config)


def _feeds(steps: Steps, archive: Any) -> None:
    from aaltowatch.publish import publish_feeds

    report = publish_feeds(archive, steps.config)
    steps.feeds_report = report
    log.info("feeds: %d written, %d unchanged", len(report.written), len(report.unchanged))
    if report.failed:
        raise PartsFailed(_parts(report.failed))


def _notify(steps: Steps, archive: Any) -> None:
    from aaltowatch.notify.deliver import after_run, last_run

    after_run(steps.config, archive, last_run(steps.summaries))


def _metrics(steps: Steps) -> None:
    from aaltowatch.metrics import write_metrics

    path = steps.config.effective_metrics_file
    write_metrics(
        path,
        steps.summaries,
        exit_code=steps.exit_code(),
        finished_at=time.time(),
        failed_steps=len(steps.failed),
    )


def _health(steps: Steps, archive: Any) -> None:
    """Last, so the health feed and the index carry the alerts of every step before it."""
    from aaltowatch.publish import publish_health
    from feeds.build import FeedReport

    report = publish_health(archive, steps.config, steps.feeds_report or FeedReport())
    if report.failed:
        raise PartsFailed(_parts(report.failed))


def _parts(failed: dict[str, str]) -> str:
    """The failed parts in one bounded line: `news-en.xml (OSError: …); dashboard.html#…`."""
    text = "; ".join(f"{name} ({error})" for name, error in failed.items())
    return text if len(text) <= 1000 else text[:999] + "…"
