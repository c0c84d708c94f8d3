"""A browsable, read-only web view of the archive: Datasette with descriptions and canned queries.

The database is opened `mode=ro`, not `immutable=1`: the archive is in WAL mode and a crawl may be
writing, and an immutable open ignores the WAL (recent pages would be missing or torn). Writes
stay impossible: SQLite refuses them on a `mode=ro` connection, the metadata defines no writable
canned query, and Datasette's own write connection is refused below.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import socket
import types
from importlib.resources import files
from pathlib import Path
from typing import Any

from aaltowatch.core.errors import AaltowatchError, PortError
from storage import Archive
from storage.dashboard import SQL as DASHBOARD_SQL
from storage.schema_doc import TABLES, column_doc, migrated_database
from storage.search import MARK

log = logging.getLogger(__name__)
PLUGIN = "aaltowatch_log_refused"
SNIPPETS = "aaltowatch_snippets"
DB_NAME = "archive"  # stable URLs (/archive/news_mentioning) whatever the file is called
SETTINGS = {
    "sql_time_limit_ms": 3000,
    "default_page_size": 50,
    "suggest_facets": False,  # facet suggestions scan whole tables: slow on a big archive
}


def metadata() -> dict[str, Any]:
    """Title, canned queries (datasette_metadata.json) plus table and column descriptions taken
    from storage.schema_doc, so the web view and the README describe the schema alike."""
    meta = json.loads(files("aaltowatch").joinpath("datasette_metadata.json").read_text("utf-8"))
    # Dashboard charts name their query (`"@run_health"`): the SQL of dashboard.html.
    for board in meta.get("plugins", {}).get("datasette-dashboards", {}).values():
        for chart in board["charts"].values():
            if chart.get("query", "").startswith("@"):
                chart["query"] = DASHBOARD_SQL[chart["query"][1:]]
    tables = meta["databases"][DB_NAME].setdefault("tables", {})
    schema = migrated_database()
    names = set(schema.table_names()) | set(schema.view_names())
    for name, description in TABLES.items():
        if name not in names:
            continue
        entry = tables.setdefault(name, {})
        entry.setdefault("description", description)
        entry["columns"] = {
            col.name: column_doc(name, col.name)
            for col in schema[name].columns
            if column_doc(name, col.name)
        }
    return meta


def browse(db: Path, *, host: str = "127.0.0.1", port: int = 8001) -> None:
    """Serve the archive at http://host:port/ until interrupted."""
    try:
        import uvicorn
        from datasette.app import Datasette
        from datasette.database import Database
    except ImportError:
        raise AaltowatchError("the web view needs Datasette: pip install -e '.[web]'") from None
    db = Path(db)
    # Opening it as a reader says clearly when there is none, and first brings an archive of
    # an older version up to date (the views come from migration 0002).
    Archive(db, readonly=True).close()

    from datasette.utils.asgi import Forbidden

    class ReadOnlyDatabase(Database):
        def connect(self, write: bool = False) -> Any:
            if write:  # a 403 for the browser, not a server error with a traceback
                raise Forbidden("the web view is read-only")
            return super().connect()

        async def execute(self, *args: Any, **kwargs: Any) -> Any:
            # A refused query (a malformed search term) is the browser's error page, not a
            # line with its raw SQL and parameters on stderr.
            return await super().execute(*args, **{**kwargs, "log_sql_errors": False})

    # Bound before anything is printed: a busy port is a one-line error, and the URL shown
    # is always the one this process serves.
    try:
        sock = socket.create_server((host, port))
    except OSError as exc:
        raise PortError.binding(host, port, exc) from None
    quiet_datasette_errors()
    register_plugin(SNIPPETS, render_cell=render_snippet)
    ds = Datasette(metadata=metadata(), settings=SETTINGS)
    ds.add_database(ReadOnlyDatabase(ds, path=str(db), is_mutable=True), name=DB_NAME)
    asyncio.run(ds.invoke_startup())
    bound_port = sock.getsockname()[1]
    print(f"Browsing {db} read-only at http://{host}:{bound_port}/{DB_NAME}", flush=True)
    server = uvicorn.Server(uvicorn.Config(ds.app(), log_level="warning"))
    server.run(sockets=[sock])


def quiet_datasette_errors() -> None:
    """An error page (a refused query, a 404) is for the browser, not a log event. Datasette's
    default error handler also prints a ~14 KB rich traceback with locals to stdout for each,
    which blocks the server once nobody reads its stdout, and outside an `except` block rich
    raises instead (a 404 becomes a 500). Without rich it renders the same pages; with -v one
    line per refused request is logged instead."""
    import datasette.handle_exception as default_handler

    default_handler.rich = None

    def log_refused(request: Any, exception: BaseException) -> None:
        log.info("refused %s %s: %s", request.method, request.path, exception)

    register_plugin(PLUGIN, handle_exception=log_refused, tryfirst=True)


def register_plugin(name: str, *, tryfirst: bool = False, **hooks: Any) -> None:
    """Our Datasette hooks as a plugin (Datasette plugins are modules), registered once."""
    from datasette import hookimpl
    from datasette.plugins import pm

    if pm.has_plugin(name):
        return
    plugin = types.ModuleType(name)
    for hook, fn in hooks.items():
        setattr(plugin, hook, hookimpl(tryfirst=tryfirst)(fn))
    pm.register(plugin, name=name)


def render_snippet(value: Any, column: str, table: Any, database: str, datasette: Any) -> Any:
    """A search snippet's marked words (storage.search.MARK, as the canned query
    `news_mentioning` marks them) as highlights instead of literal `**`."""
    if column != "snippet" or database != DB_NAME or not isinstance(value, str):
        return None
    from markupsafe import Markup

    parts = html.escape(value).split(MARK)
    return Markup("".join(f"<mark>{p}</mark>" if i % 2 else p for i, p in enumerate(parts)))
