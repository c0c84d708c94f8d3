"""index.html: a self-contained page (inline CSS, no scripts, no external resources) listing the
feeds, the latest changes with their diffs, and the latest health alerts.

Entry HTML is already sanitised (feeds.entries); every other string is escaped here.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from aaltowatch.core.watchconfig import LISTS
from feeds.entries import EPOCH, Entry, FeedSpec
from feeds.sanitize import clean_html
from feeds.search import FILTERS, MAX_QUERY_CHARS, PATHS

STYLE = """
body { font: 16px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 60rem; padding: 1rem;
       color: #1a1a1a; background: #fff; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #eee; }
article { border: 1px solid #ddd; border-radius: 6px; padding: .5rem 1rem; margin: 1rem 0; }
article h3 { margin: .2rem 0; font-size: 1.1rem; }
.meta { color: #555; font-size: .9rem; margin: 0; }
ins { background: #d7f5dd; text-decoration: none; }
del { background: #fbd9d9; }
img { max-width: 100%; height: auto; }
form.search label { margin-right: 1rem; }
/* Opened as a file, the search form cannot work: it says so instead (no script needed: serve
   rewrites the file:// action to its own http:// address). */
form.search[action^="file:"] .served, form.search:not([action^="file:"]) .needs-serve {
  display: none; }
"""


def _time(entry: Entry) -> str:
    stamp = entry.updated.strftime("%Y-%m-%d %H:%M UTC")
    return f'<time datetime="{escape(entry.updated.isoformat())}">{stamp}</time>'


def _article(entry: Entry) -> str:
    title = escape(entry.title)
    heading = f'<a href="{escape(entry.link)}">{title}</a>' if entry.link else title
    return (
        f'<article>\n<h3>{heading}</h3>\n<p class="meta">{_time(entry)}</p>\n'
        f"{clean_html(entry.content)}\n</article>"
    )


def _feed_row(spec: FeedSpec) -> str:
    name = escape(spec.name)
    return (
        f"<tr><td>{escape(spec.title)}</td><td>{len(spec.entries)}</td>"
        f'<td><a href="{name}.xml">{name}.xml</a></td>'
        f'<td><a href="{name}.atom">{name}.atom</a></td></tr>'
    )


def _search_form(feeds_url: str) -> str:
    """A GET form that builds a search feed's URL (feeds.search), answered by `serve`."""
    rss, atom = (escape(f"{feeds_url}{path.lstrip('/')}") for path in PATHS)
    selects = "\n".join(
        f'<label>{escape(name)} <select name="{escape(name)}"><option value="">any</option>'
        + "".join(f"<option>{escape(v)}</option>" for v in LISTS[field] or ())
        + "</select></label>"
        for name, field in FILTERS.items()
        if LISTS[field]
    )
    return f"""<form class="search" method="get" action="{rss}">
<p class="needs-serve">Search feeds are answered by <code>aaltowatch serve</code> from the
archive, and this page was opened as a file: run <code>aaltowatch serve</code> and open the
address it prints.</p>
<p class="served"><label>Query <input name="q" required maxlength="{MAX_QUERY_CHARS}"
placeholder="Vantaa OR Espoo"></label>
{selects}
<button type="submit">RSS feed</button>
<button type="submit" formaction="{atom}">Atom feed</button></p>
</form>
<p>Subscribe to the address of the feed the form opens: new matching changes arrive like a
watch's, without a config. The query has the syntax of <code>aaltowatch search</code>.</p>"""


def render_index(
    specs: Sequence[FeedSpec],
    changes: Sequence[Entry],
    alerts: Sequence[Entry],
    feeds_url: str = "",
) -> bytes:
    """The index page; like the feeds, a pure function of the data (no "generated at now").
    `feeds_url` is where the feeds are (build.feeds_url_for): the search form's address."""
    newest = max((s.updated for s in specs), default=EPOCH)
    discovery = "\n".join(
        f'<link rel="alternate" type="application/atom+xml" title="{escape(s.title)}"'
        f' href="{escape(s.name)}.atom">'
        for s in specs
        if s.name == "changes" or s.name.startswith("news-")
    )
    rows = "\n".join(_feed_row(s) for s in specs)
    change_html = "\n".join(_article(e) for e in changes) or "<p>No changes recorded yet.</p>"
    alert_html = "\n".join(_article(e) for e in alerts) or "<p>No alerts.</p>"
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>aaltowatch feeds</title>
{discovery}
<style>{STYLE}</style>
</head>
<body>
<main>
<h1>aaltowatch: news and partnership pages of www.aalto.fi</h1>
<p>Data as of <time datetime="{newest.isoformat()}">{newest:%Y-%m-%d %H:%M} UTC</time>.
Subscribe to a feed below, or import <a href="feeds.opml">feeds.opml</a> into your reader.
Charts of news, changes, partners and crawl health: <a href="dashboard.html">dashboard</a>.</p>
<h2 id="feeds">Feeds</h2>
<table id="feed-list">
<thead><tr><th>Feed</th><th>Entries</th><th>RSS 2.0</th><th>Atom</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
<h2 id="search">Search feeds</h2>
{_search_form(feeds_url)}
<h2 id="changes">Latest changes</h2>
{change_html}
<h2 id="alerts">Latest health alerts</h2>
{alert_html}
</main>
</body>
</html>
"""
    return page.encode("utf-8")
