"""A live progress display of crawls (rich), fed by Scrapy signals from the reactor thread."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


class CrawlProgress:
    """One line per spider: responses received and pages stored, updated as they happen."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.fields[label]}"),
            BarColumn(bar_width=None, pulse_style="cyan"),
            TextColumn("{task.fields[responses]} responses · {task.fields[pages]} pages"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )

    def __enter__(self) -> CrawlProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def attach(self, crawler: Any, label: str) -> None:
        from scrapy import signals

        task = self.progress.add_task(label, total=None, label=label, responses=0, pages=0)
        counts = {"responses": 0, "pages": 0}

        def on_response(*args: Any, **kwargs: Any) -> None:
            counts["responses"] += 1
            self.progress.update(task, responses=counts["responses"])

        def on_item(*args: Any, **kwargs: Any) -> None:
            counts["pages"] += 1
            self.progress.update(task, pages=counts["pages"])

        def on_closed(*args: Any, **kwargs: Any) -> None:
            self.progress.update(task, total=1, completed=1)

        crawler.signals.connect(on_response, signal=signals.response_received, weak=False)
        crawler.signals.connect(on_item, signal=signals.item_scraped, weak=False)
        crawler.signals.connect(on_closed, signal=signals.spider_closed, weak=False)
