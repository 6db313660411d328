"""Device, bundle, licence-record and tamper-report persistence on moto, table from template.yaml."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from content_service.adapters.entities import (
    DynamoBundleRepository,
    DynamoDeviceRepository,
    DynamoLicenceRecords,
    DynamoTamperReports,
    DynamoTenantSettings,
)
from content_service.domain.bundle import Bundle, BundlePackage
from content_service.domain.device import Device, DeviceState
from content_service.domain.errors import ConcurrencyConflict, NotFound, ValidationFailed
from content_service.domain.logo import BrandLogo
from content_service.domain.package import ContainerRef
from content_service.domain.tenant import Branding, TenantSettings
from content_service.service.ports import IssuedLicence, TamperReportRecord

ROOT = Path(__file__).parents[3]
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
JWK = {"kty": "OKP", "crv": "X25519", "x": base64.urlsafe_b64encode(bytes(32)).decode().rstrip("=")}


@pytest.fixture
def table(aws_template):
    return aws_template.tables["Table"].name


def device(device_id: str, user: str = "u1", tenant: str = "t1", at: datetime = NOW) -> Device:
    return Device.enroll(
        tenant_id=tenant, device_id=device_id, user_id=user, name="tablet", public_key=JWK, now=at
    )


def bundle(bundle_id: str, tenant: str = "t1", at: datetime = NOW) -> Bundle:
    member = BundlePackage(
        "p1", 1, "c" * 64, ContainerRef("tenants/t1/containers/p1/v1/c.cspc", 10, "d" * 64)
    )
    return Bundle.create(
        tenant_id=tenant, bundle_id=bundle_id, user_id="u1", residency_zone="eu", packages=(member,), now=at
    ).mark_built("tenants/t1/bundles/b/manifest.jws", "e" * 64, at)


def enrolled(repo: DynamoDeviceRepository, new: Device) -> Device:
    """Enrol through the slots transaction (the only way in), with a key claim per device id."""
    slots = repo.slots(new.tenant_id, new.user_id).take(new.device_id, NOW, cap=10)
    return repo.enroll(new, slots, f"thumb-{new.device_id}")


def test_devices_round_trip_and_list_per_user(table):
    repo = DynamoDeviceRepository(table, "eu-west-1")
    for index in range(3):
        enrolled(repo, device(f"dev_{index}", at=NOW + timedelta(seconds=index)))
    enrolled(repo, device("dev_other", user="u2"))
    stored = repo.get("t1", "dev_1")
    assert stored.public_key == JWK and stored.revision == 1
    repo.save(stored.revoke("lost", NOW))
    assert repo.get("t1", "dev_1").state is DeviceState.REVOKED
    assert [s.device_id for s in repo.slots("t1", "u1").slots] == ["dev_0", "dev_1", "dev_2"]
    first = repo.list_for_user("t1", "u1", None, 2)
    second = repo.list_for_user("t1", "u1", first.next_cursor, 2)
    assert [d.device_id for d in first.items + second.items] == ["dev_2", "dev_1", "dev_0"]
    with pytest.raises(NotFound):
        repo.get("t2", "dev_1")
    with pytest.raises(ValidationFailed):
        repo.list_for_user("t2", "u1", first.next_cursor, 2)


def test_a_stale_device_write_loses(table):
    repo = DynamoDeviceRepository(table, "eu-west-1")
    stored = enrolled(repo, device("dev_1"))
    repo.save(stored.revoke("lost", NOW))
    with pytest.raises(ConcurrencyConflict):
        repo.save(stored.revoke("stolen", NOW))


def test_bundles_round_trip_and_ids_are_never_reused(table):
    repo = DynamoBundleRepository(table, "eu-west-1")
    stored = repo.add(bundle("bnd_1"))
    assert repo.get("t1", "bnd_1") == stored
    repo.save(stored.revoke("withdrawn", NOW))
    with pytest.raises(ConcurrencyConflict):
        repo.add(bundle("bnd_1"))
    assert [b.bundle_id for b in repo.list("t1", None, 10).items] == ["bnd_1"]
    with pytest.raises(NotFound):
        repo.get("t2", "bnd_1")


def test_the_stream_carries_bundle_events_and_tamper_reports(table):
    DynamoBundleRepository(table, "eu-west-1").add(bundle("bnd_1"))
    DynamoTamperReports(table, "eu-west-1").add(
        TamperReportRecord("t1", "tmp_1", "dev_1", "bnd_1", "container", "bad tag", NOW)
    )
    streams = boto3.client("dynamodbstreams")
    arn = boto3.client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    events = " ".join(
        r["dynamodb"]["NewImage"]["events"]["S"]
        for r in streams.get_records(ShardIterator=iterator)["Records"]
    )
    assert "content.bundle.created.v1" in events
    assert "content.bundle.tampered.v1" in events


def test_a_licence_is_recorded_only_while_the_device_is_as_it_was_read(table):
    devices, records = DynamoDeviceRepository(table, "eu-west-1"), DynamoLicenceRecords(table, "eu-west-1")
    read = enrolled(devices, device("dev_1"))
    devices.save(read.revoke("lost", NOW))  # revoked between the licence's read and its write
    issued = IssuedLicence("t1", "bnd_1", "dev_1", "lic_1", "token", NOW, NOW + timedelta(days=7))

    with pytest.raises(ConcurrencyConflict, match="changed while its licence was issued"):
        records.put(issued, device_revision=read.revision)

    assert records.latest("t1", "bnd_1", "dev_1") is None
    assert records.latest_expiry("t1", "dev_1") is None


def test_licence_records_keep_the_latest_per_device(table):
    records = DynamoLicenceRecords(table, "eu-west-1")
    read = enrolled(DynamoDeviceRepository(table, "eu-west-1"), device("dev_1"))
    assert records.latest("t1", "bnd_1", "dev_1") is None
    issued = IssuedLicence("t1", "bnd_1", "dev_1", "lic_1", "token", NOW, NOW + timedelta(days=7))
    records.put(issued, device_revision=read.revision)
    assert records.latest("t1", "bnd_1", "dev_1") == issued
    assert records.latest("t2", "bnd_1", "dev_1") is None


def test_tenant_settings_round_trip_and_a_stale_write_loses(table):
    store = DynamoTenantSettings(table, "eu-west-1")
    assert store.get("t1") is None
    branding = Branding("Acme", "#112233", None, (("--brand-radius", "4px"),))
    first = store.save(TenantSettings("t1", "us", tamper_auto_revoke=False, branding=branding, updated_by="root"))
    assert first.revision == 1
    assert store.get("t1") == first
    with pytest.raises(ConcurrencyConflict):
        store.save(TenantSettings("t1", "eu"))  # written as if nothing were stored
    assert store.get("t1").zone == "us"
    second = store.save(replace(first, branding=None))
    assert store.get("t1") == second and second.revision == 2


def test_tenant_settings_keep_the_brandings_logo(table):
    store = DynamoTenantSettings(table, "eu-west-1")
    logo = BrandLogo("ab" * 32, "image/webp", 1234)
    saved = store.save(TenantSettings("t1", "eu", branding=Branding("Acme", "#112233", logo=logo)))
    assert store.get("t1") == saved and saved.branding.logo == logo


def test_tenant_settings_written_with_css_pairs_still_read(table):
    """Items written before branding used the domain's dict form held css_properties as pairs."""
    store = DynamoTenantSettings(table, "eu-west-1")
    store.save(TenantSettings("t1", "eu", branding=Branding("Acme", "#112233", None, (("--a", "1px"),))))
    client = boto3.client("dynamodb", region_name="eu-west-1")
    key = {"pk": {"S": "TENANT#t1#SETTINGS"}, "sk": {"S": "SETTINGS"}}
    item = client.get_item(TableName=table, Key=key)["Item"]
    assert '"css_properties": {"--a": "1px"}' in item["body"]["S"]
    item["body"]["S"] = item["body"]["S"].replace('{"--a": "1px"}', '[["--b", "2px"], ["--a", "1px"]]')
    client.put_item(TableName=table, Item=item)
    assert store.get("t1").branding == Branding("Acme", "#112233", None, (("--a", "1px"), ("--b", "2px")))
