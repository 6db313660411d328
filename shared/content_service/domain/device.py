"""The Device aggregate: a learner's device, enrolled with an X25519 public key.

States: ``active → revoked`` (final). A revoked device gets no licence and no download.
"""

from __future__ import annotations

import base64
import binascii
import enum
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from content_service.domain.errors import (
    PROBLEM_BASE,
    DomainError,
    InvalidTransition,
    InvariantViolated,
    ValidationFailed,
)
from content_service.domain.events import DomainEvent


class DeviceState(enum.StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


def check_x25519_public_jwk(jwk: dict[str, Any]) -> dict[str, str]:
    """The enrolment key must be a public X25519 JWK (RFC 8037); return its canonical form."""
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "X25519":
        raise ValidationFailed('public_key must be a JWK with "kty": "OKP" and "crv": "X25519"')
    if "d" in jwk:
        raise ValidationFailed("public_key carries a private part ('d'): send the public key only")
    x = jwk.get("x")
    if not isinstance(x, str):
        raise ValidationFailed("public_key needs its 'x' member")
    try:
        raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
    except (binascii.Error, ValueError) as error:
        raise ValidationFailed("public_key 'x' is not base64url") from error
    if len(raw) != 32 or "=" in x:
        raise ValidationFailed("public_key 'x' must be 32 bytes, base64url without padding")
    # Base64url leaves spare bits in the last character, so several strings decode to the same 32
    # bytes. Only the canonical one is accepted: the key's thumbprint (which keeps a key from being
    # enrolled twice) is computed from this string, and two spellings would give two thumbprints.
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != x:
        raise ValidationFailed("public_key 'x' is not canonical base64url")
    return {"kty": "OKP", "crv": "X25519", "x": x}


@dataclass(frozen=True)
class Device:
    tenant_id: str
    device_id: str
    user_id: str
    name: str
    public_key: dict[str, str]
    state: DeviceState
    created_at: datetime
    updated_at: datetime
    revision: int = 0
    revoke_reason: str | None = None
    events: tuple[DomainEvent, ...] = ()

    @classmethod
    def enroll(
        cls,
        *,
        tenant_id: str,
        device_id: str,
        user_id: str,
        name: str,
        public_key: dict[str, Any],
        now: datetime,
    ) -> Device:
        """A new active device of ``user_id`` in ``tenant_id``."""
        if not tenant_id or not device_id or not user_id:
            raise InvariantViolated("a device needs a tenant, an id and a user")
        device = cls(
            tenant_id=tenant_id,
            device_id=device_id,
            user_id=user_id,
            name=name.strip()[:100] or "device",
            public_key=check_x25519_public_jwk(public_key),
            state=DeviceState.ACTIVE,
            created_at=now,
            updated_at=now,
        )
        return device._record("content.device.enrolled.v1", now, {"user_id": user_id})

    @property
    def is_active(self) -> bool:
        return self.state is DeviceState.ACTIVE

    def revoke(self, reason: str, now: datetime) -> Device:
        """Withdraw the device; final. Revoking a revoked device is refused (callers make it idempotent)."""
        if self.state is DeviceState.REVOKED:
            raise InvalidTransition(f"device {self.device_id} is already revoked", state=self.state.value)
        if not reason.strip():
            raise InvariantViolated("a revocation needs a reason")
        revoked = replace(self, state=DeviceState.REVOKED, revoke_reason=reason.strip(), updated_at=now)
        return revoked._record(
            "content.device.revoked.v1", now, {"reason": reason.strip(), "user_id": self.user_id}
        )

    def _record(self, name: str, now: datetime, data: dict[str, Any]) -> Device:
        event = DomainEvent(name, self.tenant_id, self.device_id, now, data)
        return replace(self, events=(*self.events, event))


class DeviceLimitReached(InvariantViolated):
    problem_type = InvariantViolated.problem_type.rsplit("/", 1)[0] + "/device-limit-reached"
    title = "The user has reached the device limit"
    status = 409


class DeviceKeyAlreadyEnrolled(DomainError):
    """The public key is already a device of this tenant (active or revoked): one key, one device.

    A revoked device keeps its key claim, so a key that was revoked (a lost or stolen device)
    cannot come back as a new device.
    """

    problem_type = PROBLEM_BASE + "device-key-already-enrolled"
    title = "This public key is already enrolled"
    status = 409


def check_device_cap(active_devices: int, cap: int) -> None:
    """A user may hold at most ``cap`` active devices; enrolment past it is refused up front."""
    if active_devices >= cap:
        raise DeviceLimitReached(
            f"the user already has {active_devices} active devices; the limit is {cap}", limit=cap
        )
