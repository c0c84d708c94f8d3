"""Runs that never finished: a `running` row whose process is gone (killed, out of memory).

Such a run wrote no verdict, so judging only finished runs would call the archive healthy
while every crawl dies. A `running` row is *abandoned* when nobody holds the run lock and the
process it names (pid on this host) no longer exists. `status` reports it without writing;
the next `run`/`crawl` (which holds the lock) finishes it as `abandoned`, with an alert.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import Any

from aaltowatch.core.enums import RunStatus
from aaltowatch.core.lock import lock_is_free

log = logging.getLogger(__name__)

CHECK = "run_abandoned"


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def is_abandoned(run: dict[str, Any], *, lock_free: bool, host: str) -> bool:
    """Decide for one `running` row. A held lock means a run is alive; a live process on this
    host that did not take the lock (`demo`, plain `scrapy crawl`) is alive too."""
    if run.get("status") != RunStatus.RUNNING or not lock_free:
        return False
    pid = run.get("pid")
    if pid and run.get("host") == host:
        return not process_alive(int(pid))
    return True  # no pid recorded, or another host: the free lock is all there is to go by


def message(run: dict[str, Any]) -> str:
    who = f" (pid {run['pid']} on {run['host']})" if run.get("pid") else ""
    return (
        f"{run['spider']}: run {run['id']} started {run['started_at']} never finished{who}:"
        " its process died (killed or out of memory); nothing was judged or published by it"
    )


def stale_runs(archive: Any, lock_path: Path) -> list[dict[str, Any]]:
    """Abandoned runs still marked `running`; reads only (for `status`)."""
    running = archive.runs.running_runs()
    if not running:
        return []
    free, host = lock_is_free(lock_path), socket.gethostname()
    return [r for r in running if is_abandoned(r, lock_free=free, host=host)]


def close_abandoned(archive: Any) -> list[dict[str, Any]]:
    """Finish abandoned runs as `abandoned` with an alert; the caller holds the run lock."""
    host = socket.gethostname()
    closed = []
    for run in archive.runs.running_runs():
        if is_abandoned(run, lock_free=True, host=host) and archive.runs.abandon_run(
            run["id"], CHECK, message(run)
        ):
            log.error("%s", message(run))
            closed.append(run)
    return closed
