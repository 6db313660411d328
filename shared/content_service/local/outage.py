"""A regional outage in the middle of a download: the device's network for failover drills.

The failover demo (``content-service demo --failover``), its benchmark (benchmarks/failover.py)
and the e2e tests cut a container download the same way: :class:`RegionFailsMidDownload` is a
``requests.Session`` for the device that, once armed, lets the next container body from the CDN
through up to ``cut`` bytes, then runs ``fail`` (which fails the primary region through the
fault switch) and drops the connection, as a regional outage drops the connections it served.

It times what a device sees: ``failed_at`` is the moment of the failure and ``next_byte_at`` the
moment the first body byte of a later CDN answer arrived (the resume's first byte; the caller
verifies every byte against the signed manifest's SHA-256). It also counts the API calls made
after the failure for the content, so a drill can show that the resume needed no API. The
fetch of the bundle's assistant overlays that follows every download is not counted: it is
best-effort (a download finishes without it, and the next one asks again), not on the way to
the bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests
import urllib3


class RegionFailsMidDownload(requests.Session):
    """The device's network: one armed CDN body is cut after ``cut`` bytes and ``fail`` runs then.

    ``cdn`` is the distribution's base URL and ``api`` the API's; requests to other hosts pass
    untouched. The manifest (a small JWS) is never cut: the drill is about the container.
    """

    def __init__(
        self, cdn: str, api: str, fail: Callable[[], None], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.cdn, self.api, self._fail, self._clock = cdn.rstrip("/"), api.rstrip("/"), fail, clock
        self._cut: int | None = None
        self.ranges: list[str | None] = []
        """The ``Range`` header of every container request, in order (None: the whole object)."""
        self.failed_at: float | None = None
        self.next_byte_at: float | None = None
        self.api_calls_after_failure = 0
        self.answers: list[tuple[str, int]] = []
        """(URL, status) of every request that is not to the CDN, in order: which API answered."""

    def arm(self, cut: int) -> None:
        """Cut the next container body after ``cut`` bytes and fail the region then."""
        self._cut = cut
        self.failed_at = self.next_byte_at = None
        self.api_calls_after_failure = 0

    @property
    def failure_to_next_byte(self) -> float | None:
        """Seconds from the failure to the first byte that arrived after it, once both happened."""
        if self.failed_at is None or self.next_byte_at is None:
            return None
        return self.next_byte_at - self.failed_at

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if self.failed_at is not None and url.startswith(self.api) and not _best_effort(url):
            self.api_calls_after_failure += 1
        response = super().request(method, url, *args, **kwargs)
        if not url.startswith(self.cdn):
            self.answers.append((url, response.status_code))
        if not url.startswith(self.cdn) or "manifest" in url.split("?")[0]:
            return response
        self.ranges.append((kwargs.get("headers") or {}).get("Range"))
        if self._cut is not None:
            cut, self._cut = self._cut, None
            self._cut_body(response, cut)
        elif self.failed_at is not None and self.next_byte_at is None:
            self._time_first_byte(response)
        return response

    def _cut_body(self, response: requests.Response, cut: int) -> None:
        raw, left = response.raw, [cut]

        def read1(amount: int = -1) -> bytes:
            if left[0] <= 0:
                self._fail()
                self.failed_at = self._clock()
                raise urllib3.exceptions.ProtocolError("the region failed mid-download")
            chunk = raw.read(min(amount if amount > 0 else left[0], left[0]))
            left[0] -= len(chunk)
            return chunk

        raw.read1 = read1  # type: ignore[method-assign]

    def _time_first_byte(self, response: requests.Response) -> None:
        raw = response.raw
        read1 = raw.read1

        def timed(amount: int = -1) -> bytes:
            chunk = read1(amount)
            if chunk and self.next_byte_at is None:
                self.next_byte_at = self._clock()
            return chunk

        raw.read1 = timed  # type: ignore[method-assign]


def _best_effort(url: str) -> bool:
    """A call a download makes after its bytes and finishes without: the assistant overlays."""
    return url.split("?")[0].endswith("/assistant")
