"""The DynamoDB and S3 adapters on moto, with the table and buckets made from template.yaml."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from content_service.adapters.dynamodb import DynamoPackageRepository
from content_service.adapters.s3 import S3BrandingAssets, S3PackageStore, S3UploadStore, s3_client
from content_service.domain.errors import ConcurrencyConflict, NotFound, ValidationFailed
from content_service.domain.logo import DEFAULT_LOGO_MAX_BYTES, BrandLogo
from content_service.domain.package import (
    DeclaredUpload,
    FileEntry,
    Launch,
    PackageManifest,
    PackageState,
    PlayPackage,
    Problem,
    Standard,
)
from content_service.service.ports import StoredUpload
from tests.logos import png

ROOT = Path(__file__).parents[3]
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture
def aws(aws_template):
    return aws_template


@pytest.fixture
def repo(aws):
    return DynamoPackageRepository(aws.tables["Table"].name, "eu-west-1")


def building(package_id: str, tenant: str = "t1", version: int = 1, at: datetime = NOW) -> PlayPackage:
    return PlayPackage.start_building(
        tenant_id=tenant,
        package_id=package_id,
        version=version,
        source_key=f"uploads/{tenant}/{package_id}/v1/source.zip",
        now=at,
    )


def a_manifest() -> PackageManifest:
    return PackageManifest(
        Standard.NATIVE,
        "T",
        "en",
        (Launch("e", "T", "index.html"),),
        (FileEntry("index.html", 3, "text/html", "a" * 64),),
    )


def test_a_package_round_trips_through_its_transitions(repo):
    stored = repo.add(building("p1"))
    assert repo.get("t1", "p1") == stored
    built = repo.save(stored.mark_built(a_manifest(), NOW))
    loaded = repo.get("t1", "p1", 1)
    assert loaded.state is PackageState.BUILT
    assert loaded.summary == built.summary
    assert loaded.revision == 2


def test_the_declared_upload_round_trips_and_its_absence_too(repo):
    declared = PlayPackage.start_building(
        tenant_id="t1",
        package_id="p1",
        version=1,
        source_key="uploads/t1/p1/v1/source.zip",
        now=NOW,
        declared_upload=DeclaredUpload("application/x-zip-compressed", 2129),
    )
    repo.add(declared)
    repo.add(building("p2"))
    assert repo.get("t1", "p1").declared_upload == DeclaredUpload("application/x-zip-compressed", 2129)
    assert repo.get("t1", "p2").declared_upload is None


def test_a_version_cannot_be_added_twice(repo):
    repo.add(building("p1"))
    with pytest.raises(ConcurrencyConflict):
        repo.add(building("p1"))


def test_of_two_racing_writers_only_one_wins(repo):
    stored = repo.add(building("p1"))
    repo.save(stored.mark_built(a_manifest(), NOW))
    with pytest.raises(ConcurrencyConflict):
        repo.save(stored.mark_failed(Problem("x", "y"), NOW))
    assert repo.get("t1", "p1").state is PackageState.BUILT


def test_another_tenants_package_is_not_found(repo):
    repo.add(building("p1", tenant="t1"))
    with pytest.raises(NotFound):
        repo.get("t2", "p1")


def test_the_latest_version_is_returned_by_default(repo):
    repo.add(building("p1", version=1))
    repo.add(building("p1", version=2))
    assert repo.get("t1", "p1").version == 2
    assert repo.get("t1", "p1", 1).version == 1


def test_listing_pages_newest_first_and_a_forged_cursor_cannot_cross_tenants(repo):
    for index in range(5):
        repo.add(building(f"p{index}", at=NOW + timedelta(seconds=index)))
    repo.add(building("other", tenant="t2"))
    first = repo.list("t1", None, 2)
    second = repo.list("t1", first.next_cursor, 2)
    third = repo.list("t1", second.next_cursor, 2)
    ids = [p.package_id for page in (first, second, third) for p in page.items]
    assert ids == ["p4", "p3", "p2", "p1", "p0"]
    assert third.next_cursor is None
    with pytest.raises(ValidationFailed):
        repo.list("t2", first.next_cursor, 2)
    with pytest.raises(ValidationFailed):
        repo.list("t1", "not-a-cursor!!", 2)


def test_the_stream_carries_the_transitions_event(aws, repo):
    import boto3

    stored = repo.add(building("p1"))
    repo.save(stored.mark_built(a_manifest(), NOW))
    streams = boto3.client("dynamodbstreams")
    arn = boto3.client("dynamodb").describe_table(TableName=aws.tables["Table"].name)["Table"][
        "LatestStreamArn"
    ]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    names = [r["dynamodb"]["NewImage"]["last_event"]["S"] for r in records]
    assert "content.package.building.v1" in names[0]
    assert "content.package.built.v1" in names[1]


def test_only_packages_building_past_the_cutoff_are_found_by_the_sweep_index(repo):
    old = repo.add(building("old", at=NOW - timedelta(hours=2)))
    repo.add(building("new", at=NOW))
    done = repo.add(building("done", at=NOW - timedelta(hours=3)))
    repo.save(done.mark_built(a_manifest(), NOW - timedelta(hours=3)))
    found = repo.building_since_before(NOW - timedelta(hours=1), 10)
    assert [p.package_id for p in found] == [old.package_id]


def test_presigned_upload_urls_sign_the_content_type_and_length(aws):
    uploads = S3UploadStore(s3_client("eu-west-1"), aws.buckets["UploadsBucket"].name)
    presigned = uploads.presign_put("uploads/t1/p1/v1/source.zip", "application/zip", 1234, 900)
    assert "X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost" in presigned.url
    assert presigned.headers == {"Content-Type": "application/zip", "Content-Length": "1234"}


def test_blobs_are_content_addressed_per_tenant_and_stored_once(aws):
    client = s3_client("eu-west-1")
    store = S3PackageStore(client, aws.buckets["PackagesBucket"].name)
    data = b"<html>hello</html>"
    digest = hashlib.sha256(data).hexdigest()
    store.blobs("t1").put(digest, len(data), "text/html", io.BytesIO(data))
    store.blobs("t1").put(digest, len(data), "text/html", io.BytesIO(b"not read again"))
    body = client.get_object(
        Bucket=aws.buckets["PackagesBucket"].name, Key=f"tenants/t1/blobs/sha256/{digest}"
    )
    assert body["Body"].read() == data and body["ContentType"] == "text/html"
    manifest = a_manifest()
    store.put_manifest("t1", "p1", 1, manifest)
    assert store.get_manifest("t1", "p1", 1) == manifest
    with pytest.raises(NotFound):
        store.get_manifest("t2", "p1", 1)


def test_a_logo_is_stored_beside_the_tenants_bundles_by_its_sha256_and_read_back_bounded(aws):
    client = s3_client("eu-west-1")
    bucket = aws.buckets["BundlesBucket"].name
    assets = S3BrandingAssets(client, bucket)
    data = png()
    logo = BrandLogo.of(data, "image/png", max_bytes=DEFAULT_LOGO_MAX_BYTES)
    key = assets.put_logo("t1", logo, data)
    assert key == f"tenants/t1/branding/logo/{logo.sha256}.png"
    stored = client.get_object(Bucket=bucket, Key=key)
    assert stored["Body"].read() == data and stored["ContentType"] == "image/png"
    assert assets.get_logo("t1", logo) == data
    with pytest.raises(NotFound):
        assets.get_logo("t2", logo)
    # An object grown behind the service's back is read at most one byte past the signed size.
    client.put_object(Bucket=bucket, Key=key, Body=data + b"\x00" * 1000)
    assert len(assets.get_logo("t1", logo)) == logo.size + 1


def test_a_download_past_the_limit_is_refused(aws, tmp_path):
    client = s3_client("eu-west-1")
    bucket = aws.buckets["UploadsBucket"].name
    client.put_object(Bucket=bucket, Key="uploads/t1/p1/v1/source.zip", Body=b"x" * 100)
    uploads = S3UploadStore(client, bucket)
    assert uploads.download("uploads/t1/p1/v1/source.zip", tmp_path / "a.zip", 100) == 100
    with pytest.raises(ValidationFailed):
        uploads.download("uploads/t1/p1/v1/source.zip", tmp_path / "b.zip", 99)
    with pytest.raises(NotFound):
        uploads.download("uploads/t1/missing/v1/source.zip", tmp_path / "c.zip", 99)


def test_the_head_of_an_upload_is_its_stored_size_and_content_type(aws):
    client = s3_client("eu-west-1")
    bucket = aws.buckets["UploadsBucket"].name
    client.put_object(
        Bucket=bucket, Key="uploads/t1/p1/v1/source.zip", Body=b"x" * 57, ContentType="text/plain"
    )
    uploads = S3UploadStore(client, bucket)
    assert uploads.head("uploads/t1/p1/v1/source.zip") == StoredUpload(57, "text/plain")
    with pytest.raises(NotFound):
        uploads.head("uploads/t1/missing/v1/source.zip")


def test_the_indexes_hold_keys_only_and_the_list_reads_the_items_behind_them(aws, repo):
    import boto3

    built = repo.add(building("p1"))
    repo.save(built.mark_built(a_manifest(), NOW))
    raw = boto3.client("dynamodb", region_name="eu-west-1").query(
        TableName=aws.tables["Table"].name,
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "TENANT#t1#PACKAGES"}},
    )["Items"]
    assert [sorted(item) for item in raw] == [["gsi1pk", "gsi1sk", "pk", "sk"]]
    (listed,) = repo.list("t1", None, 10).items
    assert listed.state is PackageState.BUILT and listed.summary is not None and listed.summary.title == "T"


def test_an_item_that_left_the_index_after_the_index_read_is_not_returned(repo):
    from content_service.adapters.dynamodb import package_model
    from content_service.adapters.index_reads import items_of

    repo.add(building("stays", at=NOW - timedelta(hours=2)))
    left = repo.add(building("left", at=NOW - timedelta(hours=2)))
    model = package_model(repo._model.Meta.table_name, "eu-west-1")
    hits = list(model.building.query("BUILDING"))
    repo.save(left.mark_built(a_manifest(), NOW))  # leaves the sparse index between the two reads
    assert [item.package_id for item in items_of(model, hits, ("gsi2pk", "gsi2sk"))] == ["stays"]
