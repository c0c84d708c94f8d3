"""`aaltowatch prune`: drop what the retention policy allows, then give the space back."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from aaltowatch.core.config import Config
from aaltowatch.core.text import format_utc, parse_utc, utc_now
from storage import Archive


def _size(db: Path) -> int:
    """The archive on disk: its file and its write-ahead log."""
    wal = Path(f"{db}-wal")
    return db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def prune(archive: Archive, config: Config, now: str | None = None) -> dict[str, Any]:
    """Checks older than `prune_checks_after_days` (their summaries stay), raw bodies nothing
    refers to; kept keyframes are brought to zstd with the archive's dictionary, other bodies
    to deltas against their URL's keyframe; the watch matches are rewritten in order (their
    pages fill); then a vacuum."""
    now = now or utc_now()
    moment = parse_utc(now)
    if moment is None:
        raise ValueError(f"prune: not a time: {now!r}")
    size_before = _size(archive.path)
    checks = 0
    if config.prune_checks_after_days > 0:
        before = moment - timedelta(days=config.prune_checks_after_days)
        checks = archive.plan.prune_checks(format_utc(before))
    raws = archive.fetches.drop_unreferenced_raws()
    archive.fetches.train_raw_dictionary(now)
    recompressed = archive.fetches.recompress_raws()
    deltas = archive.fetches.delta_raws()
    archive.watches.compact_matches()
    vacuum = archive.reclaim_space()
    return {
        "checks": checks,
        "raws": raws,
        "recompressed": recompressed,
        "deltas": deltas,
        "vacuum": vacuum,
        "bytes_before": size_before,
        "bytes_after": _size(archive.path),
    }
