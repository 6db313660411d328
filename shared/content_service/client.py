"""A small HTTP client of the content-service API (used by the CLI demo, the e2e tests and devices)."""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

#: A host name's characters (an IP literal or an internationalised name is checked otherwise).
_HOST_NAME = re.compile(r"[A-Za-z0-9_.-]+")


class InvalidApiUrl(ValueError):
    """A configured URL (the API's, an LRS's) no request could be sent to: a configuration error,
    never "the service is offline"."""

    def __init__(self, url: object, problem: str, *, what: str = "API") -> None:
        super().__init__(f"the {what} URL {url!r} {problem}")
        self.url = url
        self.problem = problem


def api_url_problem(url: object) -> str | None:
    """What makes ``url`` unusable as an API base URL (the one rule), or None if it is usable.

    Usable: an absolute http(s) URL with a host of valid characters and a port that a service can
    listen on (1-65535), without spaces or control characters, that ``requests`` can prepare. The
    answer completes "the URL ...": ``is not a URL: Port out of range 0-65535``.
    """
    if not isinstance(url, str):
        return f"is not a string but {type(url).__name__}"
    if any(char.isspace() or not char.isprintable() for char in url):
        return "contains a space or a control character"
    try:
        parts = urlsplit(url)
        port = parts.port  # a ValueError for a port out of 0..65535 or not a number
    except ValueError as error:
        return f"is not a URL: {error}"
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return "must be an http(s) URL with a host"
    if port == 0:
        return "names port 0, which no service listens on"
    if parts.hostname.isascii() and not _is_ip(parts.hostname) and not _is_host_name(parts.hostname):
        return f"has an invalid host name: {parts.hostname!r}"
    try:
        requests.Request("GET", url).prepare()  # what requests itself refuses (an invalid IDN)
    except requests.RequestException as error:
        return f"is not a URL: {error}"
    return None


def check_api_url(url: str, *, what: str = "API") -> str:
    """``url`` if it is usable as a base URL (``api_url_problem``), else ``InvalidApiUrl`` naming ``what``."""
    problem = api_url_problem(url)
    if problem is not None:
        raise InvalidApiUrl(url, problem, what=what)
    return url


def _is_host_name(host: str) -> bool:
    """Valid characters, and labels urllib3 can send to: 1 to 63 characters each, 253 in all.

    urllib3 encodes the host with the IDNA codec as it connects, and a label that is empty or too
    long fails there (``http://a..b/``) with a ``ValueError`` that is no network error.
    """
    if not _HOST_NAME.fullmatch(host) or len(host.rstrip(".")) > 253:
        return False
    try:
        host.encode("idna")
    except UnicodeError:
        return False
    return True


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class ApiError(Exception):
    """The API answered with a problem (RFC 9457); ``problem`` holds its body."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(f"HTTP {status}: {problem.get('title', '')}: {problem.get('detail', '')}")
        self.status = status
        self.problem = problem


@dataclass
class ApiClient:
    """The API at ``base_url``, checked here, where the URL is taken: ``InvalidApiUrl`` if unusable."""

    base_url: str
    token: str
    timeout: float = 30.0

    def __post_init__(self) -> None:
        check_api_url(self.base_url)

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = requests.request(
            method,
            self.base_url.rstrip("/") + path,
            headers={"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})},
            timeout=self.timeout,
            **kwargs,
        )
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"title": response.reason, "detail": response.text[:200]}
            raise ApiError(response.status_code, problem)
        return response

    def create_upload(self, content_length: int, package_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"content_type": "application/zip", "content_length": content_length}
        if package_id:
            body["package_id"] = package_id
        return self._request("POST", "/v1/uploads", json=body).json()

    def get_package(self, package_id: str, version: int | None = None) -> dict[str, Any]:
        params = {"version": version} if version else None
        return self._request("GET", f"/v1/packages/{package_id}", params=params).json()

    def list_packages(self, cursor: str | None = None, limit: int | None = None) -> dict[str, Any]:
        params = {k: v for k, v in {"cursor": cursor, "limit": limit}.items() if v is not None}
        return self._request("GET", "/v1/packages", params=params).json()

    def get_manifest(self, package_id: str, version: int | None = None) -> dict[str, Any]:
        params = {"version": version} if version else None
        return self._request("GET", f"/v1/packages/{package_id}/manifest", params=params).json()

    def wait_until_settled(
        self,
        package_id: str,
        version: int,
        *,
        timeout: float = 120.0,
        interval: float = 0.25,
        on_poll: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll a package version until it leaves ``building``; TimeoutError if it does not in time."""
        deadline = time.monotonic() + timeout
        while True:
            package = self.get_package(package_id, version)
            if on_poll:
                on_poll(package)
            if package["state"] != "building":
                return package
            if time.monotonic() > deadline:
                raise TimeoutError(f"package {package_id} v{version} still building after {timeout:.0f} s")
            time.sleep(interval)

    # Devices, bundles, licences and downloads (docs/offline-bundles.md).

    def enroll_device(self, public_key: dict[str, str], name: str = "") -> dict[str, Any]:
        """Enroll a device of the caller with its X25519 public JWK; returns the ``Device``."""
        body: dict[str, Any] = {"public_key": public_key, **({"name": name} if name else {})}
        return self._request("POST", "/v1/devices", json=body).json()

    def list_devices(self, cursor: str | None = None, limit: int | None = None) -> dict[str, Any]:
        params = {k: v for k, v in {"cursor": cursor, "limit": limit}.items() if v is not None}
        return self._request("GET", "/v1/devices", params=params).json()

    def get_device(self, device_id: str) -> dict[str, Any]:
        return self._request("GET", f"/v1/devices/{device_id}").json()

    def revoke_device(self, device_id: str, reason: str) -> dict[str, Any]:
        return self._request("POST", f"/v1/devices/{device_id}/revoke", json={"reason": reason}).json()

    def create_bundle(
        self,
        packages: list[dict[str, Any]],
        idempotency_key: str,
        residency_zone: str | None = None,
        user_id: str | None = None,
    ) -> dict[str, Any]:
        """Create a bundle of built packages (``[{"package_id", "version"?}]``) for ``user_id``.

        Same key, same bundle. Needs the catalog or admin role; a person's default user is themselves.
        """
        body: dict[str, Any] = {"packages": packages}
        if user_id:
            body["user_id"] = user_id
        if residency_zone:
            body["residency_zone"] = residency_zone
        return self._request(
            "POST", "/v1/bundles", json=body, headers={"Idempotency-Key": idempotency_key}
        ).json()

    def get_bundle(self, bundle_id: str) -> dict[str, Any]:
        return self._request("GET", f"/v1/bundles/{bundle_id}").json()

    def list_bundles(self, cursor: str | None = None, limit: int | None = None) -> dict[str, Any]:
        params = {k: v for k, v in {"cursor": cursor, "limit": limit}.items() if v is not None}
        return self._request("GET", "/v1/bundles", params=params).json()

    def issue_licence(self, bundle_id: str, device_id: str) -> dict[str, Any]:
        """A licence for one device: ``{"license": <JWS>, "license_id", "expires_at"}``."""
        return self._request(
            "POST", f"/v1/bundles/{bundle_id}/licenses", json={"device_id": device_id}
        ).json()

    def download_urls(self, bundle_id: str, device_id: str) -> dict[str, Any]:
        """CDN signed URLs of the bundle's manifest and containers, for one device."""
        return self._request(
            "GET", f"/v1/bundles/{bundle_id}/download", params={"device_id": device_id}
        ).json()

    def create_assistant_config(
        self, package_id: str, idempotency_key: str, version: int | None = None
    ) -> dict[str, Any]:
        """Queue the generation of a draft assistant config (author or admin; same key, same job).

        Returns the pending ``AssistantGeneration``; :meth:`wait_for_assistant_generation` follows it.
        """
        body = {} if version is None else {"version": version}
        return self._request(
            "POST",
            f"/v1/packages/{package_id}/assistant-configs",
            json=body,
            headers={"Idempotency-Key": idempotency_key},
        ).json()

    def get_assistant_generation(self, generation_id: str) -> dict[str, Any]:
        return self._request("GET", f"/v1/assistant-generations/{generation_id}").json()

    def get_assistant_config(self, package_id: str, config_id: str) -> dict[str, Any]:
        return self._request("GET", f"/v1/packages/{package_id}/assistant-configs/{config_id}").json()

    def wait_for_assistant_generation(
        self, generation_id: str, *, timeout: float = 120.0, interval: float = 0.25
    ) -> dict[str, Any]:
        """Poll a generation until it is ``ready`` or ``failed``; TimeoutError if it is not in time."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get_assistant_generation(generation_id)
            if job["state"] != "pending":
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"assistant generation {generation_id} still pending after {timeout:.0f} s"
                )
            time.sleep(interval)

    def approve_assistant_config(self, package_id: str, config_id: str) -> dict[str, Any]:
        """Approve a draft assistant config so it ships to devices (admin)."""
        return self._request(
            "POST", f"/v1/packages/{package_id}/assistant-configs/{config_id}/approve"
        ).json()

    def withdraw_package_version(
        self, package_id: str, version: int, reason: str, idempotency_key: str
    ) -> dict[str, Any]:
        """Withdraw a package version from every bundle and device (admin); the Withdrawal, 202."""
        return self._request(
            "POST",
            f"/v1/packages/{package_id}/versions/{version}/revoke",
            json={"reason": reason},
            headers={"Idempotency-Key": idempotency_key},
        ).json()

    def get_withdrawal(self, package_id: str, version: int) -> dict[str, Any]:
        """The progress of a package version's withdrawal (admin; docs/withdrawal.md)."""
        return self._request("GET", f"/v1/packages/{package_id}/versions/{version}/withdrawal").json()

    def branding_overlay(self) -> dict[str, Any]:
        """The tenant's signed branding overlay and its revision (``overlay`` null: unbranded)."""
        return self._request("GET", "/v1/tenant/branding").json()

    def branding_logo(self, limit: int) -> bytes:
        """The bytes of the logo the tenant's overlay names, at most ``limit`` + 1 of them read
        (so a caller checking them against the overlay's size sees a longer answer, never all of it)."""
        response = self._request("GET", "/v1/tenant/branding/logo", headers={"Accept": "image/*"}, stream=True)
        with response:
            data = bytearray()
            for chunk in response.iter_content(64 * 1024):
                data += chunk
                if len(data) > limit:
                    break
            return bytes(data[: limit + 1])

    def bundle_assistant(self, bundle_id: str) -> dict[str, Any]:
        """The signed overlays of the bundle's approved assistant configs (docs/assistant.md)."""
        return self._request("GET", f"/v1/bundles/{bundle_id}/assistant").json()

    def jwks(self) -> dict[str, Any]:
        """The keys that verify bundle manifests and licences."""
        return self._request("GET", "/v1/.well-known/jwks.json").json()

    def sync_device(
        self, device_id: str, cursor: str | None = None, limit: int | None = None
    ) -> dict[str, Any]:
        """One page of a device's change feed after ``cursor``, with a signed status (docs/offline-bundles.md "Sync")."""
        params = {k: v for k, v in {"cursor": cursor, "limit": limit}.items() if v is not None}
        return self._request("GET", f"/v1/devices/{device_id}/sync", params=params).json()

    def revoke_bundle(self, bundle_id: str, reason: str) -> dict[str, Any]:
        """Revoke a bundle (idempotent); every device holding it learns it through its sync feed."""
        return self._request("POST", f"/v1/bundles/{bundle_id}/revoke", json={"reason": reason}).json()

    def report_tamper(self, device_id: str, bundle_id: str, kind: str, detail: str = "") -> dict[str, Any]:
        """Report tampered content seen by a device; returns ``{"report_id"}``."""
        body = {"bundle_id": bundle_id, "kind": kind, "detail": detail[:1000]}
        return self._request("POST", f"/v1/devices/{device_id}/tamper-reports", json=body).json()


def put_upload(upload: dict[str, Any], data: bytes, timeout: float = 300.0) -> None:
    """PUT a zip to the presigned URL, with exactly the headers it was signed for."""
    response = requests.put(upload["url"], data=data, headers=upload["headers"], timeout=timeout)
    if response.status_code >= 300:
        raise ApiError(response.status_code, {"title": "upload refused", "detail": response.text[:300]})
