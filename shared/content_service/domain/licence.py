"""LicenseEnvelope rules: when a licence may be issued, what it says, and when a device may use it.

Issuing and enforcing are pure functions of the aggregates, the terms and a clock reading, so
the server and the reference device apply the very same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from content_service.domain.bundle import Bundle
from content_service.domain.device import Device
from content_service.domain.errors import DomainError, InvalidTransition, InvariantViolated

LICENCE_VERSION = 1


class LicenceRefused(DomainError):
    """The licence cannot be used on this device now (raised on the device, offline)."""

    title = "The licence does not allow this"
    status = 403


class LicenceNotYetValid(LicenceRefused):
    pass


class LicenceExpired(LicenceRefused):
    pass


class LicenceWrongDevice(LicenceRefused):
    pass


class StatusCheckRequired(LicenceRefused):
    """Online, the device must refresh its signed status before opening content."""


@dataclass(frozen=True)
class LicenceTerms:
    """How long a licence lasts, how long it keeps working offline past that, and clock skew allowed."""

    validity: timedelta = timedelta(days=7)
    offline_grace: timedelta = timedelta(days=7)
    status_interval: timedelta = timedelta(hours=12)
    clock_skew: timedelta = timedelta(minutes=5)


def require_licensable(bundle: Bundle, device: Device) -> None:
    """A licence is issued only for a built bundle and an active device of the same tenant and user."""
    bundle.require_deliverable()
    if not device.is_active:
        raise InvalidTransition(f"device {device.device_id} is revoked", state=device.state.value)
    if device.tenant_id != bundle.tenant_id or device.user_id != bundle.user_id:
        raise InvariantViolated(f"device {device.device_id} does not belong to the bundle's user")


def licence_claims(
    *,
    licence_id: str,
    bundle: Bundle,
    device: Device,
    manifest_sha256: str,
    wrapped_keys: list[dict[str, Any]],
    issued_at: datetime,
    terms: LicenceTerms,
) -> dict[str, Any]:
    """The licence's claims (docs/offline-bundles.md); ``wrapped_keys`` are JWEs to this device."""
    require_licensable(bundle, device)
    now = int(issued_at.timestamp())
    return {
        "iss": "content-service",
        "ver": LICENCE_VERSION,
        "jti": licence_id,
        "tenant_id": bundle.tenant_id,
        "sub": bundle.user_id,
        "device_id": device.device_id,
        "bundle_id": bundle.bundle_id,
        "content_hash": manifest_sha256,
        "nbf": now,
        "exp": now + int(terms.validity.total_seconds()),
        "offline_grace": int(terms.offline_grace.total_seconds()),
        "server_time": now,
        "status_deadline": now + int(terms.status_interval.total_seconds()),
        "keys": wrapped_keys,
    }


def check_licence_use(
    claims: dict[str, Any],
    *,
    device_id: str,
    trusted_now: int,
    online: bool,
    last_status_at: int | None,
    status_interval: int,
    clock_skew: int = 300,
) -> None:
    """Raise unless this device may open the licence's content at ``trusted_now`` (epoch seconds).

    ``trusted_now`` must come from an anti-rollback clock: setting the wall clock back cannot
    move it back. Offline, the licence works until ``exp + offline_grace``. Online, content
    opens only past a fresh status check (no older than ``status_interval``), so a device that
    reconnects learns of revocations before it plays anything.
    """
    if claims.get("ver") != LICENCE_VERSION:
        raise LicenceRefused(f"unsupported licence version {claims.get('ver')!r}")
    if claims.get("device_id") != device_id:
        raise LicenceWrongDevice("the licence was issued to another device")
    if trusted_now + clock_skew < int(claims["nbf"]):
        raise LicenceNotYetValid("the licence is not valid yet")
    if trusted_now > int(claims["exp"]) + int(claims["offline_grace"]):
        raise LicenceExpired("the licence and its offline grace have expired")
    if online and (last_status_at is None or trusted_now - last_status_at > status_interval):
        raise StatusCheckRequired("online: a fresh signed status is needed before opening content")
