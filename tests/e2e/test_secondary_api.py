"""Issue 12 part 4, the API half: with the primary region failed, the secondary's API (served by
the local stack with ``peer_api=True``) issues the device's licence and takes a revocation that
reaches the device through its sync."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from content_service.cli.failover_demo import build_sample, device_network, enrolled_device, sample_bundle
from content_service.client import ApiClient, ApiError
from content_service.local.runner import RunnerSettings
from content_service.local.stack import LocalStack

PEER = "eu-central-1"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(
        home=tmp_path_factory.mktemp("home"),
        runner_settings=RunnerSettings(schedules_enabled=False),
        peer_region=PEER,
        peer_api=True,
    ) as running:
        yield running
        running.faults.heal()


def test_with_the_primary_failed_the_secondary_licenses_and_its_revocation_reaches_the_device(
    stack: LocalStack, tmp_path: Path
) -> None:
    # Given a bundle and a device enrolled through the primary, which named both regions' APIs
    package, _ = build_sample(stack, timeout=60)
    bundle_id = sample_bundle(stack, package)
    network = device_network(stack)
    agent = enrolled_device(stack, tmp_path / "device", network)
    assert agent.api.candidates == [stack.api_url.rstrip("/"), stack.peer_api_url.rstrip("/")]
    # (and the table's replicator has copied the device and the bundle to the secondary: a
    # region that fails within the replication lag of an enrolment takes the enrolment with it)
    peer = boto3.client("dynamodb", endpoint_url=stack.endpoints.endpoint_url, region_name=PEER)
    table = stack.endpoints.tables["Table"]
    keys = [
        (f"TENANT#tenant-demo#DEVICE#{agent.device_id}", "DEVICE"),
        (f"TENANT#tenant-demo#BUNDLE#{bundle_id}", "BUNDLE"),
    ]
    deadline = time.monotonic() + 30
    while not all(
        peer.get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}).get("Item") for pk, sk in keys
    ):
        assert time.monotonic() < deadline, "the device and the bundle were not replicated to the secondary"
        time.sleep(0.2)

    # When the primary region fails and the device asks for its first licence
    stack.faults.fail(stack.region)
    seen = len(network.answers)
    claims = agent.fetch_licence(bundle_id)

    # Then the primary answered 503 and the secondary issued it (a new licence, verified by the device)
    licence_calls = [
        (url.split("/v1/")[0], status) for url, status in network.answers[seen:] if "/licenses" in url
    ]
    assert licence_calls == [(stack.api_url.rstrip("/"), 503), (stack.peer_api_url.rstrip("/"), 201)]
    assert (claims["bundle_id"], claims["device_id"]) == (bundle_id, agent.device_id)

    # When the catalog revokes the bundle through the secondary's API
    catalog = ApiClient(stack.peer_api_url, stack.mint_service_token("tenant-demo", "catalog", ["catalog"]))
    assert catalog.revoke_bundle(bundle_id, "withdrawn")["state"] == "revoked"

    # Then the device, syncing through the secondary, removes it
    deadline = time.monotonic() + 30
    while agent.store.bundle(bundle_id).root.exists():
        assert time.monotonic() < deadline, "the revocation made in the secondary did not reach the device"
        agent.sync_once()
        time.sleep(0.2)

    # And with both regions failed, the device's API calls get the last region's 503
    stack.faults.fail(PEER)
    with pytest.raises(ApiError) as refused:
        agent.api.jwks()
    assert refused.value.status == 503
    stack.faults.heal()
