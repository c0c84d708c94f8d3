"""`config check` and `config show`: the config as a run would read it, secrets by label.

Both read the same layers as every other command (defaults < TOML file < AALTOWATCH_*
variables < options: aaltowatch.core.config) and say which layer set what. A notify URL is
only ever shown by its label (aaltowatch.core.targets).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import tomli_w

from aaltowatch.core.config import Config, Sources
from aaltowatch.core.watchconfig import target_label

TABLE = "aaltowatch"


def source_lines(sources: Sources) -> list[str]:
    """Which file, variables and options set which settings, a line each (none: defaults)."""
    by_origin: dict[str, list[str]] = {}
    for name, origin in sources.origins.items():
        by_origin.setdefault(origin, []).append(name)
    file = str(sources.file) if sources.file else None
    if file is None:
        lines = ["file: none (no --config, no AALTOWATCH_CONFIG)"]
    else:
        lines = [f"file: {file} ({', '.join(by_origin.pop(file, [])) or 'nothing set'})"]
    for kind, prefix in (("environment", "AALTOWATCH_"), ("options", "-")):
        named = [f"{o} ({', '.join(n)})" for o, n in by_origin.items() if o.startswith(prefix)]
        lines.append(f"{kind}: {'; '.join(named) or 'none'}")
    return lines


def summary(config: Config) -> str:
    targets = sorted({target_label(url) for w in config.watches for url in w.notify})
    watches = len(config.watches)
    return f"{watches} watch{'es' if watches != 1 else ''}, {len(targets)} notify targets" + (
        f": {', '.join(targets)}" if targets else ""
    )


def _value(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {
            f.name: _value(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not None
        }
    if isinstance(value, tuple):
        return [_value(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def effective_toml(config: Config, sources: Sources) -> str:
    """The effective config as a TOML file would set it, with notify URLs by label."""
    table = _value(config)
    table["watch"] = table.pop("watches")
    for watch, record in zip(config.watches, table["watch"], strict=True):
        record["notify"] = [target_label(url) for url in watch.notify]
    unset = [f.name for f in dataclasses.fields(config) if getattr(config, f.name) is None]
    header = [
        "# The config a run would use: defaults < file < environment < options.",
        *(f"# {line}" for line in source_lines(sources)),
        "# Notify targets are shown by label (scheme, host, short hash): URLs stay in the file.",
    ]
    if unset:
        header.append(f"# Not set (a default derived at run time): {', '.join(unset)}")
    return "\n".join(header) + "\n\n" + tomli_w.dumps({TABLE: table})
