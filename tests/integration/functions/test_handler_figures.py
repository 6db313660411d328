"""What the build and API handlers report: EMF figures, and log lines and stored events under the
correlation id of the message or request they handle."""

from __future__ import annotations

import json
import logging
import sys

import boto3

from content_service.samples import sample_zip_bytes
from tests.integration.functions.test_handlers import (
    EVENTS,
    context,
    handler,
    register_upload,
    sample_event,
    stack,  # noqa: F401 (fixture)
)


def _output(capsys) -> tuple[dict[str, list[dict]], list[dict]]:
    """The EMF records by figure name, and the log lines, of what the handler printed."""
    figures: dict[str, list[dict]] = {}
    logs = []
    for line in capsys.readouterr().out.splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if "_aws" in record:
            for metric in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                figures.setdefault(metric["Name"], []).append(record)
        else:
            logs.append(record)
    return figures, logs


def test_a_build_reports_its_outcome_standard_duration_bytes_and_kms_time(stack, capsys):  # noqa: F811
    event = sample_event()
    key = json.loads(event["Records"][0]["body"])["Records"][0]["s3"]["object"]["key"]
    register_upload(stack, key, sample_zip_bytes("welcome"))
    build = handler(stack, "BuildPackageFunction")
    # Powertools keeps the stream of the first Logger made for the service; point it at this test's.
    for log_handler in logging.getLogger("content-service").handlers:
        log_handler.setStream(sys.stdout)
    capsys.readouterr()

    build(event, context("build"))

    figures, logs = _output(capsys)
    assert [r.get("standard") for r in figures["BuildSucceeded"]] == [None, "native"]
    assert figures["BuildBytes"][0]["BuildBytes"][0] > 0
    assert "BuildDuration" in figures
    assert [r["operation"] for r in figures["KmsLatency"]] == ["GenerateDataKey"]
    (finished,) = [line for line in logs if line["message"] == "build finished"]
    assert finished["correlation_id"] == event["Records"][0]["messageId"]
    assert finished["function_name"] == "build"


def test_an_api_call_reports_its_operation_and_its_writes_carry_the_request_id(stack, capsys):  # noqa: F811
    event = json.loads((EVENTS / "api" / "post_uploads.json").read_text())
    capsys.readouterr()

    response = handler(stack, "ApiFunction")(event, context("api"))

    figures, _ = _output(capsys)
    assert [(r["operation"], r["ApiRequests"]) for r in figures["ApiRequests"]] == [("create_upload", [1.0])]
    assert figures["ApiServerErrors"][0]["ApiServerErrors"] == [0.0]
    package_id = json.loads(response["body"])["package"]["package_id"]
    items = boto3.client("dynamodb").scan(TableName=stack.tables["Table"].name)["Items"]
    (item,) = [i for i in items if package_id in i["pk"]["S"]]
    stored = json.loads(item["last_event"]["S"])
    assert stored["correlation_id"] == event["requestContext"]["requestId"]


def test_a_call_no_route_matches_is_counted_as_an_unmatched_client_error(stack, capsys):  # noqa: F811
    event = json.loads((EVENTS / "api" / "post_uploads.json").read_text())
    event.update(path="/v1/no-such-thing", httpMethod="GET", body=None)
    event["requestContext"]["path"] = "/Prod/v1/no-such-thing"
    capsys.readouterr()

    response = handler(stack, "ApiFunction")(event, context("api"))

    figures, _ = _output(capsys)
    assert response["statusCode"] == 404
    assert [(r["operation"], r["ApiRequests"]) for r in figures["ApiRequests"]] == [("unmatched", [1.0])]
    assert figures["ApiClientErrors"][0]["ApiClientErrors"] == [1.0]
