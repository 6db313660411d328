"""A residency migration through the real handlers: the API starts it, the migrate worker (SQS) ends it."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from content_service.adapters.entities import DynamoTenantSettings
from content_service.local.cold_start import clear_cached_state
from tests.integration.functions.test_handlers import context, handler

EVENTS = Path(__file__).parents[3] / "events"
TARGET = "us-east-1"
TENANT = "tenant-a"


@pytest.fixture
def stack(aws_template, monkeypatch):
    table = aws_template.tables["Table"].name
    buckets = {
        "bundles": aws_template.buckets["BundlesBucket"].name,
        "packages": aws_template.buckets["PackagesBucket"].name,
        "exports": aws_template.buckets["ExportsBucket"].name,
    }
    target_buckets = {role: f"{name}-us" for role, name in buckets.items()}
    s3 = boto3.client("s3", region_name=TARGET)
    for name in target_buckets.values():
        s3.create_bucket(Bucket=name)
    create = dict(aws_template.tables["Table"].create_args)
    create.pop("StreamSpecification", None)
    boto3.client("dynamodb", region_name=TARGET).create_table(**create)
    targets = {
        "us": {
            "region": TARGET,
            "table_name": table,
            "buckets": target_buckets,
            "api_endpoints": ["https://api.us-east-1.example/prod"],
        }
    }
    for name, value in {
        **aws_template.environment_for("ApiFunction"),
        **aws_template.environment_for("MigrateFunction"),
        "MIGRATION_TARGETS": json.dumps(targets),
        "MIGRATION_GRACE_SECONDS": "0",
        "MIGRATION_BATCH_SIZE": "3",
    }.items():
        monkeypatch.setenv(name, value)
    clear_cached_state()
    source = boto3.client("s3")
    objects = {f"tenants/{TENANT}/blobs/sha256/{n:02x}": bytes([n]) * (n * 100) for n in range(5)}
    for key, data in objects.items():
        source.put_object(Bucket=buckets["packages"], Key=key, Body=data)
    yield aws_template, buckets, target_buckets, objects
    clear_cached_state()


def _api_event(method: str, path: str, body: Any = None, key: str | None = None) -> dict[str, Any]:
    event = copy.deepcopy(json.loads((EVENTS / "api" / "post_uploads.json").read_text()))
    event["httpMethod"] = event["requestContext"]["httpMethod"] = method
    event["path"] = path
    event["pathParameters"] = {"proxy": path.removeprefix("/v1/")}
    event["body"] = None if body is None else json.dumps(body)
    event["requestContext"]["authorizer"]["roles"] = "admin learner"
    if key:
        event["headers"]["Idempotency-Key"] = key
        event["multiValueHeaders"]["Idempotency-Key"] = [key]
    return event


def _header(response: dict[str, Any], name: str) -> str:
    headers = response.get("headers") or {}
    return str(headers.get(name) or response["multiValueHeaders"][name][0])


def _drain(template: Any, queue_url: str) -> int:
    """Play the SQS event source: hand each message to the migrate handler until none is left."""
    sqs, runs = boto3.client("sqs"), 0
    migrate = handler(template, "MigrateFunction")
    sample = json.loads((EVENTS / "migrate" / "sqs_migration_run.json").read_text())
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1).get("Messages"):
        event = copy.deepcopy(sample)
        event["Records"][0].update(messageId=messages[0]["MessageId"], body=messages[0]["Body"])
        assert migrate(event, context("migrate")) == {"batchItemFailures": []}
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=messages[0]["ReceiptHandle"])
        runs += 1
        assert runs < 100
    return runs


def test_the_api_starts_a_migration_that_the_worker_runs_to_the_end(stack) -> None:
    template, buckets, target_buckets, objects = stack
    api = handler(template, "ApiFunction")
    # Given an admin's request to move the tenant to us
    started = api(_api_event("POST", "/v1/tenant/migrations", {"target_zone": "us"}, "mig-key-0001"), context("api"))
    assert started["statusCode"] == 202, started["body"]
    body = json.loads(started["body"])
    assert _header(started, "Location") == f"/v1/tenant/migrations/{body['migration_id']}"
    assert body["state"] == "requested" and body["step"] == "copy"
    # And the same request again (the same key) is the same migration
    again = api(_api_event("POST", "/v1/tenant/migrations", {"target_zone": "us"}, "mig-key-0001"), context("api"))
    assert json.loads(again["body"])["migration_id"] == body["migration_id"]
    # When the worker runs every queued message
    assert _drain(template, template.resolver.refs["MigrationQueue"]) >= 1
    # Then the migration is done, its progress counts every object, and the data moved
    shown = api(_api_event("GET", _header(started, "Location")), context("api"))
    view = json.loads(shown["body"])
    assert view["state"] == "done", view
    assert view["progress"]["objects_total"] == view["progress"]["objects_verified"] == len(objects)
    target = boto3.client("s3", region_name=TARGET)
    for key, data in objects.items():
        copied = target.get_object(Bucket=target_buckets["packages"], Key=key)["Body"].read()
        assert hashlib.sha256(copied).digest() == hashlib.sha256(data).digest()
    assert boto3.client("s3").list_objects_v2(Bucket=buckets["packages"], Prefix=f"tenants/{TENANT}/")["KeyCount"] == 0
    table = template.tables["Table"].name
    assert DynamoTenantSettings(table, TARGET).get(TENANT).zone == "us"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("body", "status"),
    [({"target_zone": "eu"}, 409), ({"target_zone": "ap"}, 409), ({"target_zone": 7}, 422), ({}, 422), ({"target_zone": "EU"}, 422)],
)
def test_a_migration_to_the_own_an_unknown_a_malformed_or_no_zone_is_a_problem(stack, body: Any, status: int) -> None:
    template = stack[0]
    response = handler(template, "ApiFunction")(
        _api_event("POST", "/v1/tenant/migrations", body, "mig-key-bad-1"), context("api")
    )
    assert response["statusCode"] == status
    assert _header(response, "Content-Type") == "application/problem+json"


def test_a_learner_may_not_start_a_migration(stack) -> None:
    template = stack[0]
    event = _api_event("POST", "/v1/tenant/migrations", {"target_zone": "us"}, "mig-key-0002")
    event["requestContext"]["authorizer"]["roles"] = "learner"
    assert handler(template, "ApiFunction")(event, context("api"))["statusCode"] == 403
