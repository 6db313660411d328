"""White-label branding end to end on the local stack, through the real agent.

An admin sets the tenant's branding; a learner's device syncs (its signed status names the new
branding revision), fetches and verifies the overlay, and its launcher serves the entry page with
the brand's stylesheet. The package's content hash, the bundle manifest and the containers on the
device are what they were: changing the branding re-seals nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from content_service.client import put_upload
from content_service.device.agent import DeviceAgent
from content_service.device.store import DeviceStore
from content_service.local.runner import RunnerSettings
from content_service.local.stack import LocalStack
from content_service.samples import sample_zip_bytes
from tests.e2e.roles import LearnerWithCatalog, admin_client, author_client

TENANT = "tenant-brand"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(
        home=tmp_path_factory.mktemp("home"),
        runner_settings=RunnerSettings(schedules_enabled=False, stream_poll_interval=0.05),
        write_state_file=False,
    ) as running:
        yield running


def test_admin_branding_reaches_the_device_launch_and_changes_no_content_hash(
    stack: LocalStack, tmp_path: Path
) -> None:
    author = author_client(stack, TENANT)
    data = sample_zip_bytes("welcome")
    created = author.create_upload(len(data))
    put_upload(created["upload"], data)
    package = author.wait_until_settled(created["package"]["package_id"], 1, timeout=60, interval=0.1)
    assert package["state"] == "built", package
    manifest = author.get_manifest(package["package_id"])["manifest"]
    entry = manifest["launches"][0]["href"]

    learner = LearnerWithCatalog(stack, TENANT)
    bundle_id = learner.create_bundle([{"package_id": package["package_id"]}], uuid.uuid4().hex)["bundle_id"]
    agent = DeviceAgent(DeviceStore(tmp_path / "tablet").ensure(), session=requests.Session())
    agent.enroll(learner, "tablet")
    agent.fetch_licence(bundle_id)
    agent.download(bundle_id)
    unbranded = agent.launch(bundle_id, package["package_id"], entry)
    assert unbranded.branding.branding is None
    files = agent.store.bundle(bundle_id)
    held = {p.name: p.read_bytes() for p in files.root.iterdir() if p.is_file() and p.name != "licence.jws"}

    admin = admin_client(stack, TENANT)
    branding = {"name": "Acme", "primary_colour": "#0a5cff", "css_properties": {"--brand-radius": "4px"}}
    admin._request("PATCH", "/v1/tenant/settings", json={"branding": branding})
    agent.sync_once()
    branded = agent.launch(bundle_id, package["package_id"], entry)
    assert branded.branding.branding is not None and branded.branding.branding.name == "Acme"
    assert b"--brand-primary: #0a5cff;" in branded.page and b"--brand-radius: 4px;" in branded.page
    assert branded.content_sha256 == unbranded.content_sha256

    # Nothing was re-sealed: the package's content hash and the bundle's files are as they were.
    assert author.get_manifest(package["package_id"])["manifest"]["content_hash"] == manifest["content_hash"]
    assert {p.name: p.read_bytes() for p in files.root.iterdir() if p.is_file() and p.name != "licence.jws"} == held
    assert learner.get_bundle(bundle_id)["packages"][0]["content_hash"] == package["content_hash"]
