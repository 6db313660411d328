"""The local CloudFront edge on the local stack: signed URLs, ranges, the cache and the origin."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest
import requests
from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from content_service.crypto.cdn import CdnSigner, generate_key_pair
from content_service.local.edge import LocalEdge
from content_service.local.edge_cache import EdgeCache
from content_service.local.runner import RunnerSettings
from content_service.local.stack import LocalStack
from tests.integration.local.probes import Probe

MANIFEST = "tenants/t1/bundles/bnd_1/manifest.jws"
CONTAINER = "tenants/t1/containers/pkg_1/v1/abc.cspc"
OTHER_TENANT = "tenants/t2/bundles/bnd_9/manifest.jws"
CONTAINER_BYTES = bytes(range(256)) * 400  # 102,400 bytes


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    probes = {"ApiFunction": Probe(), "BuildPackageFunction": Probe(), "SweepStaleBuildsFunction": Probe()}
    home: Path = tmp_path_factory.mktemp("home")
    with LocalStack(
        home=home, handlers=probes, runner_settings=RunnerSettings(schedules_enabled=False)
    ) as running:
        s3 = boto3.client("s3")
        bucket = running.endpoints.buckets["BundlesBucket"]
        s3.put_object(Bucket=bucket, Key=MANIFEST, Body=b"manifest-bytes")
        s3.put_object(Bucket=bucket, Key=CONTAINER, Body=CONTAINER_BYTES)
        s3.put_object(Bucket=bucket, Key=OTHER_TENANT, Body=b"someone else's")
        yield running


@pytest.fixture(scope="module")
def signer(stack: LocalStack) -> CdnSigner:
    # Exactly how the API builds its signer: the key from the secret, the URL base from settings.
    return CdnSigner.from_secret(
        boto3.client("secretsmanager"), os.environ["CDN_KEY_SECRET_ARN"], os.environ["CDN_BASE_URL"]
    )


def _soon() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)


def _get(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers=headers, timeout=10)


def test_the_stack_points_cdn_settings_at_its_edge(stack: LocalStack) -> None:
    edge_url = stack.endpoints.edge_url
    assert edge_url is not None and edge_url.startswith("http://127.0.0.1:")
    assert os.environ["CDN_BASE_URL"] == edge_url
    assert os.environ["CDN_DOMAIN"] == edge_url.removeprefix("http://")
    assert os.environ["BUNDLES_BUCKET"] == stack.endpoints.buckets["BundlesBucket"]


def test_a_fresh_signed_url_downloads_the_object(signer: CdnSigner) -> None:
    response = _get(signer.signed_url(CONTAINER, _soon()))
    assert response.status_code == 200
    assert response.content == CONTAINER_BYTES
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["ETag"].startswith('"')
    assert "Last-Modified" in response.headers
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=102000-", 102000, 102399),
        ("bytes=-10", 102390, 102399),
        ("bytes=5-999999", 5, 102399),
    ],
)
def test_range_requests_get_206_with_the_bytes_asked_for(
    signer: CdnSigner, header: str, first: int, last: int
) -> None:
    response = _get(signer.signed_url(CONTAINER, _soon()), Range=header)
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes {first}-{last}/{len(CONTAINER_BYTES)}"
    assert response.content == CONTAINER_BYTES[first : last + 1]


def test_an_unsatisfiable_range_gets_416(signer: CdnSigner) -> None:
    response = _get(signer.signed_url(CONTAINER, _soon()), Range="bytes=200000-")
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(CONTAINER_BYTES)}"


def test_head_answers_the_size_without_a_body(signer: CdnSigner) -> None:
    response = requests.head(signer.signed_url(CONTAINER, _soon()), timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(CONTAINER_BYTES))
    assert response.content == b""


def test_the_second_read_is_a_cache_hit_that_does_not_reach_s3(stack: LocalStack, signer: CdnSigner) -> None:
    edge = stack.edges["BundlesDistribution"]
    first = _get(signer.signed_url(MANIFEST, _soon()))
    origin_requests = edge.origin_requests
    second = _get(signer.signed_url(MANIFEST, _soon()), Range="bytes=0-7")

    assert first.status_code == 200 and second.status_code == 206
    assert second.headers["X-Cache"] == "Hit from cloudfront"
    assert second.content == b"manifest"
    assert edge.origin_requests == origin_requests


def test_an_etag_match_gets_304(signer: CdnSigner) -> None:
    etag = _get(signer.signed_url(MANIFEST, _soon())).headers["ETag"]
    assert _get(signer.signed_url(MANIFEST, _soon()), **{"If-None-Match": etag}).status_code == 304


def test_an_expired_url_is_refused(signer: CdnSigner) -> None:
    response = _get(signer.signed_url(MANIFEST, dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    assert response.status_code == 403
    assert "<Code>AccessDenied</Code>" in response.text


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda url: url.replace("bnd_1", "bnd_2"), id="altered path"),
        pytest.param(lambda url: url.replace("?v=1&", "?v=2&"), id="altered query"),
        pytest.param(lambda url: url.replace("?v=1&", "?v=1&debug=1&"), id="added query"),
        pytest.param(lambda url: url.replace("Signature=", "Signature=xx"), id="garbled signature"),
        pytest.param(lambda url: url.split("?")[0], id="no signature"),
        pytest.param(lambda url: url.rsplit("Key-Pair-Id=", 1)[0] + "Key-Pair-Id=KUNKNOWN", id="unknown key"),
    ],
)
def test_a_changed_signed_url_is_refused(signer: CdnSigner, tamper: object) -> None:
    url = signer.signed_url(MANIFEST + "?v=1", _soon())
    assert _get(url).status_code == 200
    refused = _get(tamper(url))  # type: ignore[operator]
    assert refused.status_code == 403
    assert refused.text.startswith('<?xml version="1.0" encoding="UTF-8"?><Error><Code>')


def test_a_url_signed_by_botocore_verifies_and_one_for_another_object_does_not(stack: LocalStack) -> None:
    # Signed with botocore and cryptography directly, as the AWS docs show, not through CdnSigner.
    secret = json.loads(
        boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["CDN_KEY_SECRET_ARN"])[
            "SecretString"
        ]
    )
    key = serialization.load_pem_private_key(secret["private_key_pem"].encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    botocore_signer = CloudFrontSigner(
        secret["key_pair_id"], lambda message: key.sign(message, padding.PKCS1v15(), hashes.SHA1())
    )
    url = botocore_signer.generate_presigned_url(
        f"{os.environ['CDN_BASE_URL']}/{MANIFEST}", date_less_than=_soon()
    )

    assert _get(url).status_code == 200
    query = url.split("?", 1)[1]
    assert _get(f"{os.environ['CDN_BASE_URL']}/{OTHER_TENANT}?{query}").status_code == 403


def test_a_prefix_signature_opens_the_tenants_objects_and_no_others(signer: CdnSigner) -> None:
    url = signer.signed_prefix_url(MANIFEST, "tenants/t1/", _soon())
    query = url.split("?", 1)[1]
    assert _get(url).content == b"manifest-bytes"
    assert _get(f"{signer.base_url}/{CONTAINER}?{query}").content == CONTAINER_BYTES
    assert _get(f"{signer.base_url}/{OTHER_TENANT}?{query}").status_code == 403


def test_a_key_the_key_group_does_not_trust_is_refused(signer: CdnSigner) -> None:
    stranger = CdnSigner(signer.key_pair_id, generate_key_pair().private_key_pem, signer.base_url)
    assert _get(stranger.signed_url(MANIFEST, _soon())).status_code == 403


def test_writes_are_refused(signer: CdnSigner) -> None:
    response = requests.put(signer.signed_url(MANIFEST, _soon()), data=b"evil", timeout=10)
    assert response.status_code == 403


def test_a_missing_object_is_refused_like_s3_behind_an_oac(signer: CdnSigner) -> None:
    response = _get(signer.signed_url("tenants/t1/nothing-here", _soon()))
    assert response.status_code == 403


def test_objects_too_big_to_cache_stream_from_the_origin_with_ranges(stack: LocalStack) -> None:
    bucket = stack.endpoints.buckets["BundlesBucket"]
    pair = generate_key_pair()
    edge = LocalEdge(
        bucket,
        {"KSMALL": pair.public_key_pem},
        endpoint_url=stack.endpoints.endpoint_url,
        region=stack.region,
        cache=EdgeCache(max_bytes=1024, max_object_bytes=1024),
    ).start()
    try:
        signer = CdnSigner("KSMALL", pair.private_key_pem, edge.base_url)
        whole = _get(signer.signed_url(CONTAINER, _soon()))
        part = _get(signer.signed_url(CONTAINER, _soon()), Range="bytes=1000-1999")
        assert whole.content == CONTAINER_BYTES
        assert whole.headers["X-Cache"] == part.headers["X-Cache"] == "Miss from cloudfront"
        assert part.status_code == 206 and part.content == CONTAINER_BYTES[1000:2000]
        assert edge.cache.bytes_used == 0
        # One HEAD and one GET per download: nothing was served from memory.
        assert edge.origin_requests == 4
    finally:
        edge.stop()


def test_a_burst_of_misses_for_one_object_makes_one_origin_fetch(
    stack: LocalStack, signer: CdnSigner
) -> None:
    key = "tenants/t1/containers/pkg_burst/v1/burst.cspc"
    boto3.client("s3").put_object(
        Bucket=stack.endpoints.buckets["BundlesBucket"], Key=key, Body=b"b" * 50_000
    )
    edge = stack.edges["BundlesDistribution"]
    before = edge.origin_requests
    url = signer.signed_url(key, _soon())

    with ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(pool.map(lambda _: _get(url), range(20)))

    assert all(r.status_code == 200 and len(r.content) == 50_000 for r in replies)
    assert sorted(r.headers["X-Cache"] for r in replies).count("Miss from cloudfront") == 1
    assert edge.origin_requests - before == 2  # one HEAD and one GET
