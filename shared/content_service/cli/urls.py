"""The command line's check of the URLs it is given (``device enroll --api``, ``device flush --lrs``).

A URL the HTTP client could never use is a usage error (exit 2, one line) before anything is
created or sent, rather than an "unreachable service" after the device directory was made.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from content_service.cli.errors import UsageError


def http_url(value: str, option: str) -> str:
    """``value`` if it is an absolute http(s) URL with a host and a valid port, else a usage error."""
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError for a port out of 0..65535 or not a number
    except ValueError as error:
        raise UsageError(f"{option} is not a URL: {error}") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise UsageError(f"{option} must be an http(s) URL with a host, not {value!r}")
    if port == 0:
        raise UsageError(f"{option} names port 0, which no service listens on")
    return value
