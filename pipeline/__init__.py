"""Pure stages (normalise, fingerprint, classify) and the thin adapter that stores their result."""
