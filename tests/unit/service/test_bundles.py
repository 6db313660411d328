"""Bundles and licences with real crypto: signed manifests, content keys wrapped to one device only."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

import pytest

from content_service.crypto import ContainerReader
from content_service.crypto.licence import (
    LicenceKeyError,
    device_public_jwk,
    generate_device_key,
    unwrap_content_key,
)
from content_service.crypto.signing import KeyRing, LocalSigner, verify
from content_service.domain.errors import InvalidTransition, InvariantViolated, NotFound
from content_service.domain.licence import LicenceTerms, check_licence_use
from content_service.domain.principal import Principal, Role
from content_service.domain.tamper import TamperEvidence
from content_service.packaging.limits import ImportLimits
from content_service.samples import sample_zip_bytes
from content_service.service import bundles as cases
from content_service.service.devices import enroll_device, revoke_device
from content_service.service.packages import RequestUpload, build_uploaded_package, request_upload
from tests.fakes import (
    FakeBundleRepository,
    FakeBundleStore,
    FakeClock,
    FakeContentKeys,
    FakeDeviceRepository,
    FakeLicenceRecords,
    FakePackageRepository,
    FakePackageStore,
    FakeTamperReports,
    FakeUploadStore,
    FakeUrlSigner,
)

TERMS = LicenceTerms(validity=timedelta(days=2), offline_grace=timedelta(days=1))


@pytest.fixture
def world(tmp_path):
    w = {
        "packages": FakePackageRepository(),
        "uploads": FakeUploadStore(tmp_path),
        "store": FakePackageStore(),
        "keys": FakeContentKeys(),
        "containers": FakeBundleStore(),
        "clock": FakeClock(),
        "devices": FakeDeviceRepository(),
        "bundles": FakeBundleRepository(),
        "licences": FakeLicenceRecords(),
        "reports": FakeTamperReports(),
        "ring": KeyRing([LocalSigner.generate()]),
    }
    return w


def built_package(w, tenant="t1", content_format=1):
    data = sample_zip_bytes("welcome")
    ticket = request_upload(
        RequestUpload(tenant, "author", "application/zip", len(data)),
        packages=w["packages"],
        uploads=w["uploads"],
        clock=w["clock"],
        limits=ImportLimits(),
        url_ttl_seconds=60,
    )
    w["uploads"].put(ticket.package.source_key, data)
    return build_uploaded_package(
        ticket.package.source_key,
        packages=w["packages"],
        uploads=w["uploads"],
        store=w["store"],
        keys=w["keys"],
        containers=w["containers"],
        clock=w["clock"],
        limits=ImportLimits(),
        content_format=content_format,
    ).package


def a_bundle(w, package, tenant="t1", user="learner"):
    return cases.create_bundle(
        tenant,
        user,
        [cases.PackageRequest(package.package_id)],
        "eu",
        packages=w["packages"],
        bundles=w["bundles"],
        store=w["containers"],
        signer=w["ring"],
        clock=w["clock"],
    )


def a_device(w, tenant="t1", user="learner"):
    key = generate_device_key()
    device = enroll_device(
        tenant, user, device_public_jwk(key), "tablet", devices=w["devices"], clock=w["clock"], device_cap=3
    )
    return device, key


def learner(tenant="t1", user="learner"):
    return Principal.user(tenant, user)


CATALOG = Principal.service("t1", "catalog-client", Role.CATALOG)


def licence(w, bundle, device, tenant="t1", user="learner"):
    return cases.issue_licence(
        learner(tenant, user),
        bundle.bundle_id,
        device.device_id,
        bundles=w["bundles"],
        devices=w["devices"],
        packages=w["packages"],
        keys=w["keys"],
        signer=w["ring"],
        records=w["licences"],
        clock=w["clock"],
        terms=TERMS,
    )


def download(w, bundle, device):
    return cases.download_urls(
        learner(),
        bundle.bundle_id,
        device.device_id,
        bundles=w["bundles"],
        devices=w["devices"],
        urls=FakeUrlSigner(),
        clock=w["clock"],
        ttl=timedelta(minutes=5),
    )


def test_a_bundle_has_a_signed_manifest_listing_each_container(world):
    package = built_package(world)
    bundle = a_bundle(world, package)
    token = world["containers"].objects[bundle.manifest_key].decode()
    claims = verify(token, world["ring"].jwks(), typ=cases.MANIFEST_TYPE)
    assert claims["bundle_id"] == bundle.bundle_id and claims["tenant_id"] == "t1"
    assert claims["packages"][0]["container"] == package.sealed.container.as_dict()
    assert bundle.manifest_sha256 == hashlib.sha256(token.encode()).hexdigest()


def test_only_built_packages_of_the_same_tenant_can_be_bundled(world):
    package = built_package(world)
    with pytest.raises(NotFound):
        a_bundle(world, package, tenant="t2")
    building = request_upload(
        RequestUpload("t1", "a", "application/zip", 10),
        packages=world["packages"],
        uploads=world["uploads"],
        clock=world["clock"],
        limits=ImportLimits(),
        url_ttl_seconds=60,
    ).package
    # A valid request the package's state does not allow yet: a conflict (409), not bad input.
    with pytest.raises(InvalidTransition):
        a_bundle(world, building)


def test_a_licence_opens_the_content_on_its_device_only(world):
    package = built_package(world)
    bundle = a_bundle(world, package)
    device, key = a_device(world)
    other, other_key = a_device(world)
    issued = licence(world, bundle, device)
    claims = verify(issued.token, world["ring"].jwks(), typ=cases.LICENCE_TYPE)
    check_licence_use(
        claims,
        device_id=device.device_id,
        trusted_now=claims["nbf"],
        online=False,
        last_status_at=None,
        status_interval=60,
    )
    jwe = claims["keys"][0]["jwe"]
    content_key = unwrap_content_key(jwe, key, bundle_id=bundle.bundle_id, device_id=device.device_id)
    container = world["containers"].objects[package.sealed.container.key]
    assert b"<!doctype html>" in ContainerReader(io.BytesIO(container), content_key).read_file("index.html")
    for wrong_key, wrong_device, wrong_bundle in [
        (other_key, other.device_id, bundle.bundle_id),
        (other_key, device.device_id, bundle.bundle_id),
        (key, device.device_id, "bnd_" + "0" * 32),
    ]:
        with pytest.raises(LicenceKeyError):
            unwrap_content_key(jwe, wrong_key, bundle_id=wrong_bundle, device_id=wrong_device)


def test_a_licence_for_a_new_device_reuses_the_sealed_container(world):
    package = built_package(world)
    bundle = a_bundle(world, package)
    objects_before = dict(world["containers"].objects)
    for _ in range(3):
        device, _ = a_device(world)
        licence(world, bundle, device)
    assert world["containers"].objects == objects_before


def test_licences_are_refused_for_revoked_or_foreign_devices_and_revoked_bundles(world):
    package = built_package(world)
    bundle = a_bundle(world, package)
    stranger, _ = a_device(world, user="someone-else")
    with pytest.raises(NotFound):
        licence(world, bundle, stranger)
    with pytest.raises(NotFound):
        licence(world, bundle, stranger, user="someone-else")
    foreign, _ = a_device(world, tenant="t2")
    with pytest.raises(NotFound):
        licence(world, bundle, foreign)
    device, _ = a_device(world)
    revoke_device(
        learner(),
        device.device_id,
        "lost",
        devices=world["devices"],
        clock=world["clock"],
        records=world["licences"],
        offline_grace=TERMS.offline_grace,
    )
    with pytest.raises(InvalidTransition):
        licence(world, bundle, device)
    fresh, _ = a_device(world)
    world["bundles"].save(
        world["bundles"].get("t1", bundle.bundle_id).revoke("withdrawn", world["clock"].now())
    )
    with pytest.raises(InvalidTransition):
        licence(world, bundle, fresh)


def test_licence_issue_is_idempotent_while_valid_and_renewed_after_half_life(world):
    package = built_package(world)
    bundle = a_bundle(world, package)
    device, _ = a_device(world)
    first = licence(world, bundle, device)
    world["clock"].advance(3600)
    assert licence(world, bundle, device) == first
    world["clock"].advance(2 * 24 * 3600)
    assert licence(world, bundle, device).licence_id != first.licence_id


def test_downloads_are_signed_urls_for_an_active_device_only(world):
    package = built_package(world)
    bundle = a_bundle(world, package)
    device, _ = a_device(world)
    signed = download(world, bundle, device)
    assert signed.containers[0]["url"].startswith(f"https://cdn.example/{package.sealed.container.key}")
    assert signed.manifest_url.startswith(f"https://cdn.example/{bundle.manifest_key}")
    revoke_device(
        learner(),
        device.device_id,
        "lost",
        devices=world["devices"],
        clock=world["clock"],
        records=world["licences"],
        offline_grace=TERMS.offline_grace,
    )
    with pytest.raises(InvalidTransition):
        download(world, bundle, device)


def test_a_format_2_package_lists_its_index_and_one_url_signed_for_its_lineage_objects(world):
    package = built_package(world, content_format=2)
    bundle = a_bundle(world, package)
    device, _ = a_device(world)
    listed = download(world, bundle, device).containers[0]
    prefix = f"tenants/t1/objects/{package.package_id}/"
    assert listed["url"].startswith(f"https://cdn.example/{package.sealed.container.key}")
    assert listed["objects_url"] == f"https://cdn.example/{prefix}?Policy=prefix:{prefix}&Signature=fake"
    manifest = bundle.manifest_claims(0)["packages"][0]["container"]
    assert manifest["format"] == 2 and manifest["objects_prefix"] == prefix


def test_a_format_1_package_lists_no_objects_url(world):
    bundle = a_bundle(world, built_package(world))
    device, _ = a_device(world)
    assert "objects_url" not in download(world, bundle, device).containers[0]


def test_the_device_cap_is_enforced_at_enrolment(world):
    for _ in range(3):
        a_device(world)
    with pytest.raises(InvariantViolated):
        a_device(world)
    a_device(world, user="another-learner")


def test_a_tamper_report_is_recorded_for_the_devices_bundle(world):
    package = built_package(world)
    bundle = a_bundle(world, package)
    device, _ = a_device(world)
    container = bundle.packages[0].container

    def report(evidence, who=None, device_id=device.device_id):
        return cases.report_tamper(
            who or learner(),
            device_id,
            bundle.bundle_id,
            "container",
            "segment 3 failed",
            evidence,
            bundles=world["bundles"],
            devices=world["devices"],
            reports=world["reports"],
            clock=world["clock"],
        )

    mismatch = TamperEvidence("container", container.sha256, "0" * 64, package.package_id, package.version)
    report_id = report(mismatch)
    unproven = [
        report(None),
        report(TamperEvidence("container", "1" * 64, "0" * 64, package.package_id, package.version)),
        report(TamperEvidence("container", container.sha256, container.sha256, package.package_id, 1)),
        report(TamperEvidence("container", container.sha256, "0" * 64, "another-package", 1)),
    ]
    reports = {r.report_id: r for r in world["reports"].reports}
    assert reports[report_id].corroborated and reports[report_id].evidence == mismatch
    assert not any(reports[r].corroborated for r in unproven)
    stranger, _ = a_device(world, user="mallory")
    with pytest.raises(NotFound):
        report(mismatch, who=learner(user="mallory"))
    with pytest.raises(NotFound):
        report(mismatch, who=learner(user="mallory"), device_id=stranger.device_id)
    assert len(world["reports"].reports) == 5


def test_a_revoked_bundle_gets_no_licence_or_download_and_revoking_again_changes_nothing(world):
    package = built_package(world)
    bundle = a_bundle(world, package)
    device, _ = a_device(world)
    revoked = cases.revoke_bundle(
        CATALOG, bundle.bundle_id, "withdrawn", bundles=world["bundles"], clock=world["clock"]
    )
    assert revoked.state.value == "revoked"
    again = cases.revoke_bundle(
        CATALOG, bundle.bundle_id, "again", bundles=world["bundles"], clock=world["clock"]
    )
    assert again == revoked
    with pytest.raises(InvalidTransition):
        licence(world, bundle, device)
    with pytest.raises(InvalidTransition):
        download(world, bundle, device)
    with pytest.raises(NotFound):
        cases.revoke_bundle(
            Principal.service("t2", "catalog", Role.CATALOG),
            bundle.bundle_id,
            "x",
            bundles=world["bundles"],
            clock=world["clock"],
        )
