"""End to end on the local stack: only an upload that is what was declared becomes a built package.

The presigned URL from ``POST /v1/uploads`` points at the local S3 front, which refuses a PUT
with another length or type, or after expiry, as S3 does. Behind it, the build re-checks the
stored object against the declaration, so even an object that reached the bucket another way
(where a store did not enforce the signed headers) fails with a specific problem.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
import requests

from content_service.client import ApiClient
from content_service.local.runner import RunnerSettings
from content_service.local.stack import LocalStack
from content_service.samples import sample_zip_bytes
from tests.e2e.uploads import upload_and_build

ZIP = sample_zip_bytes("welcome")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(
        home=tmp_path_factory.mktemp("home"), runner_settings=RunnerSettings(schedules_enabled=False)
    ) as running:
        yield running


@pytest.fixture
def author(stack: LocalStack) -> Iterator[ApiClient]:
    yield ApiClient(stack.api_url, stack.mint_token("tenant-a", "author-1", roles=["author"]))
    assert stack.s3_front is not None
    stack.s3_front.checker.clock = lambda: datetime.now(UTC)


def nothing_stored_and_still_building(stack: LocalStack, author: ApiClient, package: dict) -> bool:
    """Nothing reached the uploads bucket, so no S3 event can build the package."""
    key = f"uploads/tenant-a/{package['package_id']}/v{package['version']}/source.zip"
    listed = boto3.client("s3").list_objects_v2(Bucket=stack.endpoints.buckets["UploadsBucket"], Prefix=key)
    current = author.get_package(package["package_id"], package["version"])
    return listed["KeyCount"] == 0 and current["state"] == "building"


def test_the_upload_url_points_at_the_s3_front(stack: LocalStack, author: ApiClient) -> None:
    assert stack.s3_front is not None
    assert os.environ["UPLOAD_ENDPOINT_URL"] == stack.s3_front.base_url
    created = author.create_upload(len(ZIP))
    assert created["upload"]["url"].startswith(stack.s3_front.base_url + "/")
    assert "X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost" in created["upload"]["url"]


def test_an_upload_with_the_signed_headers_is_built(author: ApiClient) -> None:
    upload_and_build(author, ZIP)


def test_a_put_of_another_length_and_type_is_refused_and_nothing_is_built(
    stack: LocalStack, author: ApiClient
) -> None:
    created = author.create_upload(2129)
    other = b"not a zip " * 35_795 + b"...."  # 357,954 bytes of text
    response = requests.put(
        created["upload"]["url"], data=other, headers={"Content-Type": "text/plain"}, timeout=30
    )
    assert response.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in response.text
    assert nothing_stored_and_still_building(stack, author, created["package"])


@pytest.mark.parametrize(
    "headers",
    [{"Content-Type": "application/zip"}, {"Content-Type": "application/octet-stream"}],
    ids=["another-length", "another-type"],
)
def test_a_put_differing_in_one_signed_header_is_refused(
    stack: LocalStack, author: ApiClient, headers: dict
) -> None:
    declared = len(ZIP) + 1 if headers["Content-Type"] == "application/zip" else len(ZIP)
    created = author.create_upload(declared)
    response = requests.put(created["upload"]["url"], data=ZIP, headers=headers, timeout=30)
    assert response.status_code == 403
    assert nothing_stored_and_still_building(stack, author, created["package"])


def test_a_put_after_the_url_expired_is_refused(stack: LocalStack, author: ApiClient) -> None:
    created = author.create_upload(len(ZIP))
    expires_at = datetime.fromisoformat(created["upload"]["expires_at"])
    assert stack.s3_front is not None
    # The front's clock stands in for the wait: the URL's own X-Amz-Date and X-Amz-Expires decide.
    stack.s3_front.checker.clock = lambda: expires_at + timedelta(seconds=2)
    response = requests.put(
        created["upload"]["url"], data=ZIP, headers=created["upload"]["headers"], timeout=30
    )
    assert response.status_code == 403
    assert "<Code>AccessDenied</Code>" in response.text and "expired" in response.text
    assert nothing_stored_and_still_building(stack, author, created["package"])


@pytest.mark.parametrize(
    ("body", "content_type", "code"),
    [
        (ZIP + b"\0" * 1000, "application/zip", "upload.length_mismatch"),
        (ZIP, "text/plain", "upload.content_type_mismatch"),
    ],
)
def test_an_object_that_bypassed_the_signed_url_fails_the_build(
    stack: LocalStack, author: ApiClient, body: bytes, content_type: str, code: str
) -> None:
    created = author.create_upload(len(ZIP))
    package = created["package"]
    key = f"uploads/tenant-a/{package['package_id']}/v{package['version']}/source.zip"
    # Straight into the bucket, as if the store had not enforced the signed headers.
    boto3.client("s3").put_object(
        Bucket=stack.endpoints.buckets["UploadsBucket"], Key=key, Body=body, ContentType=content_type
    )
    settled = author.wait_until_settled(package["package_id"], package["version"], timeout=60, interval=0.1)
    assert settled["state"] == "failed", settled
    assert settled["problem"]["code"] == code
