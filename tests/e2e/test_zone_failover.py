"""A zone's primary with its peer on the local stack: written in the primary, read from the replica.

``LocalStack(peer_region=...)`` makes the peer's bucket and table replica, runs the replicator and
gives the edge the template's origin group; the fault switch then fails the primary region.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator

import boto3
import pytest
import requests

from content_service.client import ApiClient
from content_service.crypto.licence import device_public_jwk, generate_device_key
from content_service.local.runner import RunnerSettings
from content_service.local.stack import LocalStack
from content_service.samples import sample_zip_bytes
from tests.e2e.uploads import upload_and_build

PEER = "eu-central-1"
PATIENCE = 60.0
"""Seconds to wait for the replicator to copy a change (a limit on waiting, not an assertion)."""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(
        home=tmp_path_factory.mktemp("home"),
        runner_settings=RunnerSettings(schedules_enabled=False),
        peer_region=PEER,
    ) as running:
        yield running
        running.faults.heal()


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _wait_for_copy(stack: LocalStack, what: str) -> None:
    assert stack.replicator is not None
    deadline = time.monotonic() + PATIENCE
    while not any(copy.what == what for copy in stack.replicator.copies):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} was not replicated to {PEER}")
        time.sleep(0.1)


def test_a_bundle_written_in_the_primary_downloads_from_the_replica_when_the_primary_fails(
    stack: LocalStack,
) -> None:
    author = ApiClient(stack.api_url, stack.mint_token("tenant-a", "author-1", roles=["author"]))
    package = upload_and_build(author, sample_zip_bytes("welcome"))
    learner = stack.mint_token("tenant-a", "learner-1")
    catalog = stack.mint_service_token("tenant-a", "catalog", ["catalog"])
    bundle = requests.post(
        f"{stack.api_url}/v1/bundles",
        json={"packages": [{"package_id": package["package_id"]}], "user_id": "learner-1"},
        headers={**_headers(catalog), "Idempotency-Key": uuid.uuid4().hex},
        timeout=30,
    ).json()
    device = requests.post(
        f"{stack.api_url}/v1/devices",
        json={"public_key": device_public_jwk(generate_device_key())},
        headers=_headers(learner),
        timeout=30,
    ).json()
    download = requests.get(
        f"{stack.api_url}/v1/bundles/{bundle['bundle_id']}/download",
        params={"device_id": device["device_id"]},
        headers=_headers(learner),
        timeout=30,
    )
    assert download.status_code == 200, download.text
    container = download.json()["containers"][0]
    key = container["url"].split("?")[0].split("/", 3)[3]
    _wait_for_copy(stack, key)

    # The table's items reach the peer's replica too (the global table's part).
    # The replicator copies asynchronously (as global tables do): wait for it, bounded.
    table = stack.endpoints.tables["Table"]
    deadline = time.monotonic() + 30
    while True:
        peer_items = boto3.client("dynamodb", region_name=PEER).scan(TableName=table)["Items"]
        if any(bundle["bundle_id"] in str(item.get("pk", {})) for item in peer_items):
            break
        assert time.monotonic() < deadline, "the bundle's item never reached the peer's replica"
        time.sleep(0.2)

    stack.faults.fail(stack.region)
    edge = stack.edges["BundlesDistribution"]
    served_by_peer = edge.origin_hits[1]
    body = requests.get(container["url"], headers={"Range": "bytes=0-"}, timeout=30)
    assert body.status_code == 206
    assert hashlib.sha256(body.content).hexdigest() == container["sha256"]
    assert edge.origin_hits[1] == served_by_peer + 1, "the replica in the peer region served it"
    stack.faults.heal()
    assert stack.replicator is not None and all(lag >= 0 for lag in stack.replicator.lags)
