"""The core: types every layer uses (items, urls, text and dates, errors, config, run stats).

The core imports no layer (spiders, pipeline, storage, feeds, pages) and nothing of the
application around it (the rest of `aaltowatch`); `make test` checks this.
"""
