"""The command line's check of the URLs it is given (``device enroll --api``, ``device flush --lrs``).

A URL the HTTP client could never use is a usage error (exit 2, one line) before anything is
created or sent, rather than an "unreachable service" after the device directory was made. The
rule is the client's own (``client.api_url_problem``), so an option and a configured URL are held
to the same one.
"""

from __future__ import annotations

from content_service.cli.errors import UsageError
from content_service.client import api_url_problem


def http_url(value: str, option: str) -> str:
    """``value`` if it is an absolute http(s) URL the client can use, else a usage error naming ``option``."""
    problem = api_url_problem(value)
    if problem is not None:
        raise UsageError(f"{option} {problem}: {value!r}")
    return value
