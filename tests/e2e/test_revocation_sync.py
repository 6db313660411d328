"""Revocation and tamper response reach every holding device's sync feed, on the local stack.

The real fan_out handler runs behind the table stream; a wrapper around it can crash an
invocation mid-batch (after some records were applied), and the test can redeliver any batch
the runner delivered, to show that neither loses nor duplicates anything.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
import requests

from content_service.crypto.licence import device_public_jwk, generate_device_key
from content_service.crypto.signing import verify
from content_service.local.lambda_runtime import load_handler
from content_service.local.runner import RunnerSettings
from content_service.local.stack import LocalStack, find_template
from content_service.samples import sample_zip_bytes
from tests.e2e.roles import author_client
from tests.e2e.uploads import upload_and_build

FAN_OUT_FILE = find_template().parent / "functions" / "fan_out" / "app.py"


class FanOutHarness:
    """The real fan_out handler, recording each delivered batch, able to crash one invocation midway."""

    def __init__(self) -> None:
        self._real: Callable[[dict[str, Any], Any], Any] | None = None
        self.batches: list[tuple[dict[str, Any], Any]] = []
        self.crash_next_after: int | None = None
        self.crashes = 0
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        if self._real is None:
            # Loaded lazily, inside the running stack, exactly as the stack loads handlers.
            self._real = load_handler(FAN_OUT_FILE, "handler", "content_service_e2e_fan_out")
        with self._lock:
            self.batches.append((event, context))
            crash_after = self.crash_next_after
            carrying = [
                i for i, r in enumerate(event["Records"]) if "events" in r["dynamodb"].get("NewImage", {})
            ]
            if crash_after is not None and len(carrying) > crash_after:
                self.crash_next_after = None
                self.crashes += 1
                # The first outbox records' side effects happen, then the "container dies".
                self._real({"Records": event["Records"][: carrying[crash_after]]}, context)
                raise RuntimeError("simulated crash in the middle of a batch")
        return self._real(event, context)

    def redeliver_everything(self) -> None:
        """Hand every batch delivered so far to the handler again, as a stream retry would."""
        assert self._real is not None
        for event, context in list(self.batches):
            self._real(event, context)


@pytest.fixture(scope="module")
def harness() -> FanOutHarness:
    return FanOutHarness()


@pytest.fixture(scope="module")
def stack(harness: FanOutHarness, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(
        home=tmp_path_factory.mktemp("home"),
        handlers={"FanOutFunction": harness},
        runner_settings=RunnerSettings(schedules_enabled=False, stream_poll_interval=0.05),
    ) as running:
        yield running


@pytest.fixture(scope="module")
def bus_queue(stack: LocalStack) -> str:
    """A queue that receives every event published on the bus (a rule made by the test only)."""
    sqs, events = boto3.client("sqs"), boto3.client("events")
    url = sqs.create_queue(QueueName=f"bus-observer-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = stack.function_environment("FanOutFunction")["EVENT_BUS_NAME"]
    events.put_rule(
        Name="observe-all", EventBusName=bus, EventPattern=json.dumps({"source": ["content-service"]})
    )
    events.put_targets(Rule="observe-all", EventBusName=bus, Targets=[{"Id": "queue", "Arn": arn}])
    return url


class Learner:
    def __init__(self, stack: LocalStack, tenant: str, user: str) -> None:
        self.base = stack.api_url
        self.user = user
        self.headers = {"Authorization": f"Bearer {stack.mint_token(tenant, user)}"}
        # The learner's bundles are made and revoked by the catalog service, as in production.
        catalog = stack.mint_service_token(tenant, "catalog", ["catalog"])
        self.catalog_headers = {"Authorization": f"Bearer {catalog}"}

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return requests.request(method, self.base + path, headers=headers, timeout=30, **kwargs)

    def as_catalog(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {**self.catalog_headers, **kwargs.pop("headers", {})}
        return requests.request(method, self.base + path, headers=headers, timeout=30, **kwargs)

    def enroll(self) -> str:
        response = self.call(
            "POST", "/v1/devices", json={"public_key": device_public_jwk(generate_device_key())}
        )
        assert response.status_code == 201, response.text
        return response.json()["device_id"]

    def bundle(self, package_id: str) -> str:
        response = self.as_catalog(
            "POST",
            "/v1/bundles",
            json={"packages": [{"package_id": package_id}], "user_id": self.user},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status_code == 201, response.text
        return response.json()["bundle_id"]

    def sync(self, device_id: str, cursor: str | None = None) -> requests.Response:
        return self.call("GET", f"/v1/devices/{device_id}/sync", params={"cursor": cursor} if cursor else {})

    def changes(self, device_id: str) -> list[dict[str, Any]]:
        response = self.sync(device_id)
        assert response.status_code == 200, response.text
        return response.json()["changes"]

    def wait_for(
        self, device_id: str, kind: str, bundle_id: str, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            changes = self.changes(device_id)
            if any(c["type"] == kind and c["bundle_id"] == bundle_id for c in changes):
                return changes
            if time.monotonic() > deadline:
                raise AssertionError(f"no {kind} of {bundle_id} for {device_id} in {timeout}s: {changes}")
            time.sleep(0.1)


@pytest.fixture(scope="module")
def package_id(stack: LocalStack) -> str:
    client = author_client(stack, "tenant-a", "author")
    package = upload_and_build(client, sample_zip_bytes("welcome"))
    return package["package_id"]


def _published(queue_url: str) -> list[dict[str, Any]]:
    sqs, found = boto3.client("sqs"), []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not messages:
            return found
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def test_a_revocation_reaches_every_device_of_the_user_within_seconds(
    stack: LocalStack, package_id: str, bus_queue: str
) -> None:
    learner = Learner(stack, "tenant-a", f"learner-{uuid.uuid4().hex[:6]}")
    phone, laptop = learner.enroll(), learner.enroll()
    bundle_id = learner.bundle(package_id)
    learner.wait_for(phone, "bundle.added", bundle_id)
    learner.wait_for(laptop, "bundle.added", bundle_id)

    revoked_at = time.monotonic()
    assert (
        learner.as_catalog(
            "POST", f"/v1/bundles/{bundle_id}/revoke", json={"reason": "withdrawn"}
        ).status_code
        == 200
    )
    for device in (phone, laptop):
        changes = learner.wait_for(device, "bundle.revoked", bundle_id, timeout=5)
        assert [c["type"] for c in changes] == ["bundle.added", "bundle.revoked"]
        assert [c["seq"] for c in changes] == [1, 2]
    assert time.monotonic() - revoked_at < 5

    # A device enrolled after the revocation never gets the revoked bundle.
    late = learner.enroll()
    time.sleep(1.0)
    assert all(c["bundle_id"] != bundle_id or c["type"] == "bundle.revoked" for c in learner.changes(late))

    subjects = {(e["detail-type"], e["detail"]["data"].get("bundle_id")) for e in _published(bus_queue)}
    assert ("content.bundle.created.v1", bundle_id) in subjects
    assert ("content.bundle.revoked.v1", bundle_id) in subjects


def test_sync_returns_a_signed_status_and_a_cursor_that_keeps_working(
    stack: LocalStack, package_id: str
) -> None:
    learner = Learner(stack, "tenant-a", f"learner-{uuid.uuid4().hex[:6]}")
    device = learner.enroll()
    first, second = learner.bundle(package_id), learner.bundle(package_id)
    learner.wait_for(device, "bundle.added", second)
    page = learner.sync(device).json()
    assert [c["bundle_id"] for c in page["changes"]] == [first, second]
    old_cursor = page["next_cursor"]

    learner.as_catalog("POST", f"/v1/bundles/{first}/revoke", json={"reason": "withdrawn"})
    learner.wait_for(device, "bundle.revoked", first)
    after = learner.sync(device, old_cursor).json()
    assert [(c["type"], c["bundle_id"]) for c in after["changes"]] == [("bundle.revoked", first)]
    assert learner.sync(device, old_cursor).json()["changes"] == after["changes"]

    jwks = requests.get(f"{stack.api_url}/v1/.well-known/jwks.json", timeout=10).json()
    claims = verify(after["status"], jwks, typ="device-status+jwt")
    assert claims["device_id"] == device and claims["tenant_id"] == "tenant-a"
    assert claims["revoked_bundles"] == [first]
    assert abs(claims["server_time"] - time.time()) < 60


def test_another_tenants_or_users_device_is_not_found(stack: LocalStack) -> None:
    learner = Learner(stack, "tenant-a", f"learner-{uuid.uuid4().hex[:6]}")
    device = learner.enroll()
    assert Learner(stack, "tenant-b", "someone").sync(device).status_code == 404
    assert Learner(stack, "tenant-a", "someone-else").sync(device).status_code == 404
    other = learner.enroll()
    foreign_cursor = learner.sync(other).json()["next_cursor"]
    assert learner.sync(device, foreign_cursor).status_code == 422


def test_a_tamper_report_revokes_the_bundle_and_reaches_the_feed(stack: LocalStack, package_id: str) -> None:
    learner = Learner(stack, "tenant-a", f"learner-{uuid.uuid4().hex[:6]}")
    reporter, other = learner.enroll(), learner.enroll()
    bundle_id = learner.bundle(package_id)
    learner.wait_for(other, "bundle.added", bundle_id)

    container = learner.call("GET", f"/v1/bundles/{bundle_id}").json()["packages"][0]
    unproven = learner.call(
        "POST",
        f"/v1/devices/{reporter}/tamper-reports",
        json={"bundle_id": bundle_id, "kind": "container", "detail": "no evidence"},
    )
    assert unproven.status_code == 202
    report = learner.call(
        "POST",
        f"/v1/devices/{reporter}/tamper-reports",
        json={
            "bundle_id": bundle_id,
            "kind": "container",
            "detail": "segment tag failed",
            "evidence": {
                "object": "container",
                "package_id": container["package_id"],
                "version": container["version"],
                "expected_sha256": container["container"]["sha256"],
                "found_sha256": "0" * 64,
            },
        },
    )
    assert report.status_code == 202

    changes = learner.wait_for(other, "bundle.revoked", bundle_id, timeout=5)
    assert changes[-1]["reason"].startswith("tamper: container")
    assert learner.call("GET", f"/v1/bundles/{bundle_id}").json()["state"] == "revoked"


def test_a_tamper_report_without_evidence_revokes_nothing(stack: LocalStack, package_id: str) -> None:
    learner = Learner(stack, "tenant-a", f"learner-{uuid.uuid4().hex[:6]}")
    reporter = learner.enroll()
    bundle_id = learner.bundle(package_id)
    learner.wait_for(reporter, "bundle.added", bundle_id)
    claimed = learner.call(
        "POST",
        f"/v1/devices/{reporter}/tamper-reports",
        json={"bundle_id": bundle_id, "kind": "container", "detail": "trust me"},
    )
    assert claimed.status_code == 202
    # A later bundle's arrival in the same feed proves the report's stream row was processed.
    later = learner.bundle(package_id)
    learner.wait_for(reporter, "bundle.added", later)
    assert learner.call("GET", f"/v1/bundles/{bundle_id}").json()["state"] == "built"


def _feed_items(stack: LocalStack) -> list[tuple[str, str, str]]:
    """Every feed entry (with its body), claim and head (with their positions) in the table."""
    pages = boto3.client("dynamodb").get_paginator("scan").paginate(TableName=stack.endpoints.tables["Table"])
    items = [item for page in pages for item in page["Items"]]
    return sorted(
        (item["pk"]["S"], item["sk"]["S"], item["body"]["S"] if "body" in item else item["seq"]["N"])
        for item in items
        if item.get("entity", {}).get("S") in ("feed_entry", "feed_claim", "feed_head")
    )


def test_a_crash_mid_batch_and_a_redelivered_batch_lose_nothing_and_duplicate_nothing(
    stack: LocalStack, package_id: str, harness: FanOutHarness, bus_queue: str
) -> None:
    _published(bus_queue)
    learner = Learner(stack, "tenant-a", f"learner-{uuid.uuid4().hex[:6]}")
    devices = [learner.enroll() for _ in range(3)]
    # Let the enrolments be projected first, so the crash hits a batch of bundle creations.
    time.sleep(0.5)
    # The next batch with more than one record crashes after its first record was applied.
    harness.crash_next_after = 1
    bundles = [learner.bundle(package_id) for _ in range(4)]
    for bundle_id in bundles:
        for device in devices:
            learner.wait_for(device, "bundle.added", bundle_id)
    assert harness.crashes == 1

    for device in devices:
        added = [c["bundle_id"] for c in learner.changes(device)]
        assert sorted(added) == sorted(bundles), added
    published = [
        e["detail"]["data"]["bundle_id"]
        for e in _published(bus_queue)
        if e["detail-type"] == "content.bundle.created.v1"
    ]
    assert sorted(published) == sorted(bundles)

    before = _feed_items(stack)
    harness.redeliver_everything()
    assert _feed_items(stack) == before
    assert _published(bus_queue) == []


def test_an_overwritten_manifest_in_the_bucket_revokes_the_bundle(stack: LocalStack, package_id: str) -> None:
    learner = Learner(stack, "tenant-a", f"learner-{uuid.uuid4().hex[:6]}")
    device = learner.enroll()
    bundle_id = learner.bundle(package_id)
    learner.wait_for(device, "bundle.added", bundle_id)
    # The service's own writes (this bundle's manifest, the package's container) revoked nothing.
    time.sleep(1.0)
    assert learner.call("GET", f"/v1/bundles/{bundle_id}").json()["state"] == "built"

    manifest_key = learner.call("GET", f"/v1/bundles/{bundle_id}").json()["manifest_key"]
    bucket = stack.endpoints.buckets["BundlesBucket"]
    boto3.client("s3").put_object(Bucket=bucket, Key=manifest_key, Body=b"eyJhbGciOiJub25lIn0.e30.")

    changes = learner.wait_for(device, "bundle.revoked", bundle_id, timeout=10)
    assert "storage" in changes[-1]["reason"] and "ObjectCreated" in changes[-1]["reason"]


def test_a_licence_issue_reaches_that_devices_feed_only(stack: LocalStack, package_id: str) -> None:
    learner = Learner(stack, "tenant-a", f"learner-{uuid.uuid4().hex[:6]}")
    phone, laptop = learner.enroll(), learner.enroll()
    bundle_id = learner.bundle(package_id)
    issued = learner.call("POST", f"/v1/bundles/{bundle_id}/licenses", json={"device_id": phone})
    assert issued.status_code == 201, issued.text
    changes = learner.wait_for(phone, "licence.renewed", bundle_id, timeout=5)
    assert [c["type"] for c in changes].count("licence.renewed") == 1
    learner.wait_for(laptop, "bundle.added", bundle_id)
    assert all(c["type"] != "licence.renewed" for c in learner.changes(laptop))
