"""The local S3 front refuses what S3 refuses on a presigned PUT, and stores what S3 would store."""

from __future__ import annotations

import http.client
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from botocore.config import Config

from content_service.adapters.s3 import S3UploadStore, s3_client
from content_service.local.moto_server import DUMMY_CREDENTIALS, MotoServer
from content_service.local.s3_front import LocalS3Front

REGION = "eu-west-1"
BUCKET = "uploads-bucket"
KEY = "uploads/t1/pkg_1/v1/source.zip"
DATA = b"PK\x03\x04" + bytes(range(256)) * 8  # 2,052 bytes


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    server = MotoServer(region=REGION)
    server.start()
    server.apply_environment()
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def running_front(moto: MotoServer) -> Iterator[LocalS3Front]:
    running = LocalS3Front(
        [BUCKET],
        {DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"]: DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]},
        endpoint_url=moto.endpoint_url,
        region=REGION,
        read_timeout=2,
    ).start()
    yield running
    running.stop()


@pytest.fixture
def front(running_front: LocalS3Front) -> Iterator[LocalS3Front]:
    yield running_front
    running_front.checker.clock = lambda: datetime.now(UTC)
    s3 = boto3.client("s3", region_name=REGION)
    for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        s3.delete_object(Bucket=BUCKET, Key=item["Key"])


def presign(front: LocalS3Front, key: str = KEY, length: int = len(DATA), ttl: int = 900, **client: str):
    """A presigned PUT made exactly as the API makes it, pointed at the front."""
    presigner = s3_client(REGION, endpoint_url=front.base_url)
    if client:
        presigner = boto3.client(
            "s3",
            region_name=REGION,
            endpoint_url=front.base_url,
            config=Config(signature_version="s3v4"),
            **client,
        )
    store = S3UploadStore(s3_client(REGION), BUCKET, presigner=presigner)
    return store.presign_put(key, "application/zip", length, ttl)


def stored(key: str = KEY) -> bytes | None:
    try:
        return boto3.client("s3", region_name=REGION).get_object(Bucket=BUCKET, Key=key)["Body"].read()
    except boto3.client("s3", region_name=REGION).exceptions.NoSuchKey:
        return None


def error_code(response: requests.Response) -> str:
    assert response.headers["Content-Type"] == "application/xml"
    found = re.search(r"<Error><Code>([A-Za-z]+)</Code><Message>[^<]+</Message>", response.text)
    assert found, response.text
    return found.group(1)


def test_the_presigned_put_signs_content_type_and_content_length(front: LocalS3Front) -> None:
    presigned = presign(front)
    assert presigned.url.startswith(front.base_url + f"/{BUCKET}/")
    assert "X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost" in presigned.url


def test_a_put_with_the_signed_headers_is_stored_in_moto(front: LocalS3Front) -> None:
    presigned = presign(front)
    response = requests.put(presigned.url, data=DATA, headers=presigned.headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["ETag"].startswith('"')
    assert stored() == DATA
    head = boto3.client("s3", region_name=REGION).head_object(Bucket=BUCKET, Key=KEY)
    assert head["ContentType"] == "application/zip" and head["ContentLength"] == len(DATA)


def test_a_put_of_another_length_is_refused(front: LocalS3Front) -> None:
    presigned = presign(front)
    longer = DATA + b"x" * 355_902
    response = requests.put(
        presigned.url, data=longer, headers={"Content-Type": "application/zip"}, timeout=10
    )
    assert response.status_code == 403
    assert error_code(response) == "SignatureDoesNotMatch"
    assert stored() is None


def test_a_put_of_another_content_type_is_refused(front: LocalS3Front) -> None:
    presigned = presign(front)
    headers = {**presigned.headers, "Content-Type": "text/plain"}
    response = requests.put(presigned.url, data=DATA, headers=headers, timeout=10)
    assert response.status_code == 403 and error_code(response) == "SignatureDoesNotMatch"
    assert stored() is None


def test_a_put_without_the_signed_content_type_is_refused(front: LocalS3Front) -> None:
    presigned = presign(front)
    response = requests.put(presigned.url, data=DATA, timeout=10)
    assert response.status_code == 403 and error_code(response) == "SignatureDoesNotMatch"
    assert stored() is None


def test_a_put_without_a_content_length_is_refused_as_s3_does(front: LocalS3Front) -> None:
    presigned = presign(front)
    # A generator body makes requests send Transfer-Encoding: chunked and no Content-Length.
    response = requests.put(
        presigned.url, data=iter([DATA]), headers={"Content-Type": "application/zip"}, timeout=10
    )
    assert response.status_code == 411 and error_code(response) == "MissingContentLength"
    assert stored() is None


def test_an_expired_url_is_refused(front: LocalS3Front) -> None:
    presigned = presign(front, ttl=60)
    front.checker.clock = lambda: datetime.now(UTC) + timedelta(seconds=61)
    response = requests.put(presigned.url, data=DATA, headers=presigned.headers, timeout=10)
    assert response.status_code == 403 and error_code(response) == "AccessDenied"
    assert "expired" in response.text
    assert stored() is None


def test_a_url_dated_in_the_future_is_refused(front: LocalS3Front) -> None:
    presigned = presign(front)
    front.checker.clock = lambda: datetime.now(UTC) - timedelta(hours=1)
    response = requests.put(presigned.url, data=DATA, headers=presigned.headers, timeout=10)
    assert response.status_code == 403 and error_code(response) == "AccessDenied"


def _tampered(url: str, name: str, value: str) -> str:
    return re.sub(rf"{name}=[^&]*", f"{name}={value}", url)


@pytest.mark.parametrize(
    ("name", "value", "status", "code"),
    [
        ("X-Amz-Signature", "0" * 64, 403, "SignatureDoesNotMatch"),
        ("X-Amz-Expires", "604800", 403, "SignatureDoesNotMatch"),  # a longer life than was signed
        ("X-Amz-SignedHeaders", "host", 403, "SignatureDoesNotMatch"),  # dropping the signed headers
        ("X-Amz-Expires", "604801", 400, "AuthorizationQueryParametersError"),
        ("X-Amz-Expires", "soon", 400, "AuthorizationQueryParametersError"),
        ("X-Amz-Date", "yesterday", 400, "AuthorizationQueryParametersError"),
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA1", 400, "AuthorizationQueryParametersError"),
        ("X-Amz-SignedHeaders", "content-length%3Bcontent-type", 400, "AuthorizationQueryParametersError"),
    ],
)
def test_a_tampered_query_parameter_is_refused(front: LocalS3Front, name, value, status, code) -> None:
    presigned = presign(front)
    response = requests.put(
        _tampered(presigned.url, name, value), data=DATA, headers=presigned.headers, timeout=10
    )
    assert (response.status_code, error_code(response)) == (status, code)
    assert stored() is None


def test_another_key_than_the_one_signed_is_refused(front: LocalS3Front) -> None:
    presigned = presign(front)
    other = presigned.url.replace("/pkg_1/", "/pkg_2/")
    response = requests.put(other, data=DATA, headers=presigned.headers, timeout=10)
    assert response.status_code == 403 and error_code(response) == "SignatureDoesNotMatch"
    assert stored(KEY.replace("pkg_1", "pkg_2")) is None


def test_a_url_signed_with_another_secret_or_an_unknown_key_is_refused(front: LocalS3Front) -> None:
    wrong_secret = presign(front, aws_access_key_id="testing", aws_secret_access_key="guessed")
    response = requests.put(wrong_secret.url, data=DATA, headers=wrong_secret.headers, timeout=10)
    assert response.status_code == 403 and error_code(response) == "SignatureDoesNotMatch"
    unknown = presign(front, aws_access_key_id="AKIAOTHER", aws_secret_access_key="x")
    response = requests.put(unknown.url, data=DATA, headers=unknown.headers, timeout=10)
    assert response.status_code == 403 and error_code(response) == "InvalidAccessKeyId"
    assert stored() is None


def test_a_request_without_a_signature_is_access_denied(front: LocalS3Front) -> None:
    response = requests.put(f"{front.base_url}/{BUCKET}/{KEY}", data=DATA, timeout=10)
    assert response.status_code == 403 and error_code(response) == "AccessDenied"


def test_a_signed_url_used_with_another_method_is_refused(front: LocalS3Front) -> None:
    presigned = presign(front)
    response = requests.post(presigned.url, data=DATA, headers=presigned.headers, timeout=10)
    assert response.status_code == 403 and error_code(response) == "SignatureDoesNotMatch"


def test_a_body_shorter_than_its_signed_length_is_refused_and_not_stored(front: LocalS3Front) -> None:
    presigned = presign(front)
    target = urlsplit(presigned.url)
    with socket.create_connection((target.hostname, target.port), timeout=10) as connection:
        connection.sendall(
            f"PUT {target.path}?{target.query} HTTP/1.1\r\nHost: {target.netloc}\r\n"
            f"Content-Type: application/zip\r\nContent-Length: {len(DATA)}\r\n\r\n".encode()
            + DATA[:100]
        )
        connection.shutdown(socket.SHUT_WR)
        reply = connection.makefile("rb").read().decode()
    assert reply.startswith("HTTP/1.1 400") and "<Code>IncompleteBody</Code>" in reply
    assert stored() is None


def test_an_expect_100_continue_put_is_answered_only_once_authenticated(front: LocalS3Front) -> None:
    presigned = presign(front)
    target = urlsplit(presigned.url)
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
    connection.putrequest("PUT", f"{target.path}?{target.query}", skip_accept_encoding=True)
    for name, value in {**presigned.headers, "Content-Type": "text/plain", "Expect": "100-continue"}.items():
        connection.putheader(name, value)
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 403  # the refusal comes first; no 100 Continue invites the body
    connection.close()
