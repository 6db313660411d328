"""Device, Bundle and licence rules."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from content_service.domain.bundle import Bundle, BundlePackage, BundleState, ContainerRef
from content_service.domain.device import Device, DeviceLimitReached, DeviceState, check_device_cap
from content_service.domain.errors import InvalidTransition, InvariantViolated, ValidationFailed
from content_service.domain.licence import (
    LicenceExpired,
    LicenceNotYetValid,
    LicenceRefused,
    LicenceTerms,
    LicenceWrongDevice,
    StatusCheckRequired,
    check_licence_use,
    licence_claims,
    require_licensable,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
X = base64.urlsafe_b64encode(bytes(range(32))).decode().rstrip("=")
JWK = {"kty": "OKP", "crv": "X25519", "x": X}


def a_device(tenant="t1", user="u1", device_id="dev_1") -> Device:
    return Device.enroll(
        tenant_id=tenant, device_id=device_id, user_id=user, name="tablet", public_key=JWK, now=NOW
    )


def a_package(package_id="p1", version=1) -> BundlePackage:
    return BundlePackage(
        package_id, version, "c" * 64, ContainerRef(f"tenants/t1/containers/{package_id}.cspc", 10, "d" * 64)
    )


def a_bundle(tenant="t1", user="u1", packages=None) -> Bundle:
    return Bundle.create(
        tenant_id=tenant,
        bundle_id="bnd_1",
        user_id=user,
        residency_zone="eu",
        packages=packages or (a_package(),),
        now=NOW,
    )


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "EC", "crv": "P-256", "x": X},
        {"kty": "OKP", "crv": "Ed25519", "x": X},
        {"kty": "OKP", "crv": "X25519"},
        {"kty": "OKP", "crv": "X25519", "x": X, "d": X},
        {"kty": "OKP", "crv": "X25519", "x": X[:-2]},
        {"kty": "OKP", "crv": "X25519", "x": "!!!"},
        "not a jwk",
    ],
)
def test_enrolment_refuses_anything_but_a_public_x25519_jwk(jwk):
    with pytest.raises(ValidationFailed):
        Device.enroll(tenant_id="t", device_id="d", user_id="u", name="n", public_key=jwk, now=NOW)


def test_a_device_is_enrolled_active_and_revocation_is_final():
    device = a_device()
    assert device.state is DeviceState.ACTIVE and device.events[-1].name == "content.device.enrolled.v1"
    revoked = device.revoke("lost", NOW)
    assert revoked.state is DeviceState.REVOKED and revoked.events[-1].name == "content.device.revoked.v1"
    with pytest.raises(InvalidTransition):
        revoked.revoke("again", NOW)
    with pytest.raises(InvariantViolated):
        device.revoke(" ", NOW)


def test_the_device_cap_refuses_the_device_past_the_limit():
    check_device_cap(4, 5)
    with pytest.raises(DeviceLimitReached) as refused:
        check_device_cap(5, 5)
    assert refused.value.status == 409


def test_a_bundle_is_built_then_revoked_never_back():
    bundle = a_bundle()
    assert bundle.state is BundleState.BUILDING
    built = bundle.mark_built("k", "s" * 64, NOW)
    assert built.events[-1].name == "content.bundle.created.v1"
    revoked = built.revoke("withdrawn", NOW)
    assert revoked.events[-1].name == "content.bundle.revoked.v1"
    for illegal in (
        lambda: revoked.mark_built("k", "s", NOW),
        lambda: revoked.revoke("x", NOW),
        lambda: bundle.revoke("x", NOW),
    ):
        with pytest.raises(InvalidTransition):
            illegal()


@pytest.mark.parametrize(
    "packages",
    [(), (a_package(), a_package()), (a_package("p1", 1), a_package("p1", 2))],
)
def test_a_bundle_needs_distinct_packages(packages):
    with pytest.raises(InvariantViolated):
        Bundle.create(
            tenant_id="t", bundle_id="b", user_id="u", residency_zone="eu", packages=packages, now=NOW
        )


def test_the_manifest_claims_list_every_package_and_container():
    claims = a_bundle().manifest_claims(123)
    assert claims["packages"][0]["container"]["sha256"] == "d" * 64
    assert claims["iat"] == 123 and claims["ver"] == 1


def test_a_licence_needs_a_built_bundle_and_an_active_device_of_the_same_user():
    built = a_bundle().mark_built("k", "s" * 64, NOW)
    require_licensable(built, a_device())
    with pytest.raises(InvalidTransition):
        require_licensable(a_bundle(), a_device())
    with pytest.raises(InvalidTransition):
        require_licensable(built.revoke("r", NOW), a_device())
    with pytest.raises(InvalidTransition):
        require_licensable(built, a_device().revoke("lost", NOW))
    with pytest.raises(InvariantViolated):
        require_licensable(built, a_device(user="u2"))
    with pytest.raises(InvariantViolated):
        require_licensable(built, a_device(tenant="t2"))


def claims(**terms):
    built = a_bundle().mark_built("k", "s" * 64, NOW)
    return licence_claims(
        licence_id="lic_1",
        bundle=built,
        device=a_device(),
        manifest_sha256="s" * 64,
        wrapped_keys=[{"package_id": "p1", "version": 1, "jwe": "x"}],
        issued_at=NOW,
        terms=LicenceTerms(**terms),
    )


def test_licence_claims_carry_expiry_grace_and_status_deadline():
    c = claims(
        validity=timedelta(days=1), offline_grace=timedelta(days=2), status_interval=timedelta(hours=1)
    )
    now = int(NOW.timestamp())
    assert (c["nbf"], c["exp"], c["offline_grace"], c["status_deadline"]) == (
        now,
        now + 86400,
        172800,
        now + 3600,
    )
    assert c["device_id"] == "dev_1" and c["sub"] == "u1" and c["bundle_id"] == "bnd_1"


def use(c, at, **kwargs):
    options = {"device_id": "dev_1", "online": False, "last_status_at": None, "status_interval": 3600}
    options.update(kwargs)
    check_licence_use(c, trusted_now=at, **options)


def test_offline_the_licence_works_until_expiry_plus_grace_and_not_after():
    c = claims(validity=timedelta(days=1), offline_grace=timedelta(days=2))
    use(c, c["exp"] + c["offline_grace"])
    with pytest.raises(LicenceExpired):
        use(c, c["exp"] + c["offline_grace"] + 1)
    with pytest.raises(LicenceNotYetValid):
        use(c, c["nbf"] - 301)


def test_another_device_or_an_unknown_version_is_refused():
    c = claims()
    with pytest.raises(LicenceWrongDevice):
        use(c, c["nbf"], device_id="dev_2")
    with pytest.raises(LicenceRefused):
        use({**c, "ver": 2}, c["nbf"])


def test_online_a_stale_status_must_be_refreshed_before_opening():
    c = claims()
    with pytest.raises(StatusCheckRequired):
        use(c, c["nbf"] + 10, online=True, last_status_at=None)
    with pytest.raises(StatusCheckRequired):
        use(c, c["nbf"] + 4000, online=True, last_status_at=c["nbf"])
    use(c, c["nbf"] + 10, online=True, last_status_at=c["nbf"])


@given(st.integers(min_value=-(10**6), max_value=10**7))
def test_a_licence_opens_exactly_inside_its_window(offset):
    c = claims()
    at = c["nbf"] + offset
    inside = c["nbf"] - 300 <= at <= c["exp"] + c["offline_grace"]
    try:
        use(c, at)
    except LicenceRefused:
        assert not inside
    else:
        assert inside
