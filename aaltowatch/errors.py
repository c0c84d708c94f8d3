"""Errors with a clear message for the user; the CLI maps them to exit codes."""


class AaltowatchError(Exception):
    """Base for expected failures: shown without a traceback."""

    exit_code = 1


class ExtractionError(AaltowatchError):
    """A page could not be turned into an item (not HTML, no article, undecodable)."""


class ConfigError(AaltowatchError):
    exit_code = 2


class LockedError(AaltowatchError):
    """Another run holds the lock."""

    exit_code = 4


class QueryError(AaltowatchError):
    """A malformed search query."""

    exit_code = 2
