"""Readers (search, export, read-only queries) work while a crawl writes: WAL, no "locked"."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from pages.article import PageItem
from pipeline.recorder import Recorder
from storage import Archive


def item(n: int) -> PageItem:
    return PageItem(
        url=f"https://www.aalto.fi/en/news/concurrency-test-story-{n}",
        kind="news",
        lang="en",
        title=f"Concurrency story {n}",
        lead="A story written while others read.",
        body=f"Zebracorn number {n} visits Otaniemi.\n\nIt stays for {n} days.",
        published="2026-02-01T10:00:00Z",
        categories=["Campus"],
    )


def read_everything(path: Path) -> tuple[int, int, int]:
    """What an analyst does: search, export, and a plain query, each on its own connection."""
    with Archive(path, readonly=True) as archive:
        hits = len(archive.search.pages("zebracorn"))
        exported = sum(1 for _ in archive.queries.export_pages())
        live = archive.pages.count_pages()
    return hits, exported, live


def test_readers_see_committed_data_while_a_write_transaction_is_open(two_state_copy):
    _, exported, live = read_everything(two_state_copy)
    with Archive(two_state_copy) as writer:
        run_id = writer.runs.start_run("news", "http://127.0.0.1")
        with writer.transaction():
            Recorder(writer, run_id).record_page(item(1))
            # The writer holds the lock with uncommitted work: readers neither wait nor see it.
            started = time.monotonic()
            assert read_everything(two_state_copy) == (0, exported, live)
            assert time.monotonic() - started < 9  # no wait on the busy timeout (10 s)
        assert read_everything(two_state_copy) == (1, exported + 1, live + 1)


def test_readers_succeed_while_a_writer_commits_in_a_loop(two_state_copy):
    errors: list[BaseException] = []
    stop = threading.Event()
    written: list[int] = []
    reads: list[tuple[int, int, int]] = []

    def writer() -> None:
        try:
            with Archive(two_state_copy) as archive:
                recorder = Recorder(archive, archive.runs.start_run("news", "http://127.0.0.1"))
                n = 0
                while not stop.is_set():
                    n += 1
                    recorder.record_page(item(n))
                    written.append(n)
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        try:
            while not stop.is_set():
                reads.append(read_everything(two_state_copy))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer), *(threading.Thread(target=reader) for _ in "ab")]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert len(written) > 5 and len(reads) > 5
    hits = [r[0] for r in reads]
    assert max(hits) > min(hits)  # readers saw the writer's commits as they landed
    assert read_everything(two_state_copy)[0] == min(len(written), 20)  # search's default limit
