"""The local runner splits a stream batch whose invocation raised, and sends what never succeeds
to the mapping's on-failure queue, as Lambda does with BisectBatchOnFunctionError and DestinationConfig."""

from __future__ import annotations

import json
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


def _crash_on_poison(event: dict[str, Any]) -> None:
    if any(POISON in r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]):
        raise RuntimeError("cannot handle the poison record")


@pytest.fixture(scope="module")
def probe() -> Probe:
    return Probe(_crash_on_poison)


@pytest.fixture(scope="module")
def stack(probe: Probe, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    function = FunctionSpec(
        logical_id="BisectProbeFunction",
        code_dir=Path("unused"),
        handler="app.handler",
        timeout=30,
        memory_mb=128,
        raw_environment={},
        events=(
            StreamEventSource(
                "Changes",
                "Table",
                batch_size=10,
                starting_position="TRIM_HORIZON",
                report_batch_item_failures=True,
                maximum_retry_attempts=1,
                bisect_batch_on_function_error=True,
                on_failure_queue_logical_id="FanOutDeadLetterQueue",
            ),
        ),
    )
    with LocalStack(
        home=tmp_path_factory.mktemp("home"),
        handlers={
            "BisectProbeFunction": probe,
            "FanOutFunction": Probe(),
            "ApiFunction": Probe(),
            "BuildPackageFunction": Probe(),
            "SweepStaleBuildsFunction": Probe(),
        },
        extra_functions=[function],
        runner_settings=RunnerSettings(schedules_enabled=False),
    ) as running:
        yield running


def test_a_crashing_batch_is_bisected_and_the_poison_record_goes_to_the_on_failure_queue(
    stack: LocalStack, probe: Probe
) -> None:
    run = uuid.uuid4().hex
    keys = [f"GOOD#{run}#1", f"{POISON}#{run}", f"GOOD#{run}#2", f"GOOD#{run}#3"]
    table = stack.endpoints.tables["Table"]
    client = boto3.client("dynamodb")
    for key in keys:
        client.put_item(TableName=table, Item={"pk": {"S": key}, "sk": {"S": "x"}})
    dlq = stack.endpoints.queues["FanOutDeadLetterQueue"]
    sqs = boto3.client("sqs")

    messages: list[dict[str, Any]] = []
    probe.wait_for(
        lambda _: bool(messages.extend(sqs.receive_message(QueueUrl=dlq).get("Messages", [])) or messages),
        timeout=20,
    )

    info = json.loads(messages[0]["Body"])["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1
    poison_numbers = {
        r["dynamodb"]["SequenceNumber"] for r in probe.records() if POISON in r["dynamodb"]["Keys"]["pk"]["S"]
    }
    assert info["startSequenceNumber"] in poison_numbers
    # Every good record is handled in a batch that succeeds (one without the poison record). The
    # runner may still be working through the bisected halves when the poison record reaches the
    # queue, so wait for them rather than assert on what has run so far.
    good = {k for k in keys if POISON not in k}

    def succeeded(recorded: Probe) -> set[str]:
        return {
            r["dynamodb"]["Keys"]["pk"]["S"]
            for event in recorded.events()
            if not any(POISON in r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"])
            for r in event["Records"]
        }

    probe.wait_for(lambda recorded: good <= succeeded(recorded), timeout=20)
    assert good <= succeeded(probe)
