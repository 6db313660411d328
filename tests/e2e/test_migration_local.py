"""A residency migration on the local stack, end to end over HTTP.

The local stack is the ``eu`` zone's primary; the ``us`` zone's primary region (us-east-1) is a
table and three buckets in the same moto server, named in the template's ``MigrationTargets``
parameter as a deployment names them. An eu tenant's whole flow runs first (upload, build,
bundle, a device's download); then an admin starts a migration to ``us`` through the API and
the real migrate function (its SQS queue, polled by the local runner) copies, verifies,
switches, tells the devices and cleans up. While it runs a second device downloads the bundle
from the eu edge: no download fails. The first device, syncing in the grace period, is
re-pointed at the us endpoints; the other, syncing only after the clean-up, is re-pointed by
the old zone's 421 ``tenant-moved`` problem. At the end every object is in us with the same SHA-256, the
tenant's settings there name ``us`` and nothing of the tenant's objects is left in eu.

The crash test runs three tenants' migrations at once through the same function, each crashing at
a third of the checkpoints (at most three crashes per queued run, inside the queue's
maxReceiveCount of 5): every crashed run is redelivered by the queue and resumes from the saved
progress, and each migration ends ``done`` with everything moved and verified.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from content_service.adapters.entities import DynamoTenantSettings
from content_service.device.agent import DeviceAgent
from content_service.device.errors import Offline
from content_service.device.store import DeviceStore
from content_service.local.runner import RunnerSettings
from content_service.local.stack import LocalStack
from content_service.samples import sample_zip_bytes
from content_service.service.migration import Migrations
from tests.e2e.roles import LearnerWithCatalog, admin_client, author_client
from tests.e2e.uploads import upload_and_build

US = "us-east-1"
SUFFIX = uuid.uuid4().hex[:8]
TARGET_TABLE = f"content-service-us-{SUFFIX}"
TARGET_BUCKETS = {role: f"content-service-us-{role}-{SUFFIX}" for role in ("bundles", "packages", "exports")}
#: Where the us zone's API would be; a device told of the move points there (nothing answers).
US_ENDPOINTS = ["http://127.0.0.1:9/prod"]
GRACE_SECONDS = 5


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    targets = {
        "us": {
            "region": US,
            "table_name": TARGET_TABLE,
            "buckets": TARGET_BUCKETS,
            "api_endpoints": US_ENDPOINTS,
        }
    }
    with LocalStack(
        home=tmp_path_factory.mktemp("home"),
        # A crashed migration run is redelivered after 2 s, not the queue's 90 minutes.
        runner_settings=RunnerSettings(schedules_enabled=False, failed_visibility_timeout=2),
        parameters={"MigrationTargets": json.dumps(targets), "MigrationGraceSeconds": str(GRACE_SECONDS)},
    ) as running:
        endpoint = running.endpoints.endpoint_url
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name=US)
        for bucket in TARGET_BUCKETS.values():
            s3.create_bucket(Bucket=bucket)
        assert running.template is not None
        create = dict(running.template.tables["Table"].create_args)
        create.pop("StreamSpecification", None)
        boto3.client("dynamodb", endpoint_url=endpoint, region_name=US).create_table(
            **{**create, "TableName": TARGET_TABLE}
        )
        yield running


def _source_zone(stack: LocalStack) -> tuple[Any, dict[str, str]]:
    """The eu zone's S3 client and its buckets by role (as MigrationTargets names the target's)."""
    s3 = boto3.client("s3", endpoint_url=stack.endpoints.endpoint_url, region_name=stack.region)
    buckets = {
        "bundles": stack.endpoints.buckets["BundlesBucket"],
        "packages": stack.endpoints.buckets["PackagesBucket"],
        "exports": stack.endpoints.buckets["ExportsBucket"],
    }
    return s3, buckets


def _tenant_objects(s3: Any, buckets: dict[str, str], tenant: str) -> dict[tuple[str, str], str]:
    """(bucket role, key) → SHA-256 of every object of the tenant in ``buckets``."""
    found: dict[tuple[str, str], str] = {}
    for role, bucket in buckets.items():
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"tenants/{tenant}/"):
            for item in page.get("Contents", []):
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                found[(role, item["Key"])] = hashlib.sha256(body).hexdigest()
    return found


def test_a_tenant_migrates_to_another_zone_while_its_devices_keep_downloading(
    stack: LocalStack, tmp_path: Path
) -> None:
    # Given an eu tenant with a built package, a bundle and a device holding it
    tenant = f"tenant-mig-{uuid.uuid4().hex[:8]}"
    author = author_client(stack, tenant)
    package = upload_and_build(author, sample_zip_bytes("welcome"))
    learner = LearnerWithCatalog(stack, tenant)
    bundle_id = learner.create_bundle([{"package_id": package["package_id"]}], uuid.uuid4().hex, "eu")[
        "bundle_id"
    ]
    first = DeviceAgent(DeviceStore(tmp_path / "first").ensure(), session=requests.Session())
    first.enroll(learner, "phone")
    first.fetch_licence(bundle_id)
    first.download(bundle_id)
    second = DeviceAgent(DeviceStore(tmp_path / "second").ensure(), session=requests.Session())
    second.enroll(learner, "tablet")
    second.fetch_licence(bundle_id)

    endpoint = stack.endpoints.endpoint_url
    source_s3, source_buckets = _source_zone(stack)
    before = _tenant_objects(source_s3, source_buckets, tenant)
    assert any(role == "bundles" for role, _ in before) and any(role == "packages" for role, _ in before)

    # When an admin starts a migration to us, and the second device downloads while it runs
    admin = admin_client(stack, tenant)
    started = admin._request(
        "POST",
        "/v1/tenant/migrations",
        json={"target_zone": "us"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert started.status_code == 202, started.text
    location = f"/v1/tenant/migrations/{started.json()['migration_id']}"
    assert started.headers["Location"].endswith(location)
    downloaded: list[BaseException | None] = []

    def download() -> None:
        try:
            second.download(bundle_id)
            second.mount(bundle_id).close()
            downloaded.append(None)
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            downloaded.append(error)

    during = threading.Thread(target=download)
    during.start()
    states: list[str] = []
    repointed = False
    deadline = time.monotonic() + 180
    while (view := admin._request("GET", location).json())["state"] != "done":
        assert view["state"] != "failed", view
        assert time.monotonic() < deadline, f"the migration never finished: {view}"
        if not states or states[-1] != view["state"]:
            states.append(view["state"])
        if view["notified_at"] and not repointed:
            # In the grace period the eu zone still serves the device, whose feed tells it of the
            # move; the sync then goes on at the us endpoints, where nothing answers locally.
            with contextlib.suppress(Offline):
                first.sync_once()
            repointed = first.parts.state.read()["api_endpoints"] == US_ENDPOINTS
        time.sleep(0.2)
    during.join(timeout=120)

    # Then the download during the migration verified and mounted
    assert downloaded == [None], downloaded
    # And every object is in us with the same bytes, counted and verified by the migration
    target_s3 = boto3.client("s3", endpoint_url=endpoint, region_name=US)
    assert _tenant_objects(target_s3, TARGET_BUCKETS, tenant) == before
    assert view["progress"]["objects_total"] == view["progress"]["objects_verified"] == len(before)
    # And the tenant's settings in us name us; nothing of its objects is left in eu
    settings = DynamoTenantSettings(TARGET_TABLE, US).get(tenant)
    assert settings is not None and settings.zone == "us"
    assert _tenant_objects(source_s3, source_buckets, tenant) == {}
    # And the first device, syncing in the grace period, was re-pointed at the us zone's API
    assert repointed, states
    assert {"switched", "cleaning"} & set(states), states
    # And the second device, which did not sync before the clean-up, finds its device unknown in
    # eu, and eu's 421 (the tenant's settings stay, naming us) re-points it at the us API
    assert second.parts.state.read()["api_endpoints"] != US_ENDPOINTS
    with contextlib.suppress(Offline):
        second.sync_once()
    assert second.parts.state.read()["api_endpoints"] == US_ENDPOINTS


#: Each tenant's run crashes once at each of its checkpoints; together they cover every step.
CRASH_POINTS = (
    ("copy:saved", "copy:worked", "verify:saved"),
    ("switch:saved", "notify:caught-up", "notify:worked"),
    ("notify:saved", "clean:worked", "clean:saved"),
)


class Crash(RuntimeError):
    """The migrate function dies at a checkpoint (as a timeout or an out-of-memory kill would)."""


def test_migrations_crashed_at_every_checkpoint_resume_on_the_local_stack_to_done(
    stack: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given three eu tenants, each with a built package, a bundle and a device
    tenants = [f"tenant-crash{i}-{uuid.uuid4().hex[:6]}" for i in range(len(CRASH_POINTS))]
    for index, tenant in enumerate(tenants):
        package = upload_and_build(author_client(stack, tenant), sample_zip_bytes("welcome"))
        learner = LearnerWithCatalog(stack, tenant)
        bundle_id = learner.create_bundle([{"package_id": package["package_id"]}], uuid.uuid4().hex, "eu")[
            "bundle_id"
        ]
        device = DeviceAgent(DeviceStore(tmp_path / f"device{index}").ensure(), session=requests.Session())
        device.enroll(learner, "phone")
        device.fetch_licence(bundle_id)
    endpoint = stack.endpoints.endpoint_url
    source_s3, source_buckets = _source_zone(stack)
    before = {tenant: _tenant_objects(source_s3, source_buckets, tenant) for tenant in tenants}

    # And a migrate function that crashes once at each of a tenant's checkpoints
    crashed: dict[str, list[str]] = {tenant: [] for tenant in tenants}
    lock = threading.Lock()
    original_run = Migrations.run

    running = threading.local()  # the tenant whose run this poller thread is in

    def fault(point: str) -> None:
        tenant_id = getattr(running, "tenant_id", None)
        if tenant_id not in crashed:
            return
        with lock:
            if point in CRASH_POINTS[tenants.index(tenant_id)] and point not in crashed[tenant_id]:
                crashed[tenant_id].append(point)
                raise Crash(f"crashed at {point}")

    def crashing_run(self: Migrations, tenant_id: str, migration_id: str, **kwargs: Any) -> Any:
        # One worker serves every poller thread: its fault finds the run's tenant thread-locally.
        running.tenant_id, self.fault = tenant_id, fault
        return original_run(self, tenant_id, migration_id, **kwargs)

    monkeypatch.setattr(Migrations, "run", crashing_run)

    # When an admin of each starts a migration to us
    locations = {}
    for tenant in tenants:
        started = admin_client(stack, tenant)._request(
            "POST",
            "/v1/tenant/migrations",
            json={"target_zone": "us"},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert started.status_code == 202, started.text
        locations[tenant] = f"/v1/tenant/migrations/{started.json()['migration_id']}"

    # Then each ends done, after a crash at each of its checkpoints
    views: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 240
    while len(views) < len(tenants):
        assert time.monotonic() < deadline, f"migrations never finished: {crashed}"
        for tenant in set(tenants) - set(views):
            view = admin_client(stack, tenant)._request("GET", locations[tenant]).json()
            assert view["state"] != "failed", view
            if view["state"] == "done":
                views[tenant] = view
        time.sleep(0.5)
    assert {tenant: set(points) for tenant, points in crashed.items()} == {
        tenant: set(points) for tenant, points in zip(tenants, CRASH_POINTS, strict=True)
    }
    # And for each, every object is in us with its bytes, verified, and none is left in eu
    target_s3 = boto3.client("s3", endpoint_url=endpoint, region_name=US)
    for tenant in tenants:
        assert _tenant_objects(target_s3, TARGET_BUCKETS, tenant) == before[tenant]
        progress = views[tenant]["progress"]
        assert progress["objects_total"] == progress["objects_verified"] == len(before[tenant])
        assert _tenant_objects(source_s3, source_buckets, tenant) == {}
        settings = DynamoTenantSettings(TARGET_TABLE, US).get(tenant)
        assert settings is not None and settings.zone == "us"
