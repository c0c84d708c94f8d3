"""Consoles for people, whatever the terminal: cron logs and pipes get whole lines.

Rich assumes 80 columns when the output is not a terminal, which wraps error lines in a log
and cuts table headers ("reque…"). Outside a terminal (and without COLUMNS) lines are never
wrapped and tables get room for their full headers.
"""

from __future__ import annotations

import os

from rich.console import Console

PIPE_WIDTH = 160  # wide enough for every table's full headers; a log line is not cut at all


def make_console(*, stderr: bool = False) -> Console:
    console = Console(stderr=stderr, soft_wrap=True)
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console = Console(stderr=stderr, soft_wrap=True, width=PIPE_WIDTH)
    return console
