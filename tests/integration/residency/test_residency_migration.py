"""A tenant's residency migration eu → us on moto: crashes at every step, downloads, every hash.

The source zone is the template's own resources in eu-west-1 (plus the bundles bucket of the eu
peer, eu-central-1, where clean-up must delete too); the target zone is the same table and
buckets made in us-east-1. A second tenant's data sits beside the migrating one and must not move.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
import pytest

from content_service.adapters.entities import DynamoTenantSettings
from content_service.adapters.feed import DynamoSyncStore
from content_service.adapters.migrations import (
    DynamoMigrationRepository,
    DynamoZoneItems,
    S3ZoneObjects,
    item_digest,
)
from content_service.domain.errors import ConcurrencyConflict, InvalidTransition
from content_service.domain.migration import MIGRATED_FEED_TYPE, MigrationState, TenantMigration
from content_service.domain.principal import Principal, Role
from content_service.domain.tenant import TenantSettings
from content_service.domain.zones import DEFAULT_ZONES, Zones
from content_service.local.template import LocalTemplate
from content_service.service.migration import Migrations, ZoneData, request_migration
from content_service.service.outbox_ports import FeedChange
from tests.fakes import FakeClock
from tests.outbox_fakes import FakeMetrics

SOURCE, PEER, TARGET = "eu-west-1", "eu-central-1", "us-east-1"
ZONES = Zones.parse(DEFAULT_ZONES)
TENANT, OTHER = "acme", "beta"
US_ENDPOINTS = ("https://api.us-east-1.example", "https://api.us-west-2.example")
ADMIN = Principal.user(TENANT, "admin-1", Role.ADMIN)


class RecordingQueue:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, int]] = []

    def send(self, tenant_id: str, migration_id: str, delay_seconds: int = 0) -> None:
        self.sent.append((tenant_id, migration_id, delay_seconds))


@dataclass
class World:
    template: LocalTemplate
    clock: FakeClock
    source: ZoneData
    target: ZoneData
    settings: DynamoTenantSettings
    repository: DynamoMigrationRepository
    buckets: dict[str, str]
    s3: dict[str, Any]
    dynamodb: dict[str, Any]
    table: str

    def migrations(self, fault: Any = None, batch_size: int = 2) -> Migrations:
        return Migrations(
            migrations=self.repository,
            settings=self.settings,
            source=self.source,
            targets=lambda zone: self.target,
            metrics=FakeMetrics(),
            clock=self.clock,
            batch_size=batch_size,
            **({"fault": fault} if fault else {}),
        )


@pytest.fixture
def world(aws_template: LocalTemplate) -> Iterator[World]:
    template = aws_template
    table = template.tables["Table"].name
    buckets = {
        "bundles": template.buckets["BundlesBucket"].name,
        "packages": template.buckets["PackagesBucket"].name,
        "exports": template.buckets["ExportsBucket"].name,
    }
    s3 = {region: boto3.client("s3", region_name=region) for region in (SOURCE, PEER, TARGET)}
    dynamodb = {region: boto3.client("dynamodb", region_name=region) for region in (SOURCE, TARGET)}
    peer_bundles = buckets["bundles"].replace(SOURCE, PEER)
    s3[PEER].create_bucket(Bucket=peer_bundles, CreateBucketConfiguration={"LocationConstraint": PEER})
    s3[PEER].put_bucket_versioning(Bucket=peer_bundles, VersioningConfiguration={"Status": "Enabled"})
    target_buckets = {role: name.replace(SOURCE, TARGET) + ("" if SOURCE in name else "-us") for role, name in buckets.items()}
    for name in target_buckets.values():
        s3[TARGET].create_bucket(Bucket=name)
    create = dict(template.tables["Table"].create_args)
    create.pop("StreamSpecification", None)
    dynamodb[TARGET].create_table(**create)
    clock = FakeClock()
    source = ZoneData(
        "eu",
        S3ZoneObjects(s3[SOURCE], buckets, {"bundles": [(s3[PEER], peer_bundles)]}),
        DynamoZoneItems(dynamodb[SOURCE], table),
        DynamoSyncStore(dynamodb[SOURCE], table),
        ("https://api.eu-west-1.example",),
    )
    target = ZoneData(
        "us",
        S3ZoneObjects(s3[TARGET], target_buckets),
        DynamoZoneItems(dynamodb[TARGET], table),
        DynamoSyncStore(dynamodb[TARGET], table),
        US_ENDPOINTS,
    )
    w = World(
        template,
        clock,
        source,
        target,
        DynamoTenantSettings(table, SOURCE),
        DynamoMigrationRepository(dynamodb[SOURCE], table),
        buckets,
        s3,
        dynamodb,
        table,
    )
    _seed(w, peer_bundles)
    yield w


def _item(tenant: str, pk: str, sk: str, entity: str, body: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "pk": {"S": f"TENANT#{tenant}#{pk}"},
        "sk": {"S": sk},
        "entity": {"S": entity},
        "tenant_id": {"S": tenant},
        "revision": {"N": "1"},
        "body": {"S": json.dumps(body)},
        **extra,
    }


def _seed(w: World, peer_bundles: str) -> None:
    """Two tenants' objects and items: settings, devices and their feeds, bundles with outbox rows."""
    ddb = w.dynamodb[SOURCE]
    for tenant in (TENANT, OTHER):
        w.settings.save(TenantSettings(tenant, "eu"))
        for n in range(3):
            device = f"dev_{tenant}{n}".ljust(36, "0")
            state = "revoked" if n == 2 else "active"
            ddb.put_item(
                TableName=w.table,
                Item=_item(tenant, f"DEVICE#{device}", "DEVICE", "device", {"device_id": device, "state": state}),
            )
            w.source.feeds.put_device(tenant, f"user{n}", device)
            w.source.feeds.append(
                tenant, device, FeedChange("bundle.added", f"bun_{n}", w.clock.now(), f"evt_{tenant}{n}")
            )
        for n in range(4):
            ddb.put_item(
                TableName=w.table,
                Item=_item(
                    tenant,
                    f"BUNDLE#bun_{n}",
                    "BUNDLE",
                    "bundle",
                    {"bundle_id": f"bun_{n}", "state": "built"},
                    events={"S": json.dumps([{"name": "content.bundle.built.v1"}])},
                    blob={"B": bytes([n, 0, 255])},
                    tags={"SS": ["b", "a", str(n)]},
                ),
            )
        objects = {
            ("bundles", f"tenants/{tenant}/bundles/bun_0/manifest.jws"): b"eyJhbGciOiJFUzI1NiJ9.e30.sig",
            ("bundles", f"tenants/{tenant}/containers/p1/v1/abc.cspc"): os.urandom(1024 * 1024 + 17),
            ("packages", f"tenants/{tenant}/packages/p1/v1/manifest.json"): b'{"files": []}',
            ("packages", f"tenants/{tenant}/blobs/sha256/aa"): os.urandom(3000),
            ("packages", f"tenants/{tenant}/blobs/sha256/bb"): b"",
            ("exports", f"tenants/{tenant}/exports/exp_1/course.zip"): os.urandom(500),
        }
        for (role, key), data in objects.items():
            w.s3[SOURCE].put_object(Bucket=w.buckets[role], Key=key, Body=data)
            if role == "bundles":
                # What S3 replication put in the peer region of the source zone.
                w.s3[PEER].put_object(Bucket=peer_bundles, Key=key, Body=data)


def _objects(w: World, tenant: str, region: str = SOURCE, buckets: dict[str, str] | None = None) -> dict[str, str]:
    found = {}
    for role, bucket in (buckets or w.buckets).items():
        for page in w.s3[region].get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"tenants/{tenant}/"):
            for entry in page.get("Contents", []):
                body = w.s3[region].get_object(Bucket=bucket, Key=entry["Key"])["Body"].read()
                found[f"{role}/{entry['Key']}"] = hashlib.sha256(body).hexdigest()
    return found


def _items(w: World, tenant: str, region: str = SOURCE) -> dict[tuple[str, str], dict[str, Any]]:
    items: dict[tuple[str, str], dict[str, Any]] = {}
    arguments: dict[str, Any] = {"TableName": w.table}
    while True:
        page = w.dynamodb[region].scan(**arguments)
        for item in page["Items"]:
            if item["pk"]["S"].startswith(f"TENANT#{tenant}#"):
                items[(item["pk"]["S"], item["sk"]["S"])] = item
        if "LastEvaluatedKey" not in page:
            return items
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _start(w: World, grace: timedelta = timedelta(hours=1)) -> TenantMigration:
    return request_migration(
        ADMIN,
        "us",
        migrations=w.repository,
        settings=w.settings,
        queue=RecordingQueue(),
        zones=ZONES,
        served_zone="eu",
        clock=w.clock,
        grace=grace,
    )


def _run_to_the_end(w: World, migration: TenantMigration, migrations: Migrations) -> TenantMigration:
    for _ in range(1000):
        outcome = migrations.run(TENANT, migration.migration_id, max_batches=5)
        if outcome.again_in is None:
            return outcome.migration
        w.clock.advance(outcome.again_in)
    raise AssertionError("the migration never finished")


class Crash(RuntimeError):
    pass


class CrashAtEveryCheckpoint:
    """Crashes at every checkpoint once: after a crash the same checkpoint passes once (the resumed
    run must get past it), and the next one crashes again."""

    def __init__(self) -> None:
        self.crashed: list[str] = []
        self._last: str | None = None

    def __call__(self, point: str) -> None:
        if point == self._last:
            self._last = None
            return
        self._last = point
        self.crashed.append(point)
        raise Crash(point)


def _assert_moved(w: World, before_objects: dict[str, str], before_items: dict[tuple[str, str], dict[str, Any]]) -> None:
    target_buckets = {role: name.replace(SOURCE, TARGET) + ("" if SOURCE in name else "-us") for role, name in w.buckets.items()}
    # Every object is in the target with the source's SHA-256, and nowhere in the source zone.
    assert _objects(w, TENANT, TARGET, target_buckets) == before_objects
    assert _objects(w, TENANT) == {}
    for region, bucket in ((SOURCE, w.buckets["bundles"]), (PEER, w.buckets["bundles"].replace(SOURCE, PEER))):
        versions = w.s3[region].list_object_versions(Bucket=bucket, Prefix=f"tenants/{TENANT}/")
        assert not versions.get("Versions") and not versions.get("DeleteMarkers"), region
    # Every item is in the target, equal but for its outbox; the source keeps only the migration.
    after = _items(w, TENANT, TARGET)
    for key, item in before_items.items():
        assert key in after, key
        assert "events" not in after[key]
        if item["entity"]["S"] not in ("tenant_settings",):
            assert item_digest(after[key]) == item_digest(item), key
    # (and the settings item, which says the tenant is in us now)
    left = _items(w, TENANT)
    assert {item["entity"]["S"] for item in left.values()} == {"tenant_migration", "tenant_settings"}
    assert json.loads(left[(f"TENANT#{TENANT}#SETTINGS", "SETTINGS")]["body"]["S"])["zone"] == "us"
    # The tenant now lives in us, in both zones' settings.
    for region in (SOURCE, TARGET):
        assert DynamoTenantSettings(w.table, region).get(TENANT).zone == "us", region  # type: ignore[union-attr]
    # The other tenant did not move.
    assert len(_objects(w, OTHER)) == 6 and _objects(w, OTHER, TARGET, target_buckets) == {}
    assert _items(w, OTHER, TARGET) == {}


def test_a_migration_crashed_at_every_step_resumes_to_the_end_with_every_hash_verified(world: World) -> None:
    w = world
    # Given a tenant in eu with objects, items, devices and feeds, and a migration to us
    before_objects, before_items = _objects(w, TENANT), _items(w, TENANT)
    migration = _start(w)
    # When its worker crashes at every checkpoint of every step and is run again each time
    fault = CrashAtEveryCheckpoint()
    migrations = w.migrations(fault)
    finished = None
    for _ in range(2000):
        try:
            outcome = migrations.run(TENANT, migration.migration_id, max_batches=3)
        except Crash:
            continue
        if outcome.again_in is None:
            finished = outcome.migration
            break
        w.clock.advance(outcome.again_in)
    # Then it finished, after a crash at each kind of checkpoint
    assert finished is not None and finished.state is MigrationState.DONE
    assert {
        "copy:worked",
        "copy:saved",
        "verify:saved",
        "switch:saved",
        "notify:caught-up",
        "notify:worked",
        "notify:saved",
        "clean:worked",
        "clean:saved",
    } <= set(fault.crashed)
    # And nothing was lost, every copy has its source's hash, and the source zone is empty of it
    _assert_moved(w, before_objects, before_items)
    assert finished.objects_total == len(before_objects) == 6
    assert finished.items_total == len(before_items)
    assert finished.counters.objects_verified == 6 and finished.counters.recopied == 0
    # And each active device has tenant.migrated with the us endpoints in its feed, once, in both zones
    for device in ("dev_acme0", "dev_acme1"):
        device_id = device.ljust(36, "0")
        for feeds in (w.target.feeds,):
            changes = [e.change for e in feeds.read(TENANT, device_id, 0, 100)]
            migrated = [c for c in changes if c.type == MIGRATED_FEED_TYPE]
            assert len(migrated) == 1
            assert migrated[0].detail == {"zone": "us", "api_endpoints": list(US_ENDPOINTS)}
    assert finished.counters.devices_notified == 2


def test_downloads_from_the_source_keep_working_until_the_clean_up(world: World) -> None:
    w = world
    before = _objects(w, TENANT)
    reads: list[str] = []

    def download_everything(point: str) -> None:
        # Each checkpoint is a moment of the migration: every object must still read whole.
        if point.startswith("clean"):
            return
        assert _objects(w, TENANT) == before, point
        reads.append(point)

    migration = _start(w, grace=timedelta(minutes=10))
    finished = _run_to_the_end(w, migration, w.migrations(download_everything))
    assert finished.state is MigrationState.DONE
    assert {p.split(":")[0] for p in reads} == {"copy", "verify", "switch", "notify"}


def test_a_copy_corrupted_in_the_target_is_found_by_the_verification_and_copied_again(world: World) -> None:
    w = world
    migration = _start(w)
    target_bundles = w.buckets["bundles"].replace(SOURCE, TARGET)
    corrupted = False

    def corrupt_once(point: str) -> None:
        nonlocal corrupted
        if point == "copy:saved" and not corrupted:
            key = f"tenants/{TENANT}/bundles/bun_0/manifest.jws"
            if w.s3[TARGET].list_objects_v2(Bucket=target_bundles, Prefix=key).get("KeyCount"):
                w.s3[TARGET].put_object(Bucket=target_bundles, Key=key, Body=b"flipped")
                corrupted = True

    finished = _run_to_the_end(w, migration, w.migrations(corrupt_once))
    assert corrupted and finished.state is MigrationState.DONE and finished.counters.recopied == 1


def test_the_switch_is_refused_when_the_tenants_settings_changed_since_they_were_read(world: World) -> None:
    w = world
    migration = _start(w)
    migrations = w.migrations(batch_size=100)
    while w.repository.get(TENANT, migration.migration_id).state is not MigrationState.VERIFIED:
        migrations.run(TENANT, migration.migration_id, max_batches=1)
    verified = w.repository.get(TENANT, migration.migration_id)
    stale = w.settings.get(TENANT)
    assert stale is not None
    w.settings.save(stale.change(zones=ZONES, by="someone", now=w.clock.now(), tamper_auto_revoke=False))
    moved = TenantSettings(TENANT, "us", revision=stale.revision)
    with pytest.raises(ConcurrencyConflict):
        w.repository.switch(verified.switch(w.clock.now()), moved)
    # Neither write happened: the tenant is in eu and the migration still verified.
    assert w.settings.get(TENANT).zone == "eu"  # type: ignore[union-attr]
    assert w.repository.get(TENANT, migration.migration_id).state is MigrationState.VERIFIED


def test_a_tenant_runs_one_migration_at_a_time_and_asking_again_returns_it(world: World) -> None:
    w = world
    first = _start(w)
    assert _start(w).migration_id == first.migration_id
    w.clock.advance(1)
    assert _start(w).migration_id == first.migration_id
    with pytest.raises(InvalidTransition, match="has a migration running already"):
        w.repository.add(
            TenantMigration.request(
                tenant_id=TENANT, source_zone="eu", target_zone="us", zones=ZONES, by="x", now=w.clock.now()
            )
        )
    finished = _run_to_the_end(w, first, w.migrations(batch_size=50))
    assert finished.state is MigrationState.DONE
    assert w.repository.active(TENANT) is None
