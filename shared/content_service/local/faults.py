"""The local fault switch: make a region's S3 and API answer 503, as in a regional outage.

``content-service local fail-region REGION`` and ``heal`` flip a small JSON file in the local
stack's state directory (``faults.json``); the running stack reads it on every request, so the
switch works from another process and takes effect at once. Two places obey it:

* moto, through :class:`RegionFaults`, a WSGI wrapper that answers an S3 request signed for a
  failed region (SigV4 credential scope, in the ``Authorization`` header or a presigned URL's
  ``X-Amz-Credential``) with S3's own ``503 ServiceUnavailable``, before moto sees it;
* the local gateway of that region, which answers every request with a 503 problem document.

Only S3 and the API fail: those are what devices and the edge reach in a region. The handlers
of a healthy region keep their table and keys (they live in that region).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

FAULTS_FILE = "faults.json"
FAILING_SERVICES = frozenset({"s3"})
"""The AWS services a failed region stops answering locally (its API fails in the gateway)."""

_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/(?P<region>[a-z0-9-]+)/(?P<service>[a-z0-9-]+)/aws4_request")
_S3_UNAVAILABLE = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code>'
    b"<Message>The region is failed by the local fault switch.</Message></Error>"
)
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")


class FaultSwitch:
    """Which regions are failed, kept in ``<home>/faults.json`` and re-read when it changes."""

    def __init__(self, home: Path) -> None:
        self.path = Path(home) / FAULTS_FILE
        self._lock = threading.Lock()
        self._seen: tuple[int, frozenset[str]] | None = None

    def failed(self) -> frozenset[str]:
        """The failed regions now (a missing or unreadable file means none)."""
        try:
            stamp = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return frozenset()
        with self._lock:
            if self._seen is not None and self._seen[0] == stamp:
                return self._seen[1]
            try:
                regions = frozenset(json.loads(self.path.read_text(encoding="utf-8"))["failed_regions"])
            except (OSError, ValueError, KeyError, TypeError):
                regions = frozenset()
            self._seen = (stamp, regions)
            return regions

    def is_failed(self, region: str) -> bool:
        """Whether ``region`` answers 503."""
        return region in self.failed()

    def fail(self, region: str) -> frozenset[str]:
        """Fail ``region`` (idempotent); returns the failed regions."""
        if not _REGION.fullmatch(region):
            raise ValueError(f"{region!r} is not a region name (e.g. eu-west-1)")
        return self._write(self.failed() | {region})

    def heal(self, region: str | None = None) -> frozenset[str]:
        """Heal ``region``, or every region when None; returns the regions still failed."""
        return self._write(frozenset() if region is None else self.failed() - {region})

    def _write(self, regions: Iterable[str]) -> frozenset[str]:
        chosen = frozenset(regions)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps({"failed_regions": sorted(chosen)}), encoding="utf-8")
        # A rename is atomic, so a reader sees the old list or the new one, never half of one.
        os.replace(temporary, self.path)
        return chosen


def signed_scope(environ: dict[str, Any]) -> tuple[str, str] | None:
    """(region, service) of a SigV4-signed WSGI request, or None if it is not signed so."""
    header = environ.get("HTTP_AUTHORIZATION", "")
    match = _SCOPE.search(header) or _SCOPE.search("Credential=" + _query_credential(environ))
    return (match["region"], match["service"]) if match else None


def _query_credential(environ: dict[str, Any]) -> str:
    for pair in str(environ.get("QUERY_STRING", "")).split("&"):
        name, _, value = pair.partition("=")
        if name == "X-Amz-Credential":
            return unquote(value)
    return ""


class RegionFaults:
    """WSGI middleware: S3 requests signed for a failed region get 503 ServiceUnavailable."""

    def __init__(self, app: Callable[..., Any], switch: FaultSwitch) -> None:
        self.app = app
        self.switch = switch

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        scope = signed_scope(environ)
        if scope is not None and scope[1] in FAILING_SERVICES and self.switch.is_failed(scope[0]):
            start_response(
                "503 Service Unavailable",
                [("Content-Type", "application/xml"), ("Content-Length", str(len(_S3_UNAVAILABLE)))],
            )
            return [_S3_UNAVAILABLE]
        return self.app(environ, start_response)
