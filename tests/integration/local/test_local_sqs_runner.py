"""The local Lambda service feeds the build queue to BuildPackageFunction as Lambda's SQS poller does."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from content_service.local.runner import EventSourceRunner, RunnerSettings
from content_service.local.stack import LocalStack, find_template
from content_service.local.template import load_local_template
from tests.integration.local.probes import Probe

FAIL = "fail"
CRASH = "crash"


def _build_outcome(event: dict[str, Any]) -> dict[str, Any]:
    """Fail the records whose body asks for it; crash the batch if any record asks for that."""
    if any(CRASH in record["body"] for record in event["Records"]):
        raise RuntimeError("the build crashed")
    return {
        "batchItemFailures": [
            {"itemIdentifier": record["messageId"]} for record in event["Records"] if FAIL in record["body"]
        ]
    }


@pytest.fixture(scope="module")
def build_probe() -> Probe:
    return Probe(_build_outcome)


@pytest.fixture(scope="module")
def stack(build_probe: Probe, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    settings = RunnerSettings(failed_visibility_timeout=0, schedules_enabled=False)
    with LocalStack(
        home=tmp_path_factory.mktemp("home"),
        handlers={
            "BuildPackageFunction": build_probe,
            "ApiFunction": Probe(),
            "SweepStaleBuildsFunction": Probe(),
        },
        runner_settings=settings,
    ) as running:
        yield running


def _bodies_with(probe: Probe, marker: str) -> list[dict[str, Any]]:
    return [record for record in probe.records() if marker in record["body"]]


def test_an_upload_reaches_the_build_function_as_an_sqs_event(stack: LocalStack, build_probe: Probe) -> None:
    key = f"uploads/tenant a/{uuid.uuid4()}/course+1 é.zip"
    boto3.client("s3").put_object(Bucket=stack.endpoints.buckets["UploadsBucket"], Key=key, Body=b"PK")

    build_probe.wait_for(
        lambda p: any("ObjectCreated" in r["body"] and key.split("/")[2] in r["body"] for r in p.records())
    )
    (record,) = [r for r in build_probe.records() if key.split("/")[2] in r["body"]]

    queue = stack.template.queues["BuildQueue"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue.arn
    assert record["awsRegion"] == "eu-west-1"
    assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"] == {}
    assert set(record) >= {"messageId", "receiptHandle", "body"}
    (s3_record,) = json.loads(record["body"])["Records"]
    assert s3_record["eventName"] == "ObjectCreated:Put"
    assert s3_record["s3"]["bucket"]["name"] == stack.endpoints.buckets["UploadsBucket"]
    # S3 notifications carry the key URL-encoded (spaces as "+"), exactly as in AWS.
    assert s3_record["s3"]["object"]["key"] != key
    assert "tenant+a" in s3_record["s3"]["object"]["key"]
    assert "course%2B1+%C3%A9.zip" in s3_record["s3"]["object"]["key"]


def test_the_handler_gets_a_lambda_context(stack: LocalStack, build_probe: Probe) -> None:
    marker = f"context-{uuid.uuid4()}"
    boto3.client("sqs").send_message(QueueUrl=stack.endpoints.queues["BuildQueue"], MessageBody=marker)

    build_probe.wait_for(lambda p: bool(_bodies_with(p, marker)))

    (context,) = [c for e, c in build_probe.calls if any(marker in r["body"] for r in e["Records"])]
    assert context.function_name == stack.template.resolver.refs["BuildPackageFunction"]
    assert 0 < context.get_remaining_time_in_millis() <= 900_000
    assert context.aws_request_id


def test_message_attributes_use_the_lambda_event_spelling(stack: LocalStack, build_probe: Probe) -> None:
    marker = f"attrs-{uuid.uuid4()}"
    boto3.client("sqs").send_message(
        QueueUrl=stack.endpoints.queues["BuildQueue"],
        MessageBody=marker,
        MessageAttributes={"tenant": {"DataType": "String", "StringValue": "t-1"}},
    )

    build_probe.wait_for(lambda p: bool(_bodies_with(p, marker)))

    (record,) = _bodies_with(build_probe, marker)
    assert record["messageAttributes"]["tenant"] == {
        "dataType": "String",
        "stringValue": "t-1",
        "stringListValues": [],
        "binaryListValues": [],
    }


def test_a_partial_failure_redelivers_only_the_failed_message_until_the_dlq(
    stack: LocalStack, build_probe: Probe
) -> None:
    run = uuid.uuid4()
    good, bad = f"good-{run}", f"{FAIL}-{run}"
    sqs = boto3.client("sqs")
    sqs.send_message_batch(
        QueueUrl=stack.endpoints.queues["BuildQueue"],
        Entries=[{"Id": "good", "MessageBody": good}, {"Id": "bad", "MessageBody": bad}],
    )

    dead = _wait_for_dead_letter(stack, bad)

    assert len(_bodies_with(build_probe, good)) == 1
    receive_counts = [r["attributes"]["ApproximateReceiveCount"] for r in _bodies_with(build_probe, bad)]
    assert receive_counts == ["1", "2", "3"]  # maxReceiveCount in template.yaml
    assert dead["Body"] == bad


def test_a_crashing_handler_fails_the_whole_batch(stack: LocalStack, build_probe: Probe) -> None:
    marker = f"{CRASH}-{uuid.uuid4()}"
    boto3.client("sqs").send_message(QueueUrl=stack.endpoints.queues["BuildQueue"], MessageBody=marker)

    dead = _wait_for_dead_letter(stack, marker)

    assert dead["Body"] == marker
    assert len(_bodies_with(build_probe, marker)) == 3


def _wait_for_dead_letter(stack: LocalStack, body: str, timeout: float = 20.0) -> dict[str, Any]:
    sqs = boto3.client("sqs")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=stack.endpoints.queues["BuildDeadLetterQueue"], MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        for message in messages:
            if message["Body"] == body:
                return message
            # Not ours: make it visible again for the test that waits for it.
            sqs.change_message_visibility(
                QueueUrl=stack.endpoints.queues["BuildDeadLetterQueue"],
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=0,
            )
    raise AssertionError(f"{body!r} never reached the dead-letter queue")


def test_the_runner_leaves_functions_without_a_handler_alone() -> None:
    # A function whose handler cannot be loaded is skipped rather than eating its queue's messages.
    template = load_local_template(find_template(Path(__file__).parent))
    runner = EventSourceRunner(template, handlers={}, settings=RunnerSettings())
    runner.start()
    try:
        assert runner._threads == []
    finally:
        runner.stop()
