"""template.yaml: the outbox fan-out, its failure handling, its least privilege and its alarms."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str
from samtranslator.translator.transform import transform

from tests.infrastructure.conditions import for_parameters

ROOT = Path(__file__).resolve().parents[2]


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    template, errors = decode_str((ROOT / "template.yaml").read_text(encoding="utf-8"))
    assert not errors
    return json.loads(json.dumps(template))


@pytest.fixture(scope="module")
def transformed(sam: dict[str, Any]) -> dict[str, Any]:
    """The default (single-region primary) stack, transformed; test_regions.py looks at the others."""
    packaged = copy.deepcopy(sam)
    for logical_id, resource in packaged["Resources"].items():
        for key in ("CodeUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = f"s3://artifacts/{logical_id}.zip"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
        return for_parameters(transform(packaged, {}, _NoManagedPolicies()))


def _mapping(transformed: dict[str, Any]) -> dict[str, Any]:
    (mapping,) = [
        r["Properties"]
        for r in transformed["Resources"].values()
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
        and r["Properties"]["FunctionName"] == {"Ref": "FanOutFunction"}
    ]
    return mapping


def test_the_table_stream_feeds_fan_out_with_partial_failures_bisection_and_a_dead_letter_queue(transformed):
    mapping = _mapping(transformed)
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["Table", "StreamArn"]}
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert 0 <= mapping["MaximumRetryAttempts"] <= 10
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["FanOutDeadLetterQueue", "Arn"]
    }


def test_fan_out_may_publish_only_to_its_own_bus(transformed):
    role = transformed["Resources"]["FanOutFunctionRole"]["Properties"]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    publish = [s for s in statements if "events:PutEvents" in s["Action"]]
    assert [s["Resource"] for s in publish] == [{"Fn::GetAtt": ["EventBus", "Arn"]}]
    table_writes = [s for s in statements if "dynamodb:PutItem" in s["Action"]]
    assert [s["Resource"] for s in table_writes] == [{"Fn::GetAtt": ["Table", "Arn"]}]
    assert not any(
        a in ("dynamodb:*", "dynamodb:DeleteItem", "dynamodb:Scan") for s in statements for a in s["Action"]
    )


def test_inbox_markers_expire_by_ttl(sam):
    assert sam["Resources"]["Table"]["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": "ttl",
        "Enabled": True,
    }


def test_alarms_watch_tamper_events_revocation_lag_and_the_dead_letter_queue(sam):
    resources = sam["Resources"]
    tamper = resources["TamperEventsAlarm"]["Properties"]
    assert (tamper["MetricName"], tamper["Threshold"], tamper["ComparisonOperator"]) == (
        "TamperEvents",
        0,
        "GreaterThanThreshold",
    )
    lag = resources["RevocationLagAlarm"]["Properties"]
    assert (lag["MetricName"], lag["ExtendedStatistic"], lag["Threshold"]) == (
        "RevocationLag",
        "p95",
        30,
    )
    namespace = sam["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    assert tamper["Namespace"] == lag["Namespace"] == namespace
    # Powertools adds the service name as a dimension; the alarms must name the same one.
    service = sam["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
    assert tamper["Dimensions"] == lag["Dimensions"] == [{"Name": "service", "Value": service}]
    dlq = resources["FanOutDeadLetterAlarm"]["Properties"]
    assert dlq["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["FanOutDeadLetterQueue", "QueueName"]}
