"""Issue 12 part 4, the download half: the primary region fails mid-download, the device resumes
from the secondary with a Range request and every byte is verified.

The other half (a licence from the secondary API, a revocation made there reaching the device)
needs the secondary's API on the local stack, which does not run yet (docs/regions.md, "Left").
What is proved here of the API side: the device keeps its enrolment's endpoints, and when every
endpoint it holds is down, it gets the failed region's 503. The API failover itself is unit-tested
(tests/unit/device/test_api_failover.py).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3

from content_service.client import ApiClient, ApiError, put_upload
from content_service.device.agent import DeviceAgent
from content_service.device.errors import DownloadIncomplete
from content_service.device.http import fetch_resumable
from content_service.device.store import DeviceStore
from content_service.local.edge_cache import EdgeCache
from content_service.local.runner import RunnerSettings
from content_service.local.stack import LocalStack
from content_service.samples import sample_zip_bytes

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


class RegionFailsMidDownload(requests.Session):
    """The device's network: the first CDN body is cut after ``cut`` bytes, and at that moment
    the primary region fails (as a regional outage drops the connections it served)."""

    def __init__(self, stack: LocalStack, cdn: str, cut: int) -> None:
        super().__init__()
        self.stack, self.cdn, self.cut, self.armed = stack, cdn, cut, True
        self.ranges: list[str | None] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        response = super().request(method, url, *args, **kwargs)
        if not url.startswith(self.cdn) or "manifest" in url:
            return response
        self.ranges.append((kwargs.get("headers") or {}).get("Range"))
        if self.armed:
            self.armed = False
            raw, left, stack = response.raw, [self.cut], self.stack

            def read1(amount: int = -1) -> bytes:
                if left[0] <= 0:
                    stack.faults.fail(stack.region)
                    raise urllib3.exceptions.ProtocolError("the region failed mid-download")
                chunk = raw.read(min(amount if amount > 0 else left[0], left[0]))
                left[0] -= len(chunk)
                return chunk

            raw.read1 = read1  # type: ignore[method-assign]
        return response


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
    data = sample_zip_bytes("welcome")
    created = author.create_upload(len(data))
    put_upload(created["upload"], data)
    package = author.wait_until_settled(created["package"]["package_id"], 1, timeout=60, interval=0.1)
    assert package["state"] == "built", package
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

    network = RegionFailsMidDownload(stack, edge.base_url, cut=size // 3)
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

    # The primary's API is failed and this stack runs no secondary API (the enrolment named only
    # the primary): the device gets the failed region's 503, and nothing it holds is touched.
    with pytest.raises(ApiError) as refused:
        agent.api.jwks()
    assert refused.value.status == 503
    stack.faults.heal()
