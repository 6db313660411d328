"""The Lambda handlers, fed the sample events under events/, on moto with the template's resources."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path

import boto3
import pytest

from content_service.bootstrap import dependencies
from content_service.domain.package import PackageState, PlayPackage
from content_service.local.cold_start import clear_cached_state
from content_service.local.lambda_runtime import LambdaContext, load_handler
from content_service.samples import sample_zip_bytes

ROOT = Path(__file__).parents[3]
EVENTS = ROOT / "events"


@pytest.fixture
def stack(aws_template, monkeypatch):
    for name, value in {
        **aws_template.environment_for("BuildPackageFunction"),
        **aws_template.environment_for("SweepStaleBuildsFunction"),
    }.items():
        monkeypatch.setenv(name, value)
    clear_cached_state()
    yield aws_template
    clear_cached_state()


def handler(template, logical_id: str):
    spec = template.functions[logical_id]
    return load_handler(spec.handler_file, spec.handler_name, f"test_{logical_id}")


def context(name: str) -> LambdaContext:
    return LambdaContext(function_name=name, timeout_seconds=900)


def sample_event() -> dict:
    return json.loads((EVENTS / "build_package" / "sqs_s3_object_created.json").read_text())


def register_upload(template, key: str, data: bytes) -> PlayPackage:
    _, tenant, package_id, version, _ = key.split("/")
    deps = dependencies()
    package = deps.packages.add(
        PlayPackage.start_building(
            tenant_id=tenant,
            package_id=package_id,
            version=int(version[1:]),
            source_key=key,
            now=deps.clock.now(),
        )
    )
    boto3.client("s3").put_object(Bucket=template.buckets["UploadsBucket"].name, Key=key, Body=data)
    return package


def test_the_build_handler_builds_the_package_the_sample_event_names(stack):
    event = sample_event()
    key = json.loads(event["Records"][0]["body"])["Records"][0]["s3"]["object"]["key"]
    package = register_upload(stack, key, sample_zip_bytes("welcome"))
    result = handler(stack, "BuildPackageFunction")(event, context("build"))
    assert result == {"batchItemFailures": []}
    built = dependencies().packages.get(package.tenant_id, package.package_id)
    assert built.state is PackageState.BUILT


def test_a_message_that_crashes_is_reported_alone_and_the_last_attempt_fails_the_package(stack):
    good = sample_event()["Records"][0]
    key = json.loads(good["body"])["Records"][0]["s3"]["object"]["key"]
    register_upload(stack, key, sample_zip_bytes("welcome"))
    # The second record names a package whose upload object is missing: the build crashes.
    orphan_key = "uploads/tenant-a/pkg_orphan/v1/source.zip"
    deps = dependencies()
    deps.packages.add(
        PlayPackage.start_building(
            tenant_id="tenant-a",
            package_id="pkg_orphan",
            version=1,
            source_key=orphan_key,
            now=deps.clock.now(),
        )
    )
    bad = copy.deepcopy(good)
    bad["messageId"] = "bad-message"
    bad["body"] = good["body"].replace(key, orphan_key)
    build = handler(stack, "BuildPackageFunction")
    result = build({"Records": [good, bad]}, context("build"))
    assert result == {"batchItemFailures": [{"itemIdentifier": "bad-message"}]}
    assert deps.packages.get("tenant-a", "pkg_orphan").state is PackageState.BUILDING
    bad["attributes"]["ApproximateReceiveCount"] = "3"
    assert build({"Records": [bad]}, context("build")) == {"batchItemFailures": []}
    failed = deps.packages.get("tenant-a", "pkg_orphan")
    assert failed.state is PackageState.FAILED and failed.problem.code == "build.crashed"


def test_the_sweep_handler_fails_abandoned_builds(stack, monkeypatch):
    deps = dependencies()
    old = deps.clock.now() - timedelta(hours=6)
    deps.packages.add(
        PlayPackage.start_building(
            tenant_id="tenant-a",
            package_id="pkg_old",
            version=1,
            source_key="uploads/tenant-a/pkg_old/v1/source.zip",
            now=old,
        )
    )
    event = json.loads((EVENTS / "sweep_stale_builds" / "scheduled.json").read_text())
    result = handler(stack, "SweepStaleBuildsFunction")(event, context("sweep"))
    assert result == {"failed": 1, "failed_exports": 0, "failed_assistant_generations": 0}
    assert deps.packages.get("tenant-a", "pkg_old").problem.code == "build.abandoned"


def test_the_api_handler_answers_the_sample_event(stack):
    event = json.loads((EVENTS / "api" / "post_uploads.json").read_text())
    response = handler(stack, "ApiFunction")(event, context("api"))
    assert response["statusCode"] == 201
    body = json.loads(response["body"])
    assert body["package"]["state"] == "building"
    assert "X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost" in body["upload"]["url"]


def test_a_build_event_for_a_key_with_no_package_is_dropped_on_its_first_attempt(stack):
    good = sample_event()["Records"][0]
    key = json.loads(good["body"])["Records"][0]["s3"]["object"]["key"]
    unknown = copy.deepcopy(good)
    unknown["messageId"] = "unknown-key"
    unknown["body"] = good["body"].replace(key, "uploads/tenant-a/pkg_nobody/v1/source.zip")
    not_an_event = copy.deepcopy(good)
    not_an_event["messageId"] = "not-an-event"
    not_an_event["body"] = "{not json"
    boto3.client("s3").put_object(
        Bucket=stack.buckets["UploadsBucket"].name, Key="uploads/tenant-a/pkg_nobody/v1/source.zip", Body=b"x"
    )
    result = handler(stack, "BuildPackageFunction")({"Records": [unknown, not_an_event]}, context("build"))
    # Neither message is retried: they could never succeed, so they would only reach the DLQ.
    assert result == {"batchItemFailures": []}
    assert dependencies().packages.list("tenant-a", None, 10).items == []
