"""The fan_out handler on real DynamoDB stream records from the table (moto, the template's resources)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from content_service.bootstrap import dependencies
from content_service.crypto.licence import device_public_jwk, generate_device_key
from content_service.domain.bundle import Bundle, BundlePackage
from content_service.domain.package import ContainerRef
from content_service.domain.principal import Principal, Role
from content_service.local.cold_start import clear_cached_state
from content_service.local.event_shapes import dynamodb_stream_event
from content_service.local.lambda_runtime import LambdaContext, load_handler
from content_service.service import devices as device_cases
from content_service.service.bundles import revoke_bundle

ROOT = Path(__file__).parents[3]
KEY = device_public_jwk(generate_device_key())
SAMPLE = ROOT / "events" / "fan_out" / "dynamodb_stream.json"


@pytest.fixture
def stack(aws_template, monkeypatch):
    for name, value in aws_template.environment_for("FanOutFunction").items():
        monkeypatch.setenv(name, value)
    clear_cached_state()
    yield aws_template
    clear_cached_state()


@pytest.fixture
def bus_queue(stack) -> str:
    sqs, events = boto3.client("sqs"), boto3.client("events")
    url = sqs.create_queue(QueueName="bus-observer")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = stack.environment_for("FanOutFunction")["EVENT_BUS_NAME"]
    events.put_rule(Name="all", EventBusName=bus, EventPattern=json.dumps({"source": ["content-service"]}))
    events.put_targets(Rule="all", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    return url


def stream_event(template) -> dict:
    """Every record the table's stream holds so far, as Lambda would deliver them in one batch."""
    table = template.tables["Table"].name
    arn = boto3.client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams")
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records.extend(streams.get_records(ShardIterator=iterator, Limit=1000)["Records"])
    return dynamodb_stream_event(records, arn)


def published(url: str) -> list[dict]:
    sqs, found = boto3.client("sqs"), []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def table_items(template) -> list[tuple[str, str]]:
    items = boto3.client("dynamodb").scan(TableName=template.tables["Table"].name)["Items"]
    return sorted((i["pk"]["S"], i["sk"]["S"]) for i in items)


def fan_out(template, event: dict) -> dict:
    spec = template.functions["FanOutFunction"]
    handler = load_handler(spec.handler_file, spec.handler_name, "test_fan_out")
    return handler(event, LambdaContext(function_name="fan-out", timeout_seconds=60))


def built_bundle(bundle_id: str) -> Bundle:
    """A built bundle of user ``u`` with its pending events (building, then created)."""
    member = BundlePackage(
        "pkg", 1, "h" * 64, ContainerRef("tenants/t/containers/pkg/v1/h.cspc", 1, "s" * 64)
    )
    now = dependencies().clock.now()
    bundle = Bundle.create(
        tenant_id="t", bundle_id=bundle_id, user_id="u", residency_zone="eu", packages=(member,), now=now
    )
    return bundle.mark_built(f"tenants/t/bundles/{bundle_id}/manifest.jws", "m" * 64, now)


def test_stream_records_become_published_events_and_feed_entries(stack, bus_queue):
    deps = dependencies()
    device = device_cases.enroll_device(
        "t", "u", KEY, "phone", devices=deps.devices, clock=deps.clock, device_cap=5
    )
    built = built_bundle("bnd_1")
    deps.bundles.add(built)
    revoke_bundle(
        Principal.service("t", "catalog", Role.CATALOG),
        "bnd_1",
        "withdrawn",
        bundles=deps.bundles,
        clock=deps.clock,
    )

    response = fan_out(stack, stream_event(stack))

    assert response == {"batchItemFailures": []}
    subjects = sorted(e["detail-type"] for e in published(bus_queue))
    assert subjects == [
        "content.bundle.created.v1",
        "content.bundle.revoked.v1",
        "content.device.enrolled.v1",
    ]
    entries = deps.sync_store.read("t", device.device_id, 0, 10)
    assert [(e.seq, e.change.type, e.change.bundle_id) for e in entries] == [
        (1, "bundle.added", "bnd_1"),
        (2, "bundle.revoked", "bnd_1"),
    ]


def test_redelivering_the_same_records_changes_nothing(stack, bus_queue):
    deps = dependencies()
    device_cases.enroll_device("t", "u", KEY, "phone", devices=deps.devices, clock=deps.clock, device_cap=5)
    deps.bundles.add(built_bundle("bnd_1"))
    event = stream_event(stack)
    fan_out(stack, event)
    before, first = table_items(stack), published(bus_queue)
    assert len(first) == 2

    assert fan_out(stack, event) == {"batchItemFailures": []}

    assert published(bus_queue) == []
    assert table_items(stack) == before


def test_the_sample_event_runs_through_the_handler(stack):
    event = json.loads(SAMPLE.read_text())
    assert fan_out(stack, event) == {"batchItemFailures": []}
    revoked = event["Records"][0]["dynamodb"]["NewImage"]
    tenant = revoked["tenant_id"]["S"]
    user = json.loads(revoked["body"]["S"])["user_id"]
    assert [b.revoked for b in dependencies().sync_store.user_bundles(tenant, user)] == [True]


def test_a_batch_that_publishes_nothing_flushes_its_metrics_without_a_warning(stack, recwarn):
    # Powertools warns "No application metrics to publish" on an empty flush; the local stack and
    # every real invocation would print it. The batch size is always recorded.
    event = json.loads(SAMPLE.read_text())
    event["Records"] = [{**record, "eventName": "REMOVE"} for record in event["Records"]]
    assert fan_out(stack, event) == {"batchItemFailures": []}
    assert [str(w.message) for w in recwarn if "metrics" in str(w.message).lower()] == []


def test_an_approved_assistant_config_reaches_each_device_holding_a_bundle_of_its_version(stack, bus_queue):
    from content_service.domain.assistant import PackageAssistant
    from tests.unit.domain.test_assistant import a_config, a_provenance

    deps = dependencies()
    holder = device_cases.enroll_device("t", "u", KEY, "phone", devices=deps.devices, clock=deps.clock, device_cap=5)
    other_key = device_public_jwk(generate_device_key())
    bystander = device_cases.enroll_device(
        "t", "v", other_key, "tablet", devices=deps.devices, clock=deps.clock, device_cap=5
    )
    deps.bundles.add(built_bundle("bnd_1"))  # user u's bundle of pkg v1
    assert fan_out(stack, stream_event(stack)) == {"batchItemFailures": []}  # bundle indexed as a holder
    now = deps.clock.now()
    config = a_config()
    drafted = PackageAssistant.start(tenant_id="t", package_id="pkg", version=1, content_hash="h" * 64, now=now)
    drafted = deps.assistants.save(drafted.add_draft(config, a_provenance(config, "h" * 64), now))
    deps.assistants.save(drafted.approve("v1r1", "admin-1", now))

    assert fan_out(stack, stream_event(stack)) == {"batchItemFailures": []}

    entries = deps.sync_store.read("t", holder.device_id, 0, 10)
    assert [(e.change.type, e.change.bundle_id) for e in entries] == [
        ("bundle.added", "bnd_1"),
        ("assistant_config.approved", "bnd_1"),
    ]
    assert entries[-1].change.detail == {"package_id": "pkg", "version": 1, "config_id": "v1r1", "revision": 1}
    assert deps.sync_store.read("t", bystander.device_id, 0, 10) == []
    # Redelivered, it is appended to no feed a second time.
    assert fan_out(stack, stream_event(stack)) == {"batchItemFailures": []}
    assert len(deps.sync_store.read("t", holder.device_id, 0, 10)) == 2
