"""`aaltowatch browse` started for real on 127.0.0.1, for the tests that read what it serves."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CLI, cli_env
from tests.mailserver import free_port


@contextmanager
def browsing(db: Path, *, timeout: float = 60, **popen: Any) -> Iterator[tuple[Any, str]]:
    """(the process, its base URL) once Datasette answers; killed on the way out, so a test
    can still read what it printed (`proc.communicate()`). `popen` sets stdout/stderr."""
    port = free_port()
    proc = subprocess.Popen(
        [*CLI, "--db", str(db), "browse", "--port", str(port)], env=cli_env(), **popen
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{base}/-/versions.json", timeout=20):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = (
                        proc.stdout.read().decode()
                        if proc.stdout and proc.poll() is not None
                        else ""
                    )
                    pytest.fail(f"browse did not come up on {base}: {out}")
                time.sleep(0.2)
        yield proc, base
    finally:
        proc.kill()
        proc.wait(timeout=10)
