"""DynamoDB stream batches and schedules reach functions as Lambda delivers them.

Nothing in template.yaml maps the table stream yet, so a throwaway function is added to the
stack with the same FunctionSpec a ``Type: DynamoDB`` event would produce.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from content_service.local.runner import RunnerSettings
from content_service.local.stack import LocalStack
from content_service.local.template import FunctionSpec, StreamEventSource
from tests.integration.local.probes import Probe

POISON = "poison"


def _fail_poison_records(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "batchItemFailures": [
            {"itemIdentifier": record["dynamodb"]["SequenceNumber"]}
            for record in event["Records"]
            if POISON in record["dynamodb"]["Keys"]["pk"]["S"]
        ]
    }


@pytest.fixture(scope="module")
def stream_probe() -> Probe:
    return Probe(_fail_poison_records)


@pytest.fixture(scope="module")
def sweep_probe() -> Probe:
    return Probe()


@pytest.fixture(scope="module")
def stack(
    stream_probe: Probe, sweep_probe: Probe, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    stream_function = FunctionSpec(
        logical_id="StreamProbeFunction",
        code_dir=Path("unused"),
        handler="app.handler",
        timeout=30,
        memory_mb=128,
        raw_environment={"TABLE_NAME": {"Ref": "Table"}},
        events=(
            StreamEventSource(
                "Changes",
                "Table",
                batch_size=10,
                starting_position="TRIM_HORIZON",
                report_batch_item_failures=True,
                maximum_retry_attempts=2,
            ),
        ),
    )
    # rate(5 minutes) from the template, sped up 600x: every half second.
    settings = RunnerSettings(schedule_speedup=600)
    with LocalStack(
        home=tmp_path_factory.mktemp("home"),
        handlers={
            "StreamProbeFunction": stream_probe,
            "SweepStaleBuildsFunction": sweep_probe,
            "ApiFunction": Probe(),
            "BuildPackageFunction": Probe(),
        },
        extra_functions=[stream_function],
        runner_settings=settings,
    ) as running:
        yield running


def _records_for(probe: Probe, pk: str) -> list[dict[str, Any]]:
    return [r for r in probe.records() if r["dynamodb"]["Keys"]["pk"]["S"] == pk]


def test_table_writes_arrive_as_dynamodb_stream_records(stack: LocalStack, stream_probe: Probe) -> None:
    pk = f"PKG#{uuid.uuid4()}"
    table = stack.endpoints.tables["Table"]
    dynamodb = boto3.client("dynamodb")
    dynamodb.put_item(TableName=table, Item={"pk": {"S": pk}, "sk": {"S": "v1"}, "state": {"S": "building"}})
    dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": pk}, "sk": {"S": "v1"}},
        UpdateExpression="SET #s = :built",
        ExpressionAttributeNames={"#s": "state"},
        ExpressionAttributeValues={":built": {"S": "built"}},
    )

    stream_probe.wait_for(lambda p: len(_records_for(p, pk)) == 2)

    insert, modify = _records_for(stream_probe, pk)
    stream_arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    assert insert["eventName"] == "INSERT"
    assert modify["eventName"] == "MODIFY"
    assert insert["eventSource"] == "aws:dynamodb"
    assert insert["eventSourceARN"] == stream_arn
    assert insert["dynamodb"]["Keys"] == {"pk": {"S": pk}, "sk": {"S": "v1"}}
    assert insert["dynamodb"]["NewImage"]["state"] == {"S": "building"}
    assert modify["dynamodb"]["OldImage"]["state"] == {"S": "building"}
    assert modify["dynamodb"]["NewImage"]["state"] == {"S": "built"}
    assert modify["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert isinstance(insert["dynamodb"]["ApproximateCreationDateTime"], int)
    assert int(insert["dynamodb"]["SequenceNumber"]) < int(modify["dynamodb"]["SequenceNumber"])


def test_a_failed_stream_record_is_retried_from_where_it_failed(
    stack: LocalStack, stream_probe: Probe
) -> None:
    run = uuid.uuid4()
    good, poison = f"GOOD#{run}", f"{POISON}#{run}"
    table = stack.endpoints.tables["Table"]
    dynamodb = boto3.client("dynamodb")
    # The good record comes first: records after a failed one are redelivered with it, as in Lambda.
    dynamodb.put_item(TableName=table, Item={"pk": {"S": good}, "sk": {"S": "v1"}})
    dynamodb.put_item(TableName=table, Item={"pk": {"S": poison}, "sk": {"S": "v1"}})

    # One first delivery plus MaximumRetryAttempts (2) retries, then the record is given up on.
    stream_probe.wait_for(lambda p: len(_records_for(p, poison)) == 3)

    assert len(_records_for(stream_probe, good)) == 1


def test_the_template_schedule_invokes_the_sweep_with_a_scheduled_event(
    stack: LocalStack, sweep_probe: Probe
) -> None:
    sweep_probe.wait_for(lambda p: len(p.calls) >= 2, timeout=5)

    event, context = sweep_probe.calls[0]
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["region"] == "eu-west-1"
    assert event["resources"][0].startswith("arn:aws:events:eu-west-1:123456789012:rule/")
    assert event["detail"] == {}
    assert context.function_name == stack.template.resolver.refs["SweepStaleBuildsFunction"]
