"""Stop a crawl whose archive cannot be written (disk full, file size limit, I/O error).

Every further page would fail the same way, each with its own traceback; instead the crawl is
closed at the first refused write, the run is not judged (nothing about the site is known),
and the command ends with one line naming the archive and the reason.
"""

from __future__ import annotations

from typing import Any

ARCHIVE_UNWRITABLE = "archive_unwritable"  # the spider's finish_reason
STAT = "aaltowatch/archive_unwritable"  # the error's message, kept for the run's summary


def stop_unwritable(crawler: Any, exc: BaseException) -> None:
    """Close the spider once; later failures of the same kind add nothing."""
    from scrapy.utils.defer import deferred_from_coro

    if crawler.stats.get_value(STAT):
        return
    crawler.stats.set_value(STAT, str(exc))
    if crawler.engine is not None and crawler.engine.spider is not None:
        deferred_from_coro(crawler.engine.close_spider_async(reason=ARCHIVE_UNWRITABLE))


def unwritable(crawler: Any) -> bool:
    return bool(crawler.stats.get_value(STAT))
