"""The device's network edge: the API client on one injectable session, resumable downloads, the LRS.

Every byte the agent sends or receives goes through one ``requests.Session``, so a test (or a
device in airplane mode) cuts the whole network by handing in a session that raises.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
import urllib3

from content_service.client import ApiClient, ApiError, check_api_url
from content_service.device.errors import DeviceError, DownloadIncomplete, Offline

#: ``progress(name, done_bytes, total_bytes)``, called as bytes arrive (and once at the start).
Progress = Callable[[str, int, int], None]
CHUNK_SIZE = 1 << 16
XAPI_VERSION = "1.0.3"
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


#: At most this many endpoints are tried for one call (a zone has a primary and a secondary).
MAX_ENDPOINT_ATTEMPTS = 3
#: Answers that mean "this region cannot serve now; another one may" (a failed region answers 503).
_FAILOVER_STATUSES = frozenset({500, 502, 503, 504})
#: Methods whose repetition cannot do anything twice (RFC 9110 idempotent methods).
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def may_fail_over(method: str, headers: Mapping[str, str], *, error: Exception | None, status: int | None) -> bool:
    """Whether a call that failed at one endpoint may be sent to the next one: the one retry rule.

    An idempotent method, or a POST carrying an ``Idempotency-Key`` (the service answers a
    repeat with the first answer), moves on after any connection error and any 500/502/503/504.
    A POST without one may already have reached the server (a read timeout, a dropped
    connection after the request was sent, a 500 or 504 from a handler that ran): repeating it
    elsewhere could do it twice, so it moves on only when the request provably was not handled
    there: the connection was never made, or the server answered 503 (unavailable, RFC 9110
    15.6.4; a failed region's gateway answers 503 before any handler runs).
    """
    repeatable = method.upper() in _IDEMPOTENT_METHODS or any(
        name.lower() == "idempotency-key" for name in headers
    )
    if error is not None:
        return repeatable or _never_connected(error)
    if status not in _FAILOVER_STATUSES:
        return False
    return repeatable or status == 503


def _never_connected(error: Exception) -> bool:
    """A connection that was refused or never established: nothing was sent."""
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(error, requests.exceptions.ConnectionError):
        reason = error.args[0] if error.args else None
        reason = getattr(reason, "reason", reason)
        return isinstance(reason, urllib3.exceptions.NewConnectionError)
    return False


@dataclass
class DeviceApi(ApiClient):
    """``ApiClient`` whose calls go through ``session``, failing over along ``endpoints``.

    ``base_url`` is tried first, then each other of ``endpoints`` in order (a zone's primary,
    then its secondary: the ``api_endpoints`` of the enrolment), at most
    ``MAX_ENDPOINT_ATTEMPTS`` in all; ``may_fail_over`` decides whether a failure moves on.
    When every endpoint failed, a connection error raises ``Offline`` and an answer ``ApiError``.
    A URL no request could be sent to is ``InvalidApiUrl`` here, when the client is made: a
    configuration error, not an outage (requests would raise it as a connection error).
    """

    session: requests.Session = field(default_factory=requests.Session)
    endpoints: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        for url in self.endpoints:
            check_api_url(url)

    @property
    def candidates(self) -> list[str]:
        """The endpoints one call tries, in order."""
        ordered: list[str] = []
        for url in (self.base_url, *self.endpoints):
            if url.rstrip("/") not in ordered:
                ordered.append(url.rstrip("/"))
        return ordered[:MAX_ENDPOINT_ATTEMPTS]

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        candidates = self.candidates
        failure: Exception | None = None
        for index, base_url in enumerate(candidates):
            last = index == len(candidates) - 1
            try:
                response = self.session.request(
                    method, base_url + path, headers=headers, timeout=self.timeout, **kwargs
                )
            except requests.RequestException as error:
                failure = Offline(f"the API at {base_url} cannot be reached: {type(error).__name__}")
                failure.__cause__ = error
                if not last and may_fail_over(method, headers, error=error, status=None):
                    continue
                raise failure from error
            if response.status_code < 400:
                return response
            failure = ApiError(response.status_code, _problem(response))
            if last or not may_fail_over(method, headers, error=None, status=response.status_code):
                raise failure
        raise failure or Offline("no API endpoint to call")

    def sync_with_nonce(self, device_id: str, cursor: str | None, limit: int, nonce: str) -> dict[str, Any]:
        """One page of the sync feed whose signed status must echo ``nonce``."""
        params = {
            k: v for k, v in {"cursor": cursor, "limit": limit, "nonce": nonce}.items() if v is not None
        }
        return self._request("GET", f"/v1/devices/{device_id}/sync", params=params).json()

    def report_tamper_evidence(
        self, device_id: str, bundle_id: str, kind: str, detail: str, evidence: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """A tamper report, with the evidence (object, expected and found SHA-256) when there is some."""
        body: dict[str, Any] = {"bundle_id": bundle_id, "kind": kind, "detail": detail}
        if evidence:
            body["evidence"] = dict(evidence)
        return self._request("POST", f"/v1/devices/{device_id}/tamper-reports", json=body).json()

    def report_signal(self, device_id: str, signal: str, detail: str) -> dict[str, Any]:
        """A security signal (``device.status_forged``): it revokes nothing."""
        body = {"type": signal, "detail": detail}
        return self._request("POST", f"/v1/devices/{device_id}/signals", json=body).json()


def _problem(response: requests.Response) -> dict[str, Any]:
    try:
        problem = response.json()
    except ValueError:
        return {"title": response.reason, "detail": response.text[:200]}
    return problem if isinstance(problem, dict) else {"title": response.reason, "detail": str(problem)[:200]}


class Link:
    """Whether to try the network now: after a failure, stay offline for ``retry_seconds``."""

    def __init__(self, clock: Callable[[], float], retry_seconds: float) -> None:
        self._clock = clock
        self.retry_seconds = retry_seconds
        self._offline_until = 0.0

    def may_try(self) -> bool:
        return self._clock() >= self._offline_until

    def went_offline(self) -> None:
        self._offline_until = self._clock() + self.retry_seconds


class RemoteRefused(DeviceError):
    """The CDN or the LRS refused a transfer (an expired or altered signed URL, a missing object)."""

    title = "The transfer was refused"
    status = 502


def fetch_small(session: requests.Session, url: str, *, limit: int, timeout: float = 30.0) -> bytes:
    """GET a small object (the manifest) whole, refusing more than ``limit`` bytes."""
    try:
        with session.get(url, stream=True, timeout=timeout) as response:
            if response.status_code != 200:
                raise RemoteRefused(f"the CDN answered {response.status_code}", status=response.status_code)
            data = bytearray()
            for chunk in response.iter_content(CHUNK_SIZE):
                data += chunk
                if len(data) > limit:
                    raise RemoteRefused(f"the object is larger than {limit} bytes")
            return bytes(data)
    except requests.RequestException as error:
        raise Offline(f"the CDN cannot be reached: {type(error).__name__}") from error


def fetch_resumable(
    session: requests.Session,
    url: str,
    partial: Path,
    size: int,
    *,
    name: str = "",
    progress: Progress | None = None,
    timeout: float = 30.0,
) -> None:
    """Download ``url`` into ``partial`` until it holds ``size`` bytes, resuming what is there.

    A partial file continues with ``Range: bytes={have}-``. A partial longer than ``size``
    (the signed manifest's size) cannot be a prefix of the object and starts over; so does one
    the server answers with 416 (its object is shorter than our offset) or with a 200 (it
    ignored the range). Bytes past ``size`` are never written. If the connection drops, what
    arrived is kept on disk and ``DownloadIncomplete`` is raised: running it again resumes.
    The caller checks the SHA-256 against the manifest once the size is reached.
    """
    # Two passes at most: the first may discover that the partial file must be thrown away.
    for _ in range(2):
        have = _prepare(partial, size)
        if progress:
            progress(name, have, size)
        if have == size:
            return
        restart = _fetch_once(
            session, url, partial, have, size, name=name, progress=progress, timeout=timeout
        )
        if not restart:
            break
        _truncate(partial)
    have = partial.stat().st_size
    if have != size:
        raise DownloadIncomplete(f"{name or url}: {have} of {size} bytes; run the download again to resume")


def fetch_verified(
    session: requests.Session,
    url: str,
    partial: Path,
    size: int,
    sha256: str,
    *,
    name: str = "",
    progress: Progress | None = None,
) -> str:
    """``fetch_resumable``, then the SHA-256 of the partial file; the caller compares it and decides.

    A download that resumed from bytes already on disk and does not hash to ``sha256`` is fetched
    once more from zero: the device's own disk (which its user can edit, a crash can tear, or a
    second process can write) is no evidence of what the CDN served, so only a mismatch of bytes
    wholly from the CDN is returned to be reported as tampering.
    """
    resumed = partial.is_file() and partial.stat().st_size > 0
    fetch_resumable(session, url, partial, size, name=name, progress=progress)
    found = _sha256_file(partial)
    if resumed and not hmac.compare_digest(found, sha256):
        partial.unlink()
        fetch_resumable(session, url, partial, size, name=name, progress=progress)
        found = _sha256_file(partial)
    return found


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _prepare(partial: Path, size: int) -> int:
    if not partial.exists():
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    have = partial.stat().st_size
    if have > size:
        # Longer than the signed size: whatever this is, it is not a prefix of the container.
        _truncate(partial)
        return 0
    return have


def _truncate(partial: Path) -> None:
    with open(partial, "r+b") as handle:
        handle.truncate(0)
        os.fsync(handle.fileno())


def _fetch_once(
    session: requests.Session,
    url: str,
    partial: Path,
    have: int,
    size: int,
    *,
    name: str,
    progress: Progress | None,
    timeout: float,
) -> bool:
    """One GET; returns ``True`` if the partial file must be discarded and the download restarted."""
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        with session.get(url, headers=headers, stream=True, timeout=timeout) as response:
            if response.status_code == 416:
                return True
            if response.status_code == 206:
                if not _range_starts_at(response.headers.get("Content-Range", ""), have, size):
                    return True
                offset = have
            elif response.status_code == 200:
                if have:
                    # The server ignored the range and sends the whole object: start over.
                    _truncate(partial)
                offset = 0
            else:
                raise RemoteRefused(
                    f"{name or 'download'}: the CDN answered {response.status_code}",
                    status=response.status_code,
                )
            _append(response, partial, offset, size, name=name, progress=progress)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
        # What arrived is on disk; the next run resumes from there.
        raise DownloadIncomplete(
            f"{name or url}: the connection dropped ({type(error).__name__}); run the download again to resume"
        ) from error
    return False


def _range_starts_at(content_range: str, start: int, size: int) -> bool:
    match = _CONTENT_RANGE.fullmatch(content_range.strip())
    if not match:
        return False
    total = match.group(3)
    return int(match.group(1)) == start and (total == "*" or int(total) == size)


def _append(
    response: requests.Response,
    partial: Path,
    offset: int,
    size: int,
    *,
    name: str,
    progress: Progress | None,
) -> None:
    flags = os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(partial, flags)
    try:
        os.lseek(fd, offset, os.SEEK_SET)
        written = offset
        try:
            while written < size:
                # read1 hands over whatever has arrived, so bytes received before a dropped
                # connection reach the disk; never past the signed size (the hash decides).
                chunk = response.raw.read1(min(CHUNK_SIZE, size - written))
                if not chunk:
                    break
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
                written += len(chunk)
                if progress:
                    progress(name, written, size)
        finally:
            os.ftruncate(fd, written)
            os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class HttpStatementSink:
    """Send a queued xAPI statement to an LRS with ``PUT /statements?statementId={id}``.

    PUT by id is idempotent in xAPI: an LRS that already holds the statement answers 204 (same
    statement) or 409 (it holds another one under that id); either way, sending it again cannot
    store it twice, so both count as delivered.
    """

    endpoint: str
    session: requests.Session = field(default_factory=requests.Session)
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 30.0

    def __post_init__(self) -> None:
        check_api_url(self.endpoint, what="LRS")

    def __call__(self, statement_id: str, statement: Mapping[str, Any]) -> dict[str, Any]:
        url = f"{self.endpoint.rstrip('/')}/statements?statementId={quote(statement_id, safe='')}"
        try:
            response = self.session.put(
                url,
                json=dict(statement),
                headers={"X-Experience-API-Version": XAPI_VERSION, **self.headers},
                timeout=self.timeout,
            )
        except requests.RequestException as error:
            raise Offline(f"the LRS cannot be reached: {type(error).__name__}") from error
        if response.status_code in (200, 204, 409):
            return {"status": response.status_code}
        raise RemoteRefused(f"the LRS answered {response.status_code}", status=response.status_code)
