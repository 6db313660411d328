"""PlayPackage transitions: exactly what each one changes and records, and each refusal's message."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from content_service.domain.errors import InvalidTransition, InvariantViolated
from content_service.domain.package import (
    ContainerRef,
    DeclaredUpload,
    PackageEvent,
    PackageState,
    PackageSummary,
    PlayPackage,
    Problem,
    SealedContent,
    Standard,
)
from tests.unit.domain.test_package import NOW, a_manifest, a_package

LATER = NOW + timedelta(minutes=3)


def exactly(error: type[Exception], message: str):
    return pytest.raises(error, match="^" + re.escape(message) + "$")


def test_a_new_version_is_building_with_one_event_naming_its_source() -> None:
    package = a_package()
    assert (package.state, package.created_at, package.updated_at, package.revision) == (
        PackageState.BUILDING, NOW, NOW, 0
    )
    assert (package.summary, package.sealed, package.problem, package.revoke_reason, package.declared_upload) == (
        None, None, None, None, None
    )
    assert package.events == (
        PackageEvent("content.package.building.v1", "t1", "p1", 1, NOW, {"source_key": "uploads/t1/p1/v1/source.zip"}),
    )
    assert package.last_event == package.events[0]
    with exactly(InvariantViolated, "a package needs a tenant and an id"):
        PlayPackage.start_building(tenant_id="", package_id="p", version=1, source_key="k", now=NOW)
    with exactly(InvariantViolated, "package versions start at 1"):
        PlayPackage.start_building(tenant_id="t", package_id="p", version=0, source_key="k", now=NOW)
    assert PlayPackage.start_building(tenant_id="t", package_id="p", version=1, source_key="k", now=NOW).version == 1


def test_a_built_version_keeps_its_summary_and_sealed_container() -> None:
    manifest = a_manifest("index.html", "b.js")
    sealed = SealedContent(ContainerRef("c", 5, "s"), "wrapped")
    built = a_package().mark_built(manifest, LATER, sealed)
    assert (built.state, built.sealed, built.updated_at, built.created_at) == (PackageState.BUILT, sealed, LATER, NOW)
    assert built.summary == PackageSummary(Standard.NATIVE, "Welcome", "en", 2, 20, 1, manifest.content_hash)
    assert built.events[-1] == PackageEvent(
        "content.package.built.v1", "t1", "p1", 1, LATER, {"content_hash": manifest.content_hash, "standard": "native"}
    )
    assert a_package().mark_built(manifest, LATER).sealed is None


def test_a_failed_version_records_its_problem() -> None:
    problem = Problem("zip.bad", "not a zip", "a/b")
    assert problem.as_dict() == {"code": "zip.bad", "detail": "not a zip", "path": "a/b"}
    assert Problem("c", "d").as_dict() == {"code": "c", "detail": "d", "path": None}
    failed = a_package().mark_failed(problem, LATER)
    assert (failed.state, failed.problem, failed.updated_at) == (PackageState.FAILED, problem, LATER)
    assert failed.events[-1] == PackageEvent("content.package.failed.v1", "t1", "p1", 1, LATER, problem.as_dict())
    with exactly(InvalidTransition, "package p1 v1 is failed and cannot become built") as raised:
        failed.mark_built(a_manifest(), LATER)
    assert raised.value.extensions == {"state": "failed"}


def test_a_revoked_version_records_its_reason() -> None:
    built = a_package().mark_built(a_manifest(), NOW)
    revoked = built.revoke("recalled", LATER)
    assert (revoked.state, revoked.revoke_reason, revoked.updated_at) == (PackageState.REVOKED, "recalled", LATER)
    assert revoked.events[-1] == PackageEvent("content.package.revoked.v1", "t1", "p1", 1, LATER, {"reason": "recalled"})
    with exactly(InvariantViolated, "a revocation needs a reason"):
        built.revoke(" ", LATER)
    with exactly(InvalidTransition, "package p1 v1 is revoked and cannot become revoked"):
        revoked.revoke("again", LATER)


def test_staleness_is_strictly_past_the_timeout() -> None:
    package = a_package()
    assert not package.is_stale(NOW + timedelta(seconds=60), 60)
    assert package.is_stale(NOW + timedelta(seconds=61), 60)


def test_a_declared_upload_of_length_zero_is_allowed_and_its_refusal_says_why() -> None:
    assert DeclaredUpload("application/zip", 0).content_length == 0
    with exactly(InvariantViolated, "a declared upload has a content type and a non-negative length"):
        DeclaredUpload("", 5)
