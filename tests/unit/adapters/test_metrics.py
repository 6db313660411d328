"""The EMF adapter writes CloudWatch's embedded metric format, and times KMS calls as botocore makes them."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

from content_service.adapters.metrics import EmfMetrics, instrument_kms
from tests.outbox_fakes import FakeMetrics


def _emf_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_each_figure_is_one_emf_record_with_the_service_dimension_and_its_own(capsys) -> None:
    metrics = EmfMetrics("ContentService", "content-service")
    metrics.count("BuildRejected", problem="zip.symlink")
    metrics.milliseconds("KmsLatency", 12.5, operation="Sign")
    first, second = _emf_lines(capsys.readouterr().out)
    (directive,) = first["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "ContentService"
    assert directive["Dimensions"] == [["service", "problem"]]
    assert directive["Metrics"] == [{"Name": "BuildRejected", "Unit": "Count"}]
    assert (first["service"], first["problem"], first["BuildRejected"]) == (
        "content-service",
        "zip.symlink",
        [1.0],
    )
    assert second["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [
        {"Name": "KmsLatency", "Unit": "Milliseconds"}
    ]
    assert second["KmsLatency"] == [12.5]


@pytest.fixture
def kms():
    return boto3.client("kms", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")


def test_kms_calls_are_timed_per_operation(kms) -> None:
    metrics = FakeMetrics()
    instrument_kms(kms, metrics)
    with Stubber(kms) as stub:
        stub.add_response("sign", {"KeyId": "k", "Signature": b"s", "SigningAlgorithm": "ECDSA_SHA_256"})
        kms.sign(KeyId="k", Message=b"m", MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256")
    assert [d for _, d in metrics.dimensions] == [{"operation": "Sign"}]
    assert metrics.named("KmsThrottled") == []


def test_a_throttled_kms_call_is_counted_before_the_caller_sees_the_error(kms) -> None:
    metrics = FakeMetrics()
    instrument_kms(kms, metrics)
    with Stubber(kms) as stub:
        stub.add_client_error("sign", service_error_code="ThrottlingException", http_status_code=400)
        with pytest.raises(kms.exceptions.ClientError):
            kms.sign(KeyId="k", Message=b"m", MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256")
    assert metrics.named("KmsThrottled") == [1]
