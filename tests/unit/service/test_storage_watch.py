"""Which bundles-bucket changes are the service's own, and which are tampering."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from content_service.domain.bundle import Bundle, BundlePackage
from content_service.domain.package import ContainerRef, PlayPackage, SealedContent
from content_service.service.storage_watch import ObjectChange, check_bundle_object, object_changes
from tests.fakes import FakeBundleRepository, FakePackageRepository
from tests.outbox_fakes import FakeMetrics

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
MANIFEST = "tenants/t/bundles/bnd_1/manifest.jws"
CONTAINER = ContainerRef("tenants/t/containers/pkg/v1/abc.cspc", 100, "c" * 64)


class Digests:
    def __init__(self, digests: dict[str, str]) -> None:
        self.digests = digests

    def sha256(self, key: str) -> str | None:
        return self.digests.get(key)


class Log:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, str]] = {}

    def add(self, tenant_id, bundle_id, change, record_id) -> None:
        self.rows.setdefault(f"{bundle_id}/{record_id}", (tenant_id, bundle_id))


def _world(with_bundle: bool = True, sealed: bool = True, container: ContainerRef = CONTAINER):
    bundles, packages = FakeBundleRepository(), FakePackageRepository()
    if with_bundle:
        member = BundlePackage("pkg", 1, "h" * 64, container)
        bundle = Bundle.create(
            tenant_id="t", bundle_id="bnd_1", user_id="u", residency_zone="eu", packages=(member,), now=NOW
        )
        bundles.add(replace(bundle.mark_built(MANIFEST, "m" * 64, NOW), events=()))
    package = PlayPackage.start_building(tenant_id="t", package_id="pkg", version=1, source_key="s", now=NOW)
    if sealed:
        package = replace(package, sealed=SealedContent(container, "wrapped"))
    packages.add(package)
    return bundles, packages


def _check(change, bundles, packages, digests):
    log, metrics = Log(), FakeMetrics()
    flagged = check_bundle_object(
        change, bundles=bundles, packages=packages, digests=Digests(digests), tampers=log, metrics=metrics
    )
    return flagged, log, metrics


def _change(key: str, name: str = "ObjectCreated:Put", size: int = 100) -> ObjectChange:
    return ObjectChange(key, name, size, "0055AED6DCD90281E5", NOW)


def test_a_manifest_written_before_its_bundle_record_is_the_services_own() -> None:
    bundles, packages = _world(with_bundle=False)
    assert _check(_change(MANIFEST), bundles, packages, {MANIFEST: "x" * 64})[0] == []


def test_a_manifest_that_matches_its_record_is_fine_and_another_one_is_tampering() -> None:
    bundles, packages = _world()
    assert _check(_change(MANIFEST), bundles, packages, {MANIFEST: "m" * 64})[0] == []
    flagged, log, _ = _check(_change(MANIFEST), bundles, packages, {MANIFEST: "x" * 64})
    assert flagged == ["bnd_1"] and len(log.rows) == 1


def test_removing_a_recorded_object_is_tampering() -> None:
    bundles, packages = _world()
    assert _check(_change(MANIFEST, "ObjectRemoved:Delete"), bundles, packages, {})[0] == ["bnd_1"]
    assert _check(_change(CONTAINER.key, "ObjectRemoved:DeleteMarkerCreated"), bundles, packages, {})[0] == [
        "bnd_1"
    ]


def test_a_container_is_checked_by_size_and_digest_once_recorded() -> None:
    bundles, packages = _world()
    assert _check(_change(CONTAINER.key), bundles, packages, {CONTAINER.key: "c" * 64})[0] == []
    assert _check(_change(CONTAINER.key, size=99), bundles, packages, {CONTAINER.key: "c" * 64})[0] == [
        "bnd_1"
    ]
    assert _check(_change(CONTAINER.key), bundles, packages, {CONTAINER.key: "d" * 64})[0] == ["bnd_1"]
    unsealed_bundles, unsealed = _world(sealed=False)
    assert _check(_change(CONTAINER.key), unsealed_bundles, unsealed, {CONTAINER.key: "d" * 64})[0] == []


def test_an_object_outside_the_layout_is_counted_but_revokes_nothing() -> None:
    bundles, packages = _world()
    flagged, log, metrics = _check(_change("somewhere/else.bin"), bundles, packages, {})
    assert flagged == [] and log.rows == {} and metrics.named("TamperEvents") == [1]


def test_notification_keys_are_url_decoded_and_other_events_ignored() -> None:
    body = json.dumps(
        {
            "Records": [
                {
                    "eventName": "ObjectCreated:Put",
                    "eventTime": "2026-11-28T12:00:00.000Z",
                    "s3": {
                        "object": {"key": "tenants/t/bundles/a+b/manifest.jws", "size": 3, "sequencer": "01"}
                    },
                },
                {
                    "eventName": "ObjectRestore:Post",
                    "eventTime": "2026-11-28T12:00:00.000Z",
                    "s3": {"object": {}},
                },
            ]
        }
    )
    (change,) = object_changes(body)
    assert change.key == "tenants/t/bundles/a b/manifest.jws" and change.created and change.at == NOW
    assert object_changes(json.dumps({"Event": "s3:TestEvent"})) == []


def test_the_sample_removal_notification_names_a_manifest() -> None:
    from pathlib import Path

    sample = Path(__file__).parents[3] / "events" / "watch_bundles" / "sqs_s3_object_removed.json"
    (record,) = json.loads(sample.read_text())["Records"]
    (change,) = object_changes(record["body"])
    assert not change.created and change.key.endswith("/manifest.jws")


def test_a_content_object_is_the_services_own_only_while_its_bytes_hash_to_its_name() -> None:
    bundles, packages = _world()
    name = "a" * 64
    key = f"tenants/t/objects/pkg/{name}.csob"
    flagged, _, metrics = _check(_change(key), bundles, packages, {key: name})
    assert flagged == [] and metrics.named("TamperEvents") == []
    flagged, log, metrics = _check(_change(key), bundles, packages, {key: "b" * 64})
    assert flagged == [] and log.rows == {} and metrics.named("TamperEvents") == [1]
    _, _, metrics = _check(_change(key, "ObjectRemoved:Delete"), bundles, packages, {})
    assert metrics.named("TamperEvents") == [1]


def test_a_format_2_index_is_checked_like_a_container() -> None:
    index = ContainerRef("tenants/t/containers/pkg/v1/abc.csix", 100, "c" * 64, format=2)
    bundles, packages = _world(container=index)
    assert _check(_change(index.key), bundles, packages, {index.key: "c" * 64})[0] == []
    assert _check(_change(index.key), bundles, packages, {index.key: "d" * 64})[0] == ["bnd_1"]


def test_a_branding_logo_is_the_services_own_only_while_its_bytes_hash_to_its_name() -> None:
    bundles, packages = _world()
    name = "e" * 64
    key = f"tenants/t/branding/logo/{name}.png"
    flagged, log, metrics = _check(_change(key), bundles, packages, {key: name})
    assert flagged == [] and log.rows == {} and metrics.named("TamperEvents") == []
    flagged, log, metrics = _check(_change(key), bundles, packages, {key: "f" * 64})
    assert flagged == [] and log.rows == {} and metrics.named("TamperEvents") == [1]
    _, _, metrics = _check(_change(key, "ObjectRemoved:Delete"), bundles, packages, {})
    assert metrics.named("TamperEvents") == [1]
