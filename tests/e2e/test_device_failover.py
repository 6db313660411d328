"""Issue 12 part 4, the download half: the primary region fails mid-download, the device resumes
from the secondary with a Range request and every byte is verified; the device agent's own
``download`` resumes with the signed URLs it holds, without the (failed) API.

The other half (a licence from the secondary API, a revocation made there reaching the device)
is tests/e2e/test_secondary_api.py, on a stack that serves the peer's API. This stack does not:
what is proved here of the API side is that the device keeps its enrolment's endpoints, and when
every endpoint it holds is down, it gets the failed region's 503. The API failover rule itself is
unit-tested (tests/unit/device/test_api_failover.py).
"""

from __future__ import annotations

import hashlib
import io
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from content_service.cli.failover_demo import (
    build_sample,
    device_network,
    drill,
    enrolled_device,
    object_key,
    sample_bundle,
    wait_for_replicas,
)
from content_service.client import ApiClient, ApiError
from content_service.device.agent import DeviceAgent
from content_service.device.errors import DownloadIncomplete
from content_service.device.http import fetch_resumable
from content_service.device.store import DeviceStore
from content_service.local.edge_cache import EdgeCache
from content_service.local.outage import RegionFailsMidDownload
from content_service.local.runner import RunnerSettings
from content_service.local.stack import LocalStack
from content_service.samples import sample_zip_bytes
from tests.e2e.uploads import upload_and_build

PEER = "eu-central-1"
PATIENCE = 60.0
"""Seconds to wait for the replicator to copy the container (a limit on waiting, not an assertion)."""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(
        home=tmp_path_factory.mktemp("home"),
        runner_settings=RunnerSettings(schedules_enabled=False),
        peer_region=PEER,
    ) as running:
        yield running
        running.faults.heal()


def _wait_for_copy(stack: LocalStack, key: str) -> None:
    assert stack.replicator is not None
    deadline = time.monotonic() + PATIENCE
    while not any(copy.what == key for copy in stack.replicator.copies):
        assert time.monotonic() < deadline, f"{key} was not replicated to {PEER}"
        time.sleep(0.1)


def test_the_primary_fails_mid_download_and_the_device_resumes_from_the_secondary(
    stack: LocalStack, tmp_path: Path
) -> None:
    author = ApiClient(stack.api_url, stack.mint_token("tenant-a", "author-1", roles=["author"]))
    package = upload_and_build(author, sample_zip_bytes("welcome"))
    catalog = stack.mint_service_token("tenant-a", "catalog", ["catalog"])
    bundle = requests.post(
        f"{stack.api_url}/v1/bundles",
        json={"packages": [{"package_id": package["package_id"]}], "user_id": "learner-1"},
        headers={"Authorization": f"Bearer {catalog}", "Idempotency-Key": uuid.uuid4().hex},
        timeout=30,
    )
    assert bundle.status_code == 201, bundle.text
    bundle_id = bundle.json()["bundle_id"]

    edge = stack.edges["BundlesDistribution"]
    agent = DeviceAgent(DeviceStore(tmp_path / "device").ensure())
    agent.enroll(ApiClient(stack.api_url, stack.mint_token("tenant-a", "learner-1")), "failover-device")
    # The enrolment's endpoints are kept, the one it enrolled through first.
    assert agent.api.candidates[0] == stack.api_url.rstrip("/")
    agent.fetch_licence(bundle_id)
    listing = agent.api.download_urls(bundle_id, agent.device_id)
    container = listing["containers"][0]
    size = int(container["size"])
    _wait_for_copy(stack, container["url"].split("?")[0].split("/", 3)[3])

    network = RegionFailsMidDownload(edge.base_url, stack.api_url, lambda: stack.faults.fail(stack.region))
    network.arm(size // 3)
    partial = tmp_path / "container.partial"
    with pytest.raises(DownloadIncomplete):
        fetch_resumable(network, container["url"], partial, size)
    assert 0 < partial.stat().st_size < size, "part of the container arrived from the primary"
    assert stack.faults.is_failed(stack.region)
    # The resume reaches an edge location whose cache does not hold the object (a warm one would
    # answer from its cache and never ask an origin): it must come from an origin, now the peer's.
    edge.cache = EdgeCache()
    from_primary = edge.origin_hits[0]
    from_peer = edge.origin_hits[1]

    started = time.monotonic()
    fetch_resumable(network, container["url"], partial, size)
    resumed_after = time.monotonic() - started
    assert network.ranges[-1] == f"bytes={size // 3}-", "the device resumed with a Range request"
    assert edge.origin_hits[1] == from_peer + 1 and edge.origin_hits[0] == from_primary
    assert hashlib.sha256(partial.read_bytes()).hexdigest() == container["sha256"], "every byte verified"
    assert resumed_after < 30
    assert network.failure_to_next_byte is not None and network.failure_to_next_byte < resumed_after + 1

    # The primary's API is failed and this stack runs no secondary API (the enrolment named only
    # the primary): the device gets the failed region's 503, and nothing it holds is touched.
    with pytest.raises(ApiError) as refused:
        agent.api.jwks()
    assert refused.value.status == 503
    stack.faults.heal()


def test_the_device_agent_resumes_its_own_download_with_the_urls_it_holds_while_the_api_is_failed(
    stack: LocalStack, tmp_path: Path
) -> None:
    # Given a built bundle whose objects reached the peer, and a device with its licence
    package, data = build_sample(stack, timeout=60)
    bundle_id = sample_bundle(stack, package)
    network = device_network(stack)
    agent = enrolled_device(stack, tmp_path / "device", network)
    agent.fetch_licence(bundle_id)
    listing = agent.api.download_urls(bundle_id, agent.device_id)
    container = listing["containers"][0]
    wait_for_replicas(stack, [object_key(listing["manifest_url"]), object_key(container["url"])], PATIENCE)
    from_primary = stack.edges["BundlesDistribution"].origin_hits[0]

    # When the primary fails a quarter of the way into the container and the device downloads again
    done = drill(stack, agent, network, bundle_id, cut=int(container["size"]) // 4)

    # Then it resumed with Range, asked the failed API nothing, and the bytes came from the peer
    assert done.kept == int(container["size"]) // 4
    assert done.resume_range == f"bytes={done.kept}-"
    assert done.api_calls_after_failure == 0
    assert done.peer_hits == 2, "the manifest and the container came from the peer's bucket"
    assert stack.edges["BundlesDistribution"].origin_hits[0] == from_primary + 2, (
        "only the first download hit the primary"
    )
    files = agent.store.bundle(bundle_id)
    assert (
        hashlib.sha256(files.container(package["package_id"], 1).read_bytes()).hexdigest()
        == container["sha256"]
    )
    assert not files.signed_urls.exists()
    assert agent.verify(bundle_id).files == 5
    with agent.mount(bundle_id) as mounted:
        assert mounted.read(package["package_id"], package["entry"]) == zipfile.ZipFile(
            io.BytesIO(data)
        ).read(package["entry"])
    stack.faults.heal()
