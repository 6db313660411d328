"""The local stack's regions: moto per region, the replicator, the fault switch, edge failover.

These run against one moto server (as the local stack does), which serves each region by the
region a request is signed for, and nothing is shared between regions unless the replicator
copies it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from content_service.crypto.cdn import CdnSigner, generate_key_pair
from content_service.local.edge import LocalEdge, Origin
from content_service.local.faults import FaultSwitch
from content_service.local.moto_server import MotoServer
from content_service.local.replicator import (
    BucketReplication,
    LocalReplicator,
    TableReplicas,
    create_replica_table,
)

PRIMARY, SECONDARY = "eu-west-1", "eu-central-1"
BUCKETS = {PRIMARY: "bundles-eu-west-1", SECONDARY: "bundles-eu-central-1"}
TABLE = "zone-table"
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("regions-home")


@pytest.fixture(scope="module")
def moto(home: Path) -> Iterator[MotoServer]:
    server = MotoServer(region=PRIMARY, faults=FaultSwitch(home))
    server.start()
    server.apply_environment()
    try:
        for region, bucket in BUCKETS.items():
            s3 = _s3(server, region)
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        boto3.client("dynamodb", endpoint_url=server.endpoint_url, region_name=PRIMARY).create_table(
            TableName=TABLE,
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        create_replica_table(server.endpoint_url, TABLE, PRIMARY, SECONDARY)
        yield server
    finally:
        server.stop()


@pytest.fixture
def switch(home: Path) -> Iterator[FaultSwitch]:
    # A second switch on the same file: what `content-service local fail-region` (another process) holds.
    switch = FaultSwitch(home)
    yield switch
    switch.heal()


def _s3(server: MotoServer, region: str) -> object:
    return boto3.client("s3", endpoint_url=server.endpoint_url, region_name=region, config=NO_RETRY)


def _dynamodb(server: MotoServer, region: str) -> object:
    return boto3.client("dynamodb", endpoint_url=server.endpoint_url, region_name=region)


def _replicator(server: MotoServer, **kwargs: object) -> LocalReplicator:
    return LocalReplicator(
        server.endpoint_url,
        [BucketReplication(BUCKETS[PRIMARY], PRIMARY, BUCKETS[SECONDARY], SECONDARY)],
        [TableReplicas(TABLE, (PRIMARY, SECONDARY))],
        **kwargs,  # type: ignore[arg-type]
    )


def _exists(s3: object, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)  # type: ignore[attr-defined]
    except ClientError as error:
        if error.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
            return False
        raise
    return True


# -------------------------------------------------------------------- regions
def test_moto_keeps_each_regions_buckets_and_tables_apart(moto: MotoServer) -> None:
    _s3(moto, PRIMARY).put_object(Bucket=BUCKETS[PRIMARY], Key="apart/a", Body=b"a")  # type: ignore[attr-defined]
    assert not _exists(_s3(moto, SECONDARY), BUCKETS[SECONDARY], "apart/a")
    _dynamodb(moto, PRIMARY).put_item(TableName=TABLE, Item={"pk": {"S": "apart"}, "sk": {"S": "1"}})  # type: ignore[attr-defined]
    replica = _dynamodb(moto, SECONDARY).get_item(
        TableName=TABLE, Key={"pk": {"S": "apart"}, "sk": {"S": "1"}}
    )  # type: ignore[attr-defined]
    assert "Item" not in replica


# ------------------------------------------------------------------ replicator
def test_the_replicator_copies_objects_to_the_peer_but_not_deletes(moto: MotoServer) -> None:
    primary, secondary = _s3(moto, PRIMARY), _s3(moto, SECONDARY)
    replicator = _replicator(moto)
    replicator.run_once()
    primary.put_object(
        Bucket=BUCKETS[PRIMARY], Key="b/container", Body=b"sealed", ContentType="application/x-c"
    )  # type: ignore[attr-defined]
    assert not _exists(secondary, BUCKETS[SECONDARY], "b/container")
    copies = replicator.run_once()
    assert [(c.kind, c.what) for c in copies if c.kind == "object"] == [("object", "b/container")]
    replica = secondary.get_object(Bucket=BUCKETS[SECONDARY], Key="b/container")  # type: ignore[attr-defined]
    assert (replica["Body"].read(), replica["ContentType"]) == (b"sealed", "application/x-c")
    primary.delete_object(Bucket=BUCKETS[PRIMARY], Key="b/container")  # type: ignore[attr-defined]
    assert [c for c in replicator.run_once() if c.kind == "object"] == []
    assert _exists(secondary, BUCKETS[SECONDARY], "b/container"), "a delete marker must not replicate"


def test_the_replicator_keeps_both_table_replicas_equal_without_echoes(moto: MotoServer) -> None:
    primary, secondary = _dynamodb(moto, PRIMARY), _dynamodb(moto, SECONDARY)
    key = {"pk": {"S": "tenant#t1"}, "sk": {"S": "bundle#1"}}
    replicator = _replicator(moto)
    primary.put_item(TableName=TABLE, Item={**key, "state": {"S": "active"}})  # type: ignore[attr-defined]
    replicator.run_once()
    assert secondary.get_item(TableName=TABLE, Key=key)["Item"]["state"] == {"S": "active"}  # type: ignore[attr-defined]
    # A revocation written in the secondary (the primary is down) reaches the primary too.
    secondary.put_item(TableName=TABLE, Item={**key, "state": {"S": "revoked"}})  # type: ignore[attr-defined]
    replicator.run_once()
    assert primary.get_item(TableName=TABLE, Key=key)["Item"]["state"] == {"S": "revoked"}  # type: ignore[attr-defined]
    # Each replica now holds the change, so the copies' own stream records change nothing more.
    replicator.run_once()
    assert [c for c in replicator.run_once() if c.kind == "item"] == []


def test_the_replicator_holds_changes_back_for_its_delay_and_measures_the_lag(moto: MotoServer) -> None:
    now = [dt.datetime.now(dt.UTC).timestamp()]
    replicator = _replicator(moto, delay=60.0, clock=lambda: now[0])
    replicator.run_once()  # what earlier tests wrote is copied (or found already there) first
    now[0] += 120
    replicator.run_once()
    _s3(moto, PRIMARY).put_object(Bucket=BUCKETS[PRIMARY], Key="lag/x", Body=b"x")  # type: ignore[attr-defined]
    written = now[0] = dt.datetime.now(dt.UTC).timestamp() + 1
    assert replicator.run_once() == []
    assert not _exists(_s3(moto, SECONDARY), BUCKETS[SECONDARY], "lag/x")
    now[0] = written + 61
    (copy,) = [c for c in replicator.run_once() if c.what == "lag/x"]
    assert copy.lag_seconds >= 60.0
    assert copy.lag_seconds in replicator.lags


# ---------------------------------------------------------------- fault switch
def test_a_failed_region_s3_answers_503_until_healed(moto: MotoServer, switch: FaultSwitch) -> None:
    primary, secondary = _s3(moto, PRIMARY), _s3(moto, SECONDARY)
    primary.put_object(Bucket=BUCKETS[PRIMARY], Key="f/x", Body=b"x")  # type: ignore[attr-defined]
    switch.fail(PRIMARY)
    with pytest.raises(ClientError) as refused:
        primary.get_object(Bucket=BUCKETS[PRIMARY], Key="f/x")  # type: ignore[attr-defined]
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert refused.value.response["Error"]["Code"] == "ServiceUnavailable"
    secondary.list_objects_v2(Bucket=BUCKETS[SECONDARY])  # type: ignore[attr-defined]
    # Other services of the region keep answering: its table and keys are not what devices reach.
    _dynamodb(moto, PRIMARY).describe_table(TableName=TABLE)  # type: ignore[attr-defined]
    assert switch.heal(PRIMARY) == frozenset()
    assert primary.get_object(Bucket=BUCKETS[PRIMARY], Key="f/x")["Body"].read() == b"x"  # type: ignore[attr-defined]


def test_a_presigned_url_for_a_failed_region_gets_503(moto: MotoServer, switch: FaultSwitch) -> None:
    # SigV4, as the API presigns: the region is in the credential scope (SigV2 names none).
    primary = boto3.client(
        "s3", endpoint_url=moto.endpoint_url, region_name=PRIMARY, config=Config(signature_version="s3v4")
    )
    primary.put_object(Bucket=BUCKETS[PRIMARY], Key="p/x", Body=b"x")
    url = primary.generate_presigned_url("get_object", Params={"Bucket": BUCKETS[PRIMARY], "Key": "p/x"})  # type: ignore[attr-defined]
    assert requests.get(url, timeout=10).status_code == 200
    switch.fail(PRIMARY)
    assert requests.get(url, timeout=10).status_code == 503


def test_the_switch_refuses_a_name_that_is_no_region(switch: FaultSwitch) -> None:
    with pytest.raises(ValueError, match="not a region"):
        switch.fail("eu west 1")
    assert switch.failed() == frozenset()


# --------------------------------------------------------------- edge failover
@pytest.fixture
def edge(moto: MotoServer) -> Iterator[tuple[LocalEdge, CdnSigner]]:
    pair = generate_key_pair()
    edge = LocalEdge(
        BUCKETS[PRIMARY],
        {"KREGIONS": pair.public_key_pem},
        endpoint_url=moto.endpoint_url,
        region=PRIMARY,
        failover=[Origin(BUCKETS[SECONDARY], SECONDARY)],
    ).start()
    try:
        yield edge, CdnSigner("KREGIONS", pair.private_key_pem, edge.base_url)
    finally:
        edge.stop()


def _soon() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)


def test_the_edge_serves_from_the_secondary_when_the_primary_region_fails(
    moto: MotoServer, switch: FaultSwitch, edge: tuple[LocalEdge, CdnSigner]
) -> None:
    local_edge, signer = edge
    body = bytes(range(256)) * 64
    _s3(moto, PRIMARY).put_object(Bucket=BUCKETS[PRIMARY], Key="e/one", Body=body)  # type: ignore[attr-defined]
    _replicator(moto).run_once()
    switch.fail(PRIMARY)
    response = requests.get(signer.signed_url("e/one", _soon()), headers={"Range": "bytes=100-"}, timeout=10)
    assert response.status_code == 206
    assert response.content == body[100:]
    assert local_edge.origin_hits == [0, 1]


def test_the_edge_fails_over_for_an_object_only_the_secondary_has(
    moto: MotoServer, edge: tuple[LocalEdge, CdnSigner]
) -> None:
    local_edge, signer = edge
    _s3(moto, SECONDARY).put_object(Bucket=BUCKETS[SECONDARY], Key="e/written-there", Body=b"there")  # type: ignore[attr-defined]
    response = requests.get(signer.signed_url("e/written-there", _soon()), timeout=10)
    assert (response.status_code, response.content) == (200, b"there")
    assert local_edge.origin_hits == [0, 1]


def test_the_edge_answers_503_when_every_origin_region_fails(
    moto: MotoServer, switch: FaultSwitch, edge: tuple[LocalEdge, CdnSigner]
) -> None:
    _, signer = edge
    switch.fail(PRIMARY)
    switch.fail(SECONDARY)
    assert requests.get(signer.signed_url("e/anything", _soon()), timeout=10).status_code == 503


def test_the_edge_refuses_a_missing_object_with_403_after_trying_both(
    moto: MotoServer, edge: tuple[LocalEdge, CdnSigner]
) -> None:
    local_edge, signer = edge
    before = local_edge.origin_requests
    assert requests.get(signer.signed_url("e/nowhere", _soon()), timeout=10).status_code == 403
    assert local_edge.origin_requests - before == 2


def test_two_changes_to_one_item_in_one_round_settle_without_ping_pong(moto: MotoServer) -> None:
    # Given an item written twice in the primary before the replicator runs (building, then built)
    primary, secondary = _dynamodb(moto, PRIMARY), _dynamodb(moto, SECONDARY)
    key = {"pk": {"S": "tenant#t1"}, "sk": {"S": "package#twice"}}
    replicator = _replicator(moto)
    replicator.run_once()
    primary.put_item(TableName=TABLE, Item={**key, "state": {"S": "building"}})  # type: ignore[attr-defined]
    primary.put_item(TableName=TABLE, Item={**key, "state": {"S": "built"}})  # type: ignore[attr-defined]
    # When it replicates, round after round
    first = replicator.run_once()
    later = [replicator.run_once() for _ in range(3)]
    # Then both changes reached the peer once, neither came back, and the primary never went back
    assert [c.what for c in first if c.kind == "item"] == ["tenant#t1/package#twice"] * 2
    assert [c for round_ in later for c in round_ if c.kind == "item"] == []
    for table in (primary, secondary):
        assert table.get_item(TableName=TABLE, Key=key)["Item"]["state"] == {"S": "built"}  # type: ignore[attr-defined]


def test_table_replicas_keep_replicating_while_the_primary_region_s3_is_failed(
    moto: MotoServer, switch: FaultSwitch
) -> None:
    # Given the primary region failed (its S3 answers 503) and a revocation written in the secondary
    primary, secondary = _dynamodb(moto, PRIMARY), _dynamodb(moto, SECONDARY)
    key = {"pk": {"S": "tenant#t1"}, "sk": {"S": "bundle#outage"}}
    replicator = _replicator(moto)
    switch.heal()
    replicator.run_once()
    switch.fail(PRIMARY)
    secondary.put_item(TableName=TABLE, Item={**key, "state": {"S": "revoked"}})  # type: ignore[attr-defined]
    # When a round runs, the bucket's replication fails (and says so)
    with pytest.raises(ClientError):
        replicator.run_once()
    # Then the table's replication did not wait for the primary's S3
    assert primary.get_item(TableName=TABLE, Key=key)["Item"]["state"] == {"S": "revoked"}  # type: ignore[attr-defined]
    assert any(c.what == "tenant#t1/bundle#outage" for c in replicator.copies)
