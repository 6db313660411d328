"""The default (single-region primary) local stack with the region machinery: endpoints, faults, replicas.

A zone's secondary stack does not run locally yet (docs/regions.md, "Left"); what runs here is
what a device sees of its region: the endpoints it is handed, and a failed region's answers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import uuid
from collections.abc import Iterator

import boto3
import pytest
import requests

from content_service.client import ApiClient
from content_service.crypto.cdn import CdnSigner
from content_service.crypto.licence import device_public_jwk, generate_device_key
from content_service.local.distribution import distributions
from content_service.local.edge import LocalEdge, Origin
from content_service.local.replicator import BucketReplication, LocalReplicator
from content_service.local.runner import RunnerSettings
from content_service.local.stack import LocalStack
from content_service.samples import sample_zip_bytes
from tests.e2e.uploads import upload_and_build

PEER = "eu-central-1"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(
        home=tmp_path_factory.mktemp("home"), runner_settings=RunnerSettings(schedules_enabled=False)
    ) as running:
        yield running


@pytest.fixture
def healed(stack: LocalStack) -> Iterator[LocalStack]:
    yield stack
    stack.faults.heal()


@pytest.fixture(scope="module")
def package_id(stack: LocalStack) -> str:
    client = ApiClient(stack.api_url, stack.mint_token("tenant-a", "author-1", roles=["author"]))
    package = upload_and_build(client, sample_zip_bytes("welcome"))
    return str(package["package_id"])


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _enroll(stack: LocalStack, token: str) -> dict:
    response = requests.post(
        f"{stack.api_url}/v1/devices",
        json={"public_key": device_public_jwk(generate_device_key())},
        headers=_headers(token),
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return response.json()


def _container(stack: LocalStack, package_id: str) -> dict:
    learner = stack.mint_token("tenant-a", "learner-1")
    catalog = stack.mint_service_token("tenant-a", "catalog", ["catalog"])
    bundle = requests.post(
        f"{stack.api_url}/v1/bundles",
        json={"packages": [{"package_id": package_id}], "user_id": "learner-1"},
        headers={**_headers(catalog), "Idempotency-Key": uuid.uuid4().hex},
        timeout=30,
    ).json()
    device = _enroll(stack, learner)
    download = requests.get(
        f"{stack.api_url}/v1/bundles/{bundle['bundle_id']}/download",
        params={"device_id": device["device_id"]},
        headers=_headers(learner),
        timeout=30,
    )
    assert download.status_code == 200, download.text
    return download.json()["containers"][0]


def test_enrolment_hands_the_device_this_regions_api_endpoint(stack: LocalStack) -> None:
    device = _enroll(stack, stack.mint_token("tenant-a", "learner-9"))
    # No peer in a single-region stack: one endpoint, the one the device enrolled through.
    assert device["api_endpoints"] == [stack.api_url]


def test_a_failed_region_answers_503_on_the_api_and_the_edge_until_healed(
    healed: LocalStack, package_id: str
) -> None:
    stack = healed
    container = _container(stack, package_id)
    stack.faults.fail(stack.region)
    api = requests.get(f"{stack.api_url}/v1/.well-known/jwks.json", timeout=30)
    assert api.status_code == 503
    assert api.headers["Content-Type"] == "application/problem+json"
    # A single-region distribution has no origin to fail over to: the outage reaches the device.
    assert requests.get(container["url"], timeout=30).status_code == 503
    stack.faults.heal()
    body = requests.get(container["url"], timeout=30)
    assert hashlib.sha256(body.content).hexdigest() == container["sha256"]


def test_a_container_written_in_the_primary_is_read_from_the_replica_after_replication(
    healed: LocalStack, package_id: str
) -> None:
    # The peer's bucket, as the secondary's stack names it; the replicator plays S3 replication.
    stack = healed
    endpoints = stack.endpoints
    primary_bucket = endpoints.buckets["BundlesBucket"]
    peer_bucket = f"{stack.stack_name}-bundles-{stack.template.account_id}-{PEER}"  # type: ignore[union-attr]
    peer_s3 = boto3.client("s3", endpoint_url=endpoints.endpoint_url, region_name=PEER)
    peer_s3.create_bucket(Bucket=peer_bucket, CreateBucketConfiguration={"LocationConstraint": PEER})
    container = _container(stack, package_id)
    key = container["url"].split("?")[0].split("/", 3)[3]
    replicator = LocalReplicator(
        endpoints.endpoint_url, [BucketReplication(primary_bucket, stack.region, peer_bucket, PEER)]
    )
    assert any(copy.what == key for copy in replicator.run_once())
    # The zone's edge with its origin group: the primary region fails, the replica serves.
    assert stack.template is not None
    (spec,) = distributions(stack.template)
    edge = LocalEdge(
        primary_bucket,
        spec.trusted_keys,
        endpoint_url=endpoints.endpoint_url,
        region=stack.region,
        failover=[Origin(peer_bucket, PEER)],
    ).start()
    try:
        stack.faults.fail(stack.region)
        # Signed as the API signs (the CDN key secret), for this edge's address.
        signer = CdnSigner.from_secret(
            boto3.client("secretsmanager"), os.environ["CDN_KEY_SECRET_ARN"], edge.base_url
        )
        url = signer.signed_url(key, dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))
        body = requests.get(url, timeout=30)
        assert body.status_code == 200
        assert hashlib.sha256(body.content).hexdigest() == container["sha256"]
        assert edge.origin_hits == [0, 1]
    finally:
        edge.stop()
