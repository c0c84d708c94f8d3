"""Replay stored raw HTML through the page objects and pipeline: parser fixes reach history."""

from __future__ import annotations

import logging
from typing import Any

from aaltowatch.core.config import Config
from aaltowatch.core.enums import ChangeKind, PageStatus, RunStatus
from aaltowatch.core.errors import ExtractionError
from aaltowatch.core.urls import content_kind
from aaltowatch.crawl import refresh_registry
from pages import parse_article
from pipeline.normalise import normalise
from pipeline.recorder import Recorder
from storage import Archive

log = logging.getLogger(__name__)


def reextract_all(archive: Archive, config: Config) -> dict[str, Any]:
    run_id = archive.runs.start_run("reextract", config.base_url)
    recorder = Recorder(archive, run_id, replay=True)
    report = {"pages": 0, "new_versions": 0, "errors": 0}
    for row in list(archive.fetches.stored_responses()):
        if content_kind(row["url"]) is None:
            continue
        page = archive.pages.page(row["url"])
        if page is None or page["status"] != PageStatus.LIVE:
            continue
        raw = archive.fetches.raw_body(row["raw_sha256"])
        try:
            item = parse_article(raw or b"", row["url"], content_type=row["content_type"])
        except ExtractionError as exc:
            log.warning("re-extraction failed for %s: %s", row["url"], exc)
            report["errors"] += 1
            continue
        outcome = recorder.record_page(normalise(item))
        report["pages"] += 1
        if outcome.change in (ChangeKind.MODIFIED, ChangeKind.RESTORED):
            report["new_versions"] += 1
    archive.runs.finish_run(run_id, status=RunStatus.OK, exit_code=0, stats=report)
    refresh_registry(archive, config)
    return report
