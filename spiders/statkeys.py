"""The Scrapy stats keys the spiders and their middlewares write that the core does not read
(Scrapy's habit: a component owns its keys, as its HTTP cache owns `httpcache/hit`).

They land in the run's `stats` column; `status` reads the budget and the mode from there. The
keys a run's figures are read from are in aaltowatch.core.runstats, where their reader is.
No Scrapy import here: `status` reads these without loading a crawler.
"""

from __future__ import annotations

from aaltowatch.core.runstats import PREFIX

# The run's plan (spiders.base.AaltoSpider.plan_run) and its budget (spiders.middlewares).
BUDGET_LIMIT = PREFIX + "budget/limit"  # requests the run may make; 0 = no budget
BUDGET_REQUESTS = PREFIX + "budget/requests"  # requests made to the site
BUDGET_DROPPED = PREFIX + "budget/dropped"  # requests refused once the budget was spent
PLAN_MODE = PREFIX + "plan/mode"  # full or plan (aaltowatch.core.planner.CrawlMode)
REVISIT_CANDIDATES = PREFIX + "plan/revisit_candidates"
TEASERS_NEW_OR_CHANGED = PREFIX + "plan/teasers_new_or_changed"
SITEMAP_QUEUED = PREFIX + "plan/sitemap_queued"
# What the spiders' callbacks met.
PAGES = PREFIX + "pages"  # content pages answered 200 and parsed
NOT_MODIFIED = PREFIX + "not_modified"  # content pages answered 304
LISTING_PAGES = PREFIX + "listing_pages"
REVISITS = PREFIX + "revisits"
RECHECKS = PREFIX + "rechecks"
SKIPPED_NOT_HTML = PREFIX + "skipped_not_html"
REDIRECTS = PREFIX + "redirects"
TEMPORARY_REDIRECTS = PREFIX + "temporary_redirects"
REDIRECTED_AWAY = PREFIX + "redirected_away"
CATEGORIES_CAPPED = PREFIX + "categories_capped"  # pages past max_categories_per_item


def status_key(status: int) -> str:
    """Content pages answered `status` (301, 404, ...)."""
    return f"{PREFIX}status_{status}"
