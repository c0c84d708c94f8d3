"""Errors with a clear message for the user, and the exit codes of docs/DESIGN.md §7."""

import os
from collections.abc import Iterable

from aaltowatch.core.enums import RunStatus

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNHEALTHY = 3  # ran, but a health check failed
EXIT_LOCKED = 4  # another run holds the lock; nothing was done

# What each exit code means to a person: the one list, shown by `--help`.
EXIT_CODES = {
    EXIT_OK: "done; every health check passed",
    EXIT_FAILED: "failed (no archive at --db, disk full, feeds not writable, stopped)",
    EXIT_USAGE: "usage error (bad option or config value, malformed search query, busy port,"
    " a crawl of another site than the archive holds)",
    EXIT_UNHEALTHY: "ran, but a health check failed (see `status`)",
    EXIT_LOCKED: "another run holds the lock; nothing was done",
}

# The exit code a run's status stands for (kept in `runs.exit_code`). A stopped (SIGTERM) or
# abandoned crawl did not finish its job: failed, neither healthy nor unhealthy.
RUN_EXIT_CODES = {
    RunStatus.OK: EXIT_OK,
    RunStatus.UNHEALTHY: EXIT_UNHEALTHY,
    RunStatus.FAILED: EXIT_FAILED,
    RunStatus.INTERRUPTED: EXIT_FAILED,
    RunStatus.ABANDONED: EXIT_FAILED,
}


def exit_code_for(statuses: Iterable[RunStatus]) -> int:
    """The process's exit code after runs (crawl, run --once, demo): the worst of theirs."""
    codes = {RUN_EXIT_CODES[s] for s in statuses}
    for code in (EXIT_FAILED, EXIT_UNHEALTHY):
        if code in codes:
            return code
    return EXIT_OK


def one_line(exc: BaseException) -> str:
    """An error in one line, for logs, alerts and `status` (no traceback), bounded."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


class AaltowatchError(Exception):
    """Base for expected failures: shown without a traceback."""

    exit_code = 1


class ExtractionError(AaltowatchError):
    """A page could not be turned into an item (not HTML, no article, undecodable)."""


class ConfigError(AaltowatchError):
    exit_code = EXIT_USAGE


class LockedError(AaltowatchError):
    """Another run holds the lock."""

    exit_code = EXIT_LOCKED


class PortError(AaltowatchError):
    """`serve`/`browse` cannot listen on the port asked for (busy, not allowed)."""

    exit_code = EXIT_USAGE

    @classmethod
    def binding(cls, host: str, port: int, exc: OSError) -> "PortError":
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        return cls(f"cannot listen on {host}:{port}: {reason.lower()}; choose another --port")


class QueryError(AaltowatchError):
    """A malformed search query."""

    exit_code = EXIT_USAGE


class OtherSiteError(AaltowatchError):
    """A crawl of another site than the one the archive holds (aaltowatch.core.site)."""

    exit_code = EXIT_USAGE


class NotAnArchiveError(AaltowatchError):
    """--db names another application's SQLite database: a usage error, and left untouched."""

    exit_code = EXIT_USAGE


class ArchiveWriteError(AaltowatchError):
    """The archive file cannot be written (disk full, file size limit, I/O error, read-only).

    Raised once per write instead of sqlite3's error, so the crawl stops with one clear line."""
