"""Every run figure of the registry (aaltowatch.figures.FIGURES) reaches every output: the
`runs` row, `status` (table and --json), the Prometheus metrics, the crawl table and the demo.

Each figure gets its own value, so a figure shown under another's name fails too. And every
stats key constant has its writer.
"""

from __future__ import annotations

import importlib
import re
from io import StringIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console

from aaltowatch.core import runstats
from aaltowatch.core.config import Config
from aaltowatch.core.enums import ChangeKind
from aaltowatch.core.runstats import Counted, outcome_key
from aaltowatch.figures import COLUMNS, FIGURES, RunSummary
from storage import open_archive

# A run's Scrapy stats, every figure a different number (alerts: zero_items, error_rate).
STATS: dict[str, Any] = {
    "finish_reason": "finished",
    "downloader/request_count": 40,
    "downloader/response_count": 35,
    "downloader/response_status_count/304": 11,
    runstats.SKIPPED_LASTMOD: 7,
    runstats.ERRORS: 9,
    runstats.BAD_LINKS: 4,  # errors: 9 + 4 = 13
    outcome_key(Counted.PAGES): 0,
    outcome_key(ChangeKind.NEW): 5,
    outcome_key(ChangeKind.DUPLICATE): 1,  # new: 5 + 1 = 6
    outcome_key(ChangeKind.MODIFIED): 3,
    outcome_key(ChangeKind.REMOVED): 8,
    outcome_key(ChangeKind.MOVED): 14,
    outcome_key(ChangeKind.RESTORED): 15,
}


def crawled(archive: Any) -> RunSummary:
    """The stats above through the crawl's own summary step, into a recorded run."""
    from aaltowatch.crawl import _summarise

    run_id = archive.runs.start_run("news", "http://127.0.0.1:1")
    spider = SimpleNamespace(name="news", kind="news", run_id=run_id)
    crawler = SimpleNamespace(
        stats=SimpleNamespace(get_stats=lambda: {**STATS, runstats.RUN_ID: run_id}), spider=spider
    )
    return _summarise(archive, crawler, Config())


@pytest.fixture
def summary(tmp_path: Path) -> RunSummary:
    with open_archive(tmp_path / "archive.db") as archive:
        return crawled(archive)


def values(summary: RunSummary) -> dict[str, int]:
    found = {f.name: f.value(summary) for f in FIGURES}
    assert len(set(found.values())) == len(FIGURES), found  # each figure its own number
    return found


def figure_cells(text: str, lead: str) -> dict[str, str]:
    """The figures of the first row of a table printed as text (its first header `lead`), by
    header: they are its last columns, one word each."""
    lines = [line.split() for line in text.splitlines()]
    header = next(words for words in lines if words[:1] == [lead])
    row = next(words for words in lines[lines.index(header) + 1 :] if len(words) > len(FIGURES))
    n = len(FIGURES)
    return dict(zip(header[-n:], row[-n:], strict=True))


def shown(summary: RunSummary) -> dict[str, str]:
    """What a table should show: each figure's value under its header."""
    return {f.header: str(v) for f, v in zip(FIGURES, values(summary).values(), strict=True)}


def test_every_figure_is_stored_in_its_run_and_given_by_status_json(tmp_path: Path) -> None:
    from aaltowatch.status import status_report

    with open_archive(tmp_path / "archive.db") as archive:
        summary = crawled(archive)
        run = status_report(archive)["runs"][0]
        row = archive.runs.get(summary.run_id)
    for figure in FIGURES:
        value = figure.value(summary)
        if figure.column:
            assert row[figure.column] == value, figure.name
            assert run[figure.key] == value, figure.name
        else:  # alerts: rows of their own, listed by status
            assert len(run[figure.key]) == value, figure.name
    values(summary)


def test_every_stored_figure_is_a_column_of_runs(tmp_path: Path) -> None:
    """A new stored figure needs its column (a migration) before a run can be recorded."""
    with open_archive(tmp_path / "archive.db") as archive:
        columns = {r[1] for r in archive.conn.execute("PRAGMA table_info(runs)")}
    assert set(COLUMNS) <= columns


def test_every_figure_is_a_metric(tmp_path: Path, summary: RunSummary) -> None:
    from aaltowatch.metrics import PREFIX, write_metrics

    path = tmp_path / "aaltowatch.prom"
    write_metrics(path, [summary], exit_code=3, finished_at=100.0)
    samples = {
        s.name: s.value
        for family in text_string_to_metric_families(path.read_text(encoding="utf-8"))
        for s in family.samples
        if s.labels.get("spider") == "news"
    }
    assert {PREFIX + name: value for name, value in values(summary).items()}.items() <= (
        samples.items()
    )


def test_every_metric_is_in_the_operations_guide() -> None:
    guide = (Path(__file__).resolve().parents[1] / "docs" / "operations.md").read_text("utf-8")
    (listed,) = re.findall(r"`aaltowatch_run_\{([a-z_,]+)\}\{spider\}`", guide)
    assert listed.split(",") == [f.name for f in FIGURES]


def test_every_figure_is_in_the_crawl_table(summary: RunSummary) -> None:
    from aaltowatch.crawlcmd import print_summaries

    out = StringIO()
    print_summaries([summary], Console(file=out, width=160))
    cells = figure_cells(out.getvalue(), "spider")
    assert cells == shown(summary)


def test_every_figure_is_in_the_demo_table(tmp_path: Path, summary: RunSummary) -> None:
    from aaltowatch.demo import _print_summary

    out = StringIO()
    with open_archive(tmp_path / "demo.db") as archive:
        _print_summary(
            Console(file=out, width=160), archive, [summary], [], tmp_path, tmp_path, 1.0
        )
    cells = figure_cells(out.getvalue(), "day")
    assert cells == shown(summary)


def test_every_figure_is_in_the_status_table(tmp_path: Path) -> None:
    from aaltowatch.status import print_status, status_report

    with open_archive(tmp_path / "archive.db") as archive:
        summary = crawled(archive)
        report = status_report(archive)
    out = StringIO()
    print_status(report, Console(file=out, width=200))
    cells = figure_cells(out.getvalue().split("Recent runs", 1)[1], "id")
    assert cells == shown(summary)


def _source(*packages: str, skip: str = "") -> str:
    root = Path(__file__).resolve().parents[1]
    return "\n".join(
        p.read_text("utf-8")
        for package in packages
        for p in sorted((root / package).glob("*.py"))
        if p.name != skip
    )


@pytest.mark.parametrize(
    ("module", "writers"),
    [("aaltowatch.core.runstats", ("spiders", "pipeline")), ("spiders.statkeys", ("spiders",))],
)
def test_every_stats_key_has_its_writer(module: str, writers: tuple[str, ...]) -> None:
    """A key constant that no component writes is a figure that is always 0 (prefixes are
    written through `outcome_key` and `source_key`)."""
    keys = importlib.import_module(module)
    names = [
        name
        for name, value in vars(keys).items()
        if name.isupper()
        and isinstance(value, str)
        and value.startswith(runstats.PREFIX)
        and not name.endswith("PREFIX")  # written through outcome_key, source_key
    ]
    source = _source(*writers, skip="statkeys.py")
    assert names
    assert [name for name in names if not re.search(rf"\b{name}\b", source)] == []
