"""One lock file shared by `run --once` and the scheduler, so two crawls never overlap."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aaltowatch.core.errors import LockedError


@contextmanager
def run_lock(path: Path) -> Iterator[None]:
    """Non-blocking: a second run fails at once instead of queueing behind a long crawl."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = Path(path).read_text(encoding="utf-8", errors="replace").strip() or "?"
            raise LockedError(
                f"another aaltowatch run holds {path} (pid {holder}); not starting a second one"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)


def lock_is_free(path: Path) -> bool:
    """True when no run holds the lock (no lock file at all counts as free).

    Takes a shared lock for an instant and never writes, so read-only commands (`status`) can
    ask; a run starting in that instant exits 4 as if another run held the lock.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing drops the shared lock too
    return True
