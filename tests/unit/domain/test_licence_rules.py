"""Licence rules at their exact edges, with the refusal each edge gives."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from content_service.domain.errors import InvalidTransition, InvariantViolated
from content_service.domain.licence import (
    LicenceExpired,
    LicenceNotYetValid,
    LicenceRefused,
    LicenceTerms,
    LicenceWrongDevice,
    StatusCheckRequired,
    check_licence_use,
    require_licensable,
)
from tests.unit.domain.test_device_bundle_licence import NOW, a_bundle, a_device, claims


def exactly(error: type[Exception], message: str):
    return pytest.raises(error, match="^" + re.escape(message) + "$")


def test_the_claims_are_exactly_the_documented_ones() -> None:
    now = int(NOW.timestamp())
    assert claims() == {
        "iss": "content-service",
        "ver": 1,
        "jti": "lic_1",
        "tenant_id": "t1",
        "sub": "u1",
        "device_id": "dev_1",
        "bundle_id": "bnd_1",
        "content_hash": "s" * 64,
        "nbf": now,
        "exp": now + 7 * 86400,
        "offline_grace": 7 * 86400,
        "server_time": now,
        "status_deadline": now + 12 * 3600,
        "keys": [{"package_id": "p1", "version": 1, "jwe": "x"}],
    }
    assert LicenceTerms().clock_skew == timedelta(minutes=5)


def test_each_refusal_says_why() -> None:
    c = claims()
    nbf = c["nbf"]
    base = {"device_id": "dev_1", "online": False, "last_status_at": None, "status_interval": 60}
    with exactly(LicenceRefused, "unsupported licence version 2"):
        check_licence_use({**c, "ver": 2}, trusted_now=nbf, **base)
    with exactly(LicenceRefused, "unsupported licence version None"):
        check_licence_use({k: v for k, v in c.items() if k != "ver"}, trusted_now=nbf, **base)
    with exactly(LicenceWrongDevice, "the licence was issued to another device"):
        check_licence_use(c, trusted_now=nbf, **{**base, "device_id": "dev_2"})
    with exactly(LicenceNotYetValid, "the licence is not valid yet"):
        check_licence_use(c, trusted_now=nbf - 301, **base)
    with exactly(LicenceExpired, "the licence and its offline grace have expired"):
        check_licence_use(c, trusted_now=c["exp"] + c["offline_grace"] + 1, **base)
    with exactly(StatusCheckRequired, "online: a fresh signed status is needed before opening content"):
        check_licence_use(c, trusted_now=nbf, **{**base, "online": True})


def test_the_clock_skew_is_five_minutes_by_default_and_a_parameter() -> None:
    c = claims()
    base = {"device_id": "dev_1", "online": False, "last_status_at": None, "status_interval": 60}
    check_licence_use(c, trusted_now=c["nbf"] - 300, **base)
    check_licence_use(c, trusted_now=c["nbf"] - 10, clock_skew=10, **base)
    with pytest.raises(LicenceNotYetValid):
        check_licence_use(c, trusted_now=c["nbf"] - 11, clock_skew=10, **base)
    with pytest.raises(LicenceNotYetValid):
        check_licence_use(c, trusted_now=c["nbf"] - 1, clock_skew=0, **base)


def test_a_status_exactly_as_old_as_the_interval_is_still_fresh() -> None:
    c = claims()
    at = c["nbf"] + 1000
    online = {"device_id": "dev_1", "online": True, "status_interval": 60}
    check_licence_use(c, trusted_now=at, last_status_at=at - 60, **online)
    with pytest.raises(StatusCheckRequired):
        check_licence_use(c, trusted_now=at, last_status_at=at - 61, **online)
    check_licence_use(c, trusted_now=at, last_status_at=at - 61, **{**online, "online": False})


def test_refusing_to_licence_names_the_device_and_state() -> None:
    built = a_bundle().mark_built("k", "s" * 64, NOW)
    with exactly(InvalidTransition, "device dev_1 is revoked") as raised:
        require_licensable(built, a_device().revoke("lost", NOW))
    assert raised.value.extensions == {"state": "revoked"}
    with exactly(InvariantViolated, "device dev_1 does not belong to the bundle's user"):
        require_licensable(built, a_device(user="u2"))
