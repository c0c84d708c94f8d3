"""A notification target's public name: `json://hooks.example.org #3fa91c`, never a secret.

Apprise's "privacy" URL masks passwords and the tokens its plugins know, but keeps others in
clear: json:// and form:// headers (`+Authorization=Bearer …`) and parameters (`-api_key=…`),
tokens in a webhook's path. A label keeps only the scheme, the host when it is a plain host
name, and a short hash of that privacy URL. The label is what logs, `status`, alerts, feeds and
the archive show, and it keys the delivery ledger (storage.notifications): a password Apprise
masks can be rotated without the target losing its backlog, and two targets that differ only in
such a password are one target (a config error, see aaltowatch.core.watchconfig).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from functools import lru_cache
from urllib.parse import urlsplit

HASH_CHARS = 6
# A slow hash: a label is published (health feed, index page), and the privacy URL it hashes
# may hold a weak secret in clear. 10k rounds make each guess 10,000 times dearer than one
# SHA-256, and cost a few ms per target when a command loads the config.
_ROUNDS = 10_000
_SALT = b"aaltowatch notify target label"
_DNS_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


@lru_cache(maxsize=256)
def label(masked_url: str) -> str:
    """The label of a target from its Apprise privacy URL (`plugin.url(privacy=True)`)."""
    digest = hashlib.pbkdf2_hmac("sha256", masked_url.encode(), _SALT, _ROUNDS).hex()
    scheme = masked_url.split("://", 1)[0].lower() if "://" in masked_url else "?"
    where = f"{scheme}://{host}" if (host := _host(masked_url)) else scheme
    return f"{where} #{digest[:HASH_CHARS]}"


def _host(url: str) -> str:
    """host[:port] when the host is an IP address or a DNS name with a TLD, else "": several
    plugins keep a token where the host goes (slack://TOKENA/…, pover://user@TOKEN)."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return ""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        names = host.split(".")
        plain = host == "localhost" or (
            len(names) >= 2 and names[-1].isalpha() and all(_DNS_LABEL.match(n) for n in names)
        )
        if not plain:
            return ""
        shown = host
    else:
        shown = f"[{ip}]" if ip.version == 6 else str(ip)
    return f"{shown}:{port}" if port else shown
