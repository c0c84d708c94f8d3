"""Collect the SQL an aaltowatch command runs: `python -m tests.sqltrace OUT -- ARGS...` runs
`aaltowatch ARGS...` with every SQLite connection traced into OUT (one statement a line)."""

from __future__ import annotations

import runpy
import sqlite3
import sys
from typing import Any, TextIO


def trace_into(conn: sqlite3.Connection, out: TextIO) -> None:
    conn.set_trace_callback(lambda sql: out.write(" ".join(sql.split()) + "\n"))


def main() -> None:
    out_path, _, *args = sys.argv[1:]
    out = open(out_path, "a", encoding="utf-8")  # noqa: SIM115 (open for the whole process)
    connect = sqlite3.connect

    def traced(*a: Any, **k: Any) -> sqlite3.Connection:
        conn = connect(*a, **k)
        trace_into(conn, out)
        return conn

    sqlite3.connect = traced  # type: ignore[assignment]
    sys.argv = ["aaltowatch", *args]
    try:
        runpy.run_module("aaltowatch.cli", run_name="__main__")
    finally:
        out.flush()


if __name__ == "__main__":
    main()
