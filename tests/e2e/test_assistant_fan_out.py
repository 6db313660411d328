"""The approval of an assistant config reaches devices on the local stack: per bundle, and late bundles too.

The real API, fan_out behind the table stream, the assistant function behind its queue, and the
reference device agent.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from rich.console import Console

from content_service.cli.assistant_demo import generate_and_approve
from content_service.client import ApiClient
from content_service.device.agent import DeviceAgent
from content_service.device.assistant import read_assistant
from content_service.device.store import DeviceStore
from content_service.local.runner import RunnerSettings
from content_service.local.stack import LocalStack
from content_service.samples import sample_zip_bytes
from tests.e2e.uploads import upload_and_build

TENANT = "tenant-assist"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(
        home=tmp_path_factory.mktemp("home"), runner_settings=RunnerSettings(schedules_enabled=False)
    ) as running:
        yield running


def _built(stack: LocalStack) -> dict:
    author = ApiClient(stack.api_url, stack.mint_token(TENANT, "author-1", roles=["author"]))
    return upload_and_build(author, sample_zip_bytes("welcome"))


def test_a_device_holding_two_bundles_of_the_version_hears_of_the_approval_for_each(stack, tmp_path: Path):
    package = _built(stack)
    catalog = ApiClient(stack.api_url, stack.mint_service_token(TENANT, "catalog", ["catalog"]))
    learner = ApiClient(stack.api_url, stack.mint_token(TENANT, "learner-1"))
    admin = ApiClient(stack.api_url, stack.mint_token(TENANT, "admin-1", roles=["admin"]))
    agent = DeviceAgent(DeviceStore(tmp_path / "device").ensure(), session=requests.Session())
    agent.enroll(learner, "tablet")
    bundles = [
        catalog.create_bundle([{"package_id": package["package_id"]}], uuid.uuid4().hex, user_id="learner-1")[
            "bundle_id"
        ]
        for _ in range(2)
    ]
    for bundle_id in bundles:
        agent.download(bundle_id)
        agent.fetch_licence(bundle_id)
    agent.sync_once()

    approved = generate_and_approve(Console(file=io.StringIO()), admin, package)

    told: set[str] = set()
    deadline = time.monotonic() + 60
    while told != set(bundles) and time.monotonic() < deadline:
        told |= {c.bundle_id for c in agent.sync_once().changes if c.type == "assistant_config.approved"}
        time.sleep(0.2)
    assert told == set(bundles)
    for bundle_id in bundles:
        assert read_assistant(agent, bundle_id, package["package_id"])["claims"]["config_id"] == approved["config_id"]

    # A bundle created after the approval gets no feed entry for it; its download brings the overlay.
    late = catalog.create_bundle([{"package_id": package["package_id"]}], uuid.uuid4().hex, user_id="learner-1")
    second = DeviceAgent(DeviceStore(tmp_path / "second").ensure(), session=requests.Session())
    second.enroll(learner, "phone")
    second.download(late["bundle_id"])
    found = read_assistant(second, late["bundle_id"], package["package_id"])
    assert found["claims"]["config_id"] == approved["config_id"]
