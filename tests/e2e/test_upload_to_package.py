"""End to end on the local stack, over real HTTP: presigned PUT → S3 event → SQS → build → GET."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator

import boto3
import pytest
import requests

from content_service.client import ApiClient, ApiError
from content_service.local.runner import RunnerSettings
from content_service.local.stack import LocalStack
from content_service.samples import sample_zip_bytes
from tests.conformance_data import PACKAGES
from tests.e2e.uploads import upload_and_settle


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(
        home=tmp_path_factory.mktemp("home"), runner_settings=RunnerSettings(schedules_enabled=False)
    ) as running:
        yield running


@pytest.fixture(scope="module")
def author(stack: LocalStack) -> ApiClient:
    return ApiClient(stack.api_url, stack.mint_token("tenant-a", "author-1", roles=["author"]))


def test_the_sample_package_is_built_with_its_manifest(author: ApiClient) -> None:
    package = upload_and_settle(author, sample_zip_bytes("welcome"))
    assert package["state"] == "built", package
    assert package["standard"] == "native"
    manifest = author.get_manifest(package["package_id"])["manifest"]
    with zipfile.ZipFile(io.BytesIO(sample_zip_bytes("welcome"))) as archive:
        names = {i.filename for i in archive.infolist() if not i.is_dir()}
    assert {f["path"] for f in manifest["files"]} == names
    assert manifest["content_hash"] == package["content_hash"]
    listed = [p["package_id"] for p in author.list_packages(limit=100)["items"]]
    assert package["package_id"] in listed


def test_a_real_scorm_2004_package_builds_with_its_scos(author: ApiClient) -> None:
    data = (
        PACKAGES / "scorm2004" / "golf_SequencingPostTestRollup4thEd_SCORM20044thEdition.zip"
    ).read_bytes()
    package = upload_and_settle(author, data)
    assert package["state"] == "built", package
    assert package["standard"] == "scorm2004"
    manifest = author.get_manifest(package["package_id"])["manifest"]
    assert manifest["metadata"]["edition"] == "4th"
    assert all(launch["kind"] for launch in manifest["launches"]) and len(manifest["launches"]) > 1


def test_a_hostile_upload_fails_with_a_specific_problem(author: ApiClient) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "playpackage.json", json.dumps({"format": "playpackage/1", "title": "x", "entry": "a.html"})
        )
        archive.writestr("a.html", "<p>x</p>")
        archive.writestr("../../../tmp/owned.txt", "x")
    package = upload_and_settle(author, buffer.getvalue())
    assert package["state"] == "failed"
    assert package["problem"]["code"].startswith("zip.")
    assert package["problem"]["path"] == "../../../tmp/owned.txt"


def test_another_tenant_sees_a_404_and_no_token_is_a_401(stack: LocalStack, author: ApiClient) -> None:
    package = upload_and_settle(author, sample_zip_bytes("welcome"))
    stranger = ApiClient(stack.api_url, stack.mint_token("tenant-b", "someone", roles=["author"]))
    with pytest.raises(ApiError) as refused:
        stranger.get_package(package["package_id"])
    assert refused.value.status == 404
    assert package["package_id"] not in [p["package_id"] for p in stranger.list_packages()["items"]]
    anonymous = requests.get(f"{stack.api_url}/v1/packages/{package['package_id']}", timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.headers["Content-Type"].startswith("application/problem+json")


def test_an_upload_over_the_limit_is_refused_up_front(author: ApiClient) -> None:
    # Past the ceiling the OpenAPI document states (the default limit) it is invalid input, a 422
    # naming the field; a deployment's lower limit answers 413 payload-too-large (unit tests).
    with pytest.raises(ApiError) as refused:
        author.create_upload(10 * 1024**4)
    assert refused.value.status == 422
    assert refused.value.problem["errors"][0]["loc"] == ["body", "content_length"]


def test_a_redelivered_upload_event_creates_nothing_new(stack: LocalStack, author: ApiClient) -> None:
    package = upload_and_settle(author, sample_zip_bytes("welcome"))
    before = author.list_packages(limit=100)["items"]
    event = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": stack.endpoints.buckets["UploadsBucket"]},
                    "object": {"key": f"uploads/tenant-a/{package['package_id']}/v1/source.zip", "size": 1},
                },
            }
        ]
    }
    sqs = boto3.client("sqs")
    queue = stack.endpoints.queues["BuildQueue"]
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(event))
    # Wait until the runner has taken and deleted the message, then compare.
    for _ in range(100):
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        if attributes == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}:
            break
        __import__("time").sleep(0.1)
    else:
        pytest.fail("the runner never consumed the redelivered message")
    assert author.get_package(package["package_id"]) == package
    assert author.list_packages(limit=100)["items"] == before
