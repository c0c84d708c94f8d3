"""aaltowatch: watch www.aalto.fi news and partnership pages, keep their history, publish feeds."""

__version__ = "0.1.0"
