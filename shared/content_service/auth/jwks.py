"""The user pool's signing keys, fetched from its JWKS URL once per container and on an unknown kid.

Cognito publishes the keys at ``<issuer>/.well-known/jwks.json`` and rotates rarely; a token
signed by a key we have not seen makes us fetch again, at most once per ``min_refetch_seconds`` so
a flood of forged kids cannot turn the authorizer into a JWKS hammer.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable

from joserfc.jwk import KeySet

Fetch = Callable[[str], bytes]


def fetch_url(url: str) -> bytes:
    """GET ``url`` (the JWKS); the one network call of the authorizer."""
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (the URL is our issuer's, https)
        return bytes(response.read())


class RemoteKeySet:
    """A callable returning the current KeySet; ``refresh`` is what the verifier calls on a miss."""

    def __init__(self, url: str, fetch: Fetch | None = None, min_refetch_seconds: float = 60.0) -> None:
        self.url = url
        self._fetch = fetch
        self._min_refetch = min_refetch_seconds
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> KeySet:
        with self._lock:
            if self._keys is None:
                self._load()
            assert self._keys is not None
            return self._keys

    def refresh(self) -> bool:
        """Fetch again unless we did so very recently; True when new keys were loaded."""
        with self._lock:
            if self._keys is not None and time.monotonic() - self._fetched_at < self._min_refetch:
                return False
            self._load()
            return True

    def _load(self) -> None:
        fetch = self._fetch or fetch_url  # looked up now, so a test can stand in for the network
        self._keys = KeySet.import_key_set(json.loads(fetch(self.url)))
        self._fetched_at = time.monotonic()
