"""The Device aggregate: a canonical public X25519 JWK, enrolment and a final revocation."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

import pytest

from content_service.domain.device import Device, DeviceState, check_x25519_public_jwk
from content_service.domain.errors import InvalidTransition, InvariantViolated, ValidationFailed

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
X = base64.urlsafe_b64encode(bytes(range(1, 33))).rstrip(b"=").decode()
KEY = {"kty": "OKP", "crv": "X25519", "x": X}


def refused(message: str):
    return pytest.raises(ValidationFailed, match="^" + re.escape(message) + "$")


def a_device() -> Device:
    return Device.enroll(tenant_id="t1", device_id="d1", user_id="u1", name="  My phone ", public_key=KEY, now=NOW)


def test_a_public_x25519_jwk_is_returned_in_canonical_form_without_extra_members() -> None:
    assert check_x25519_public_jwk({**KEY, "kid": "k", "use": "enc"}) == KEY


@pytest.mark.parametrize(
    "jwk",
    [
        "not a dict",
        {"crv": "X25519", "x": X},
        {"kty": "EC", "crv": "X25519", "x": X},
        {"kty": "OKP", "x": X},
        {"kty": "OKP", "crv": "Ed25519", "x": X},
    ],
)
def test_a_jwk_that_is_not_okp_x25519_is_refused(jwk: object) -> None:
    with refused('public_key must be a JWK with "kty": "OKP" and "crv": "X25519"'):
        check_x25519_public_jwk(jwk)  # type: ignore[arg-type]


def test_a_private_jwk_or_one_without_x_is_refused() -> None:
    with refused("public_key carries a private part ('d'): send the public key only"):
        check_x25519_public_jwk({**KEY, "d": X})
    with refused("public_key needs its 'x' member"):
        check_x25519_public_jwk({"kty": "OKP", "crv": "X25519"})
    with refused("public_key needs its 'x' member"):
        check_x25519_public_jwk({**KEY, "x": 5})


@pytest.mark.parametrize(
    ("x", "message"),
    [
        ("A", "public_key 'x' is not base64url"),
        (X[:-4], "public_key 'x' must be 32 bytes, base64url without padding"),
        (X + "=", "public_key 'x' must be 32 bytes, base64url without padding"),
        (base64.urlsafe_b64encode(bytes(33)).decode(), "public_key 'x' must be 32 bytes, base64url without padding"),
        (X[:-1] + chr(ord(X[-1]) + 1), "public_key 'x' is not canonical base64url"),
    ],
)
def test_x_must_be_32_bytes_of_canonical_unpadded_base64url(x: str, message: str) -> None:
    with refused(message):
        check_x25519_public_jwk({**KEY, "x": x})


def test_enrolment_makes_an_active_device_and_records_the_event() -> None:
    device = a_device()
    assert (device.tenant_id, device.device_id, device.user_id, device.name) == ("t1", "d1", "u1", "My phone")
    assert device.public_key == KEY and device.state is DeviceState.ACTIVE and device.is_active
    assert (device.created_at, device.updated_at, device.revision, device.revoke_reason) == (NOW, NOW, 0, None)
    (event,) = device.events
    assert (event.name, event.tenant_id, event.subject_id, event.data) == (
        "content.device.enrolled.v1", "t1", "d1", {"user_id": "u1"}
    )


def test_an_unnamed_device_is_called_device_and_a_long_name_is_cut_to_100() -> None:
    unnamed = Device.enroll(tenant_id="t", device_id="d", user_id="u", name="   ", public_key=KEY, now=NOW)
    assert unnamed.name == "device"
    long = Device.enroll(tenant_id="t", device_id="d", user_id="u", name="n" * 150, public_key=KEY, now=NOW)
    assert long.name == "n" * 100


@pytest.mark.parametrize(("tenant", "device", "user"), [("", "d", "u"), ("t", "", "u"), ("t", "d", "")])
def test_a_device_needs_a_tenant_an_id_and_a_user(tenant: str, device: str, user: str) -> None:
    with pytest.raises(InvariantViolated, match="^a device needs a tenant, an id and a user$"):
        Device.enroll(tenant_id=tenant, device_id=device, user_id=user, name="x", public_key=KEY, now=NOW)


def test_revocation_is_final_needs_a_reason_and_records_it() -> None:
    later = NOW + timedelta(hours=1)
    revoked = a_device().revoke("  lost  ", later)
    assert (revoked.state, revoked.revoke_reason, revoked.updated_at, revoked.created_at) == (
        DeviceState.REVOKED, "lost", later, NOW
    )
    assert not revoked.is_active
    event = revoked.events[-1]
    assert (event.name, event.tenant_id, event.subject_id, event.data) == (
        "content.device.revoked.v1", "t1", "d1", {"reason": "lost", "user_id": "u1"}
    )
    assert len(revoked.events) == 2
    with pytest.raises(InvalidTransition, match="^device d1 is already revoked$") as raised:
        revoked.revoke("again", later)
    assert raised.value.extensions == {"state": "revoked"}
    with pytest.raises(InvariantViolated, match="^a revocation needs a reason$"):
        a_device().revoke("   ", later)


def test_the_device_cap_refuses_at_the_limit_and_names_it() -> None:
    from content_service.domain.device import DeviceLimitReached, check_device_cap

    check_device_cap(4, 5)
    with pytest.raises(DeviceLimitReached, match="^the user already has 5 active devices; the limit is 5$") as raised:
        check_device_cap(5, 5)
    assert raised.value.extensions == {"limit": 5}
