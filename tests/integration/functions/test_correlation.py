"""One correlation id from the request through the table's stream onto the bus and into the writes
the fan-out makes in response; and the figures the fan-out reports."""

from __future__ import annotations

import json

import boto3
import pytest

from content_service import correlation
from content_service.bootstrap import dependencies
from content_service.domain.events import DomainEvent
from content_service.domain.principal import Principal, Role
from content_service.local.cold_start import clear_cached_state
from content_service.service import devices as device_cases
from content_service.service.bundles import revoke_bundle
from tests.integration.functions.test_fan_out_handler import (
    KEY,
    built_bundle,
    fan_out,
    published,
    stream_event,
)

CATALOG = Principal.service("t", "catalog", Role.CATALOG)


@pytest.fixture
def stack(aws_template, monkeypatch):
    for name, value in aws_template.environment_for("FanOutFunction").items():
        monkeypatch.setenv(name, value)
    clear_cached_state()
    yield aws_template
    clear_cached_state()


@pytest.fixture
def bus(stack) -> str:
    """A queue that receives every event published on the stack's bus."""
    sqs, events = boto3.client("sqs"), boto3.client("events")
    url = sqs.create_queue(QueueName="bus-observer")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = stack.environment_for("FanOutFunction")["EVENT_BUS_NAME"]
    events.put_rule(Name="all", EventBusName=name, EventPattern=json.dumps({"source": ["content-service"]}))
    events.put_targets(Rule="all", EventBusName=name, Targets=[{"Id": "q", "Arn": arn}])
    return url


def test_the_request_id_rides_the_stream_onto_every_published_event(stack, bus):
    deps = dependencies()
    with correlation.bound("req-create"):
        deps.bundles.add(built_bundle("bnd_1"))
    with correlation.bound("req-revoke"):
        revoke_bundle(CATALOG, "bnd_1", "withdrawn", bundles=deps.bundles, clock=deps.clock)

    assert fan_out(stack, stream_event(stack)) == {"batchItemFailures": []}

    by_subject = {e["detail-type"]: e["detail"]["correlation_id"] for e in published(bus)}
    assert by_subject == {
        "content.bundle.created.v1": "req-create",
        "content.bundle.revoked.v1": "req-revoke",
    }
    assert correlation.current() is None


def test_a_revocation_the_fan_out_makes_carries_the_id_of_the_tamper_record_behind_it(stack, bus):
    deps = dependencies()
    device_cases.enroll_device("t", "u", KEY, "phone", devices=deps.devices, clock=deps.clock, device_cap=5)
    deps.bundles.add(built_bundle("bnd_1"))
    # A tamper record as the storage watch writes it while handling a notification bound to its id.
    tampered = DomainEvent(
        "content.bundle.tampered.v1",
        "t",
        "bnd_1",
        deps.clock.now(),
        {"source": "storage", "kind": "ObjectCreated:Put", "object_key": "k", "corroborated": True},
    )
    with correlation.bound("req-tamper"):
        stored = [correlation.stamped(tampered.as_dict())]
    boto3.client("dynamodb").put_item(
        TableName=stack.tables["Table"].name,
        Item={
            "pk": {"S": "TENANT#t#BUNDLE#bnd_1"},
            "sk": {"S": "TAMPER#r1"},
            "events": {"S": json.dumps(stored)},
        },
    )

    assert fan_out(stack, stream_event(stack)) == {"batchItemFailures": []}
    # The revocation the fan-out wrote is a stream record of its own: the next batch publishes it.
    assert fan_out(stack, stream_event(stack)) == {"batchItemFailures": []}

    revoked = [e for e in published(bus) if e["detail-type"] == "content.bundle.revoked.v1"]
    assert [e["detail"]["correlation_id"] for e in revoked] == ["req-tamper"]


def test_the_fan_out_reports_published_events_their_lag_and_the_revocation_lag(stack, bus, capsys):
    deps = dependencies()
    deps.bundles.add(built_bundle("bnd_1"))
    revoke_bundle(CATALOG, "bnd_1", "withdrawn", bundles=deps.bundles, clock=deps.clock)
    capsys.readouterr()

    fan_out(stack, stream_event(stack))

    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    figures = {m["Name"]: r for r in records for m in r["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert figures["EventsPublished"]["EventsPublished"] == [2.0]
    assert figures["EventsPublished"]["service"] == "content-service"
    assert {"FanOutLag", "RevocationLag"} <= set(figures)
