"""The Bundle aggregate's exact changes, events, claims and refusals."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from content_service.domain.bundle import Bundle, BundleState
from content_service.domain.errors import InvalidTransition, InvariantViolated
from content_service.domain.package import ContainerRef
from tests.unit.domain.test_device_bundle_licence import NOW, a_bundle, a_package

LATER = NOW + timedelta(hours=1)


def exactly(error: type[Exception], message: str):
    return pytest.raises(error, match="^" + re.escape(message) + "$")


def test_a_new_bundle_is_building_with_its_request_hash_and_event() -> None:
    bundle = Bundle.create(
        tenant_id="t1", bundle_id="bnd_1", user_id="u1", residency_zone="eu", packages=(a_package(),), now=NOW,
        request_hash="h",
    )
    assert (bundle.state, bundle.created_at, bundle.updated_at, bundle.request_hash, bundle.revision) == (
        BundleState.BUILDING, NOW, NOW, "h", 0
    )
    (event,) = bundle.events
    assert (event.name, event.tenant_id, event.subject_id, event.occurred_at, event.data) == (
        "content.bundle.building.v1", "t1", "bnd_1", NOW, {"user_id": "u1"}
    )
    assert a_bundle().request_hash is None


def test_a_bundle_refuses_no_packages_too_many_or_a_package_twice() -> None:
    with exactly(InvariantViolated, "a bundle needs at least one package"):
        Bundle.create(tenant_id="t", bundle_id="b", user_id="u", residency_zone="eu", packages=(), now=NOW)
    hundred = tuple(a_package(f"p{i}") for i in range(100))
    assert len(a_bundle(packages=hundred).packages) == 100
    with exactly(InvariantViolated, "a bundle holds at most 100 packages"):
        a_bundle(packages=(*hundred, a_package("p100")))
    with exactly(InvariantViolated, "a package version appears twice in the bundle"):
        a_bundle(packages=(a_package("p1", 1), a_package("p1", 1)))
    with exactly(InvariantViolated, "a bundle holds one version of each package"):
        a_bundle(packages=(a_package("p1", 1), a_package("p1", 2)))


def test_building_then_built_records_the_manifest_and_the_packages() -> None:
    built = a_bundle(packages=(a_package("p1", 1), a_package("p2", 4))).mark_built("mk", "ms", LATER)
    assert (built.state, built.manifest_key, built.manifest_sha256, built.updated_at, built.created_at) == (
        BundleState.BUILT, "mk", "ms", LATER, NOW
    )
    event = built.events[-1]
    assert (event.name, event.occurred_at) == ("content.bundle.created.v1", LATER)
    assert event.data == {
        "user_id": "u1",
        "residency_zone": "eu",
        "packages": [{"package_id": "p1", "version": 1}, {"package_id": "p2", "version": 4}],
    }
    built.require_deliverable()
    with exactly(InvalidTransition, "bundle bnd_1 is built and cannot become built") as raised:
        built.mark_built("mk", "ms", LATER)
    assert raised.value.extensions == {"state": "built"}


def test_only_a_built_bundle_is_deliverable() -> None:
    with exactly(InvalidTransition, "bundle bnd_1 is building: no licence or download") as raised:
        a_bundle().require_deliverable()
    assert raised.value.extensions == {"state": "building"}
    with exactly(InvalidTransition, "bundle bnd_1 is revoked: no licence or download"):
        a_bundle().mark_built("k", "s", NOW).revoke("r", NOW).require_deliverable()


def test_revocation_records_its_reason_and_the_withdrawal_when_there_is_one() -> None:
    built = a_bundle().mark_built("k", "s", NOW)
    revoked = built.revoke("  recalled ", LATER)
    assert (revoked.state, revoked.revoke_reason, revoked.withdrawal_id, revoked.updated_at) == (
        BundleState.REVOKED, "recalled", None, LATER
    )
    assert revoked.events[-1].name == "content.bundle.revoked.v1"
    assert revoked.events[-1].data == {"reason": "recalled", "user_id": "u1"}
    withdrawn = built.revoke("recalled", LATER, withdrawal_id="wdr_1")
    assert withdrawn.withdrawal_id == "wdr_1"
    assert withdrawn.events[-1].data == {"reason": "recalled", "user_id": "u1", "withdrawal_id": "wdr_1"}
    with exactly(InvariantViolated, "a revocation needs a reason"):
        built.revoke("  ", LATER)
    with exactly(InvalidTransition, "bundle bnd_1 is revoked and cannot become revoked"):
        revoked.revoke("again", LATER)
    with exactly(InvalidTransition, "bundle bnd_1 is building and cannot become revoked"):
        a_bundle().revoke("while building", LATER)


def test_the_manifest_claims_and_which_versions_a_bundle_holds() -> None:
    bundle = a_bundle(packages=(a_package("p1", 1), a_package("p2", 4))).mark_built("k", "s", NOW)
    assert bundle.manifest_claims(1234) == {
        "iss": "content-service",
        "ver": 1,
        "bundle_id": "bnd_1",
        "tenant_id": "t1",
        "residency_zone": "eu",
        "iat": 1234,
        "packages": [p.as_dict() for p in bundle.packages],
    }
    assert bundle.holds("p2", 4) and bundle.holds("p1", 1)
    assert not bundle.holds("p2", 1) and not bundle.holds("p3", 4)
    assert ContainerRef("k", 1, "s").as_dict() == {"key": "k", "size": 1, "sha256": "s"}
