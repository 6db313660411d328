"""Revocation reaches every holding device and unmounts it, on the local stack, through the real agent.

Two devices of one learner download and license a bundle. Revoking it through the API, or one
device reporting it tampered (the tenant policy revokes on tamper by default), makes each
device's next sync remove it (licence, keys and ciphertext) and refuse to mount it. A revoked
device removes everything it holds. The syncs are called directly, polled for a few seconds at
most while the stream carries the event to the projection.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from content_service.client import ApiClient
from content_service.device.agent import DeviceAgent
from content_service.device.errors import DeviceError, StatusForged, TamperDetected
from content_service.device.store import DeviceStore
from content_service.local.runner import RunnerSettings
from content_service.local.stack import LocalStack
from content_service.samples import sample_zip_bytes
from tests.e2e.roles import LearnerWithCatalog, author_client
from tests.e2e.uploads import upload_and_build

TENANT = "tenant-a"
#: How long a device polls its sync for a change the stream is still carrying.
PROPAGATION = 15.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(
        home=tmp_path_factory.mktemp("home"),
        runner_settings=RunnerSettings(schedules_enabled=False, stream_poll_interval=0.05),
        write_state_file=False,
    ) as running:
        yield running


@pytest.fixture(scope="module")
def package_id(stack: LocalStack) -> str:
    author = author_client(stack, TENANT)
    package = upload_and_build(author, sample_zip_bytes("welcome"))
    return str(package["package_id"])


@pytest.fixture
def learner(stack: LocalStack) -> ApiClient:
    return LearnerWithCatalog(stack, TENANT)


def holding_device(home: Path, learner: ApiClient, bundle_id: str) -> DeviceAgent:
    agent = DeviceAgent(DeviceStore(home).ensure(), session=requests.Session())
    agent.enroll(learner, home.name)
    agent.fetch_licence(bundle_id)
    agent.download(bundle_id)
    agent.mount(bundle_id).close()
    return agent


def sync_until_removed(
    agent: DeviceAgent, bundle_id: str, timeout: float = PROPAGATION, seen: list[Any] | None = None
) -> float:
    """Sync (directly, every 0.1 s) until the bundle is gone; returns the seconds it took."""
    started = time.monotonic()
    while agent.store.bundle(bundle_id).root.exists():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{bundle_id} still on {agent.device_id} after {timeout:.0f} s")
        changes = agent.sync_once().changes
        if seen is not None:
            seen.extend(changes)
        if agent.store.bundle(bundle_id).root.exists():
            time.sleep(0.1)
    return time.monotonic() - started


@pytest.fixture
def two_devices(tmp_path: Path, learner: ApiClient, package_id: str) -> tuple[str, DeviceAgent, DeviceAgent]:
    bundle_id = learner.create_bundle([{"package_id": package_id}], uuid.uuid4().hex)["bundle_id"]
    phone = holding_device(tmp_path / "phone", learner, bundle_id)
    laptop = holding_device(tmp_path / "laptop", learner, bundle_id)
    return bundle_id, phone, laptop


def assert_removed(agent: DeviceAgent, bundle_id: str) -> None:
    assert not agent.store.bundle(bundle_id).root.exists(), "licence, keys and ciphertext are deleted"
    with pytest.raises(DeviceError):
        agent.mount(bundle_id)


def test_a_revoked_bundle_is_removed_from_every_holding_device(
    learner: ApiClient, two_devices: tuple[str, DeviceAgent, DeviceAgent]
) -> None:
    bundle_id, phone, laptop = two_devices
    mounted = phone.mount(bundle_id)
    learner.revoke_bundle(bundle_id, "withdrawn")
    seen: list[Any] = []
    for device in (phone, laptop):
        assert sync_until_removed(device, bundle_id, seen=seen if device is phone else None) < PROPAGATION
        assert_removed(device, bundle_id)
    assert mounted.closed, "a mounted bundle is unmounted by the sync that removes it"
    # The status can list the revocation before the feed entry reaches this device's feed; once
    # the entry has been applied, it is acknowledged: the next sync replays nothing.
    deadline = time.monotonic() + PROPAGATION
    while not any(c.type == "bundle.revoked" and c.bundle_id == bundle_id for c in seen):
        assert time.monotonic() < deadline, "the bundle.revoked entry never reached the feed"
        seen.extend(phone.sync_once().changes)
        time.sleep(0.1)
    assert phone.sync_once().changes == []


def test_a_tamper_report_from_one_device_removes_the_bundle_from_the_other(
    learner: ApiClient, two_devices: tuple[str, DeviceAgent, DeviceAgent]
) -> None:
    bundle_id, phone, laptop = two_devices
    container = next(phone.store.bundle(bundle_id).root.glob("*.cspc"))
    data = bytearray(container.read_bytes())
    data[len(data) // 2] ^= 0xFF
    container.write_bytes(bytes(data))
    with pytest.raises(TamperDetected):
        phone.mount(bundle_id)
    # The report went out at once (online): nothing is left queued.
    assert phone.outbox.pending("tamper") == [] and len(phone.outbox.sent("tamper")) == 1
    sync_until_removed(laptop, bundle_id)
    assert_removed(laptop, bundle_id)
    assert learner.get_bundle(bundle_id)["state"] == "revoked"
    sync_until_removed(phone, bundle_id)
    assert_removed(phone, bundle_id)


def test_a_revoked_device_removes_every_bundle(
    learner: ApiClient, package_id: str, two_devices: tuple[str, DeviceAgent, DeviceAgent]
) -> None:
    bundle_id, phone, laptop = two_devices
    second = learner.create_bundle([{"package_id": package_id}], uuid.uuid4().hex)["bundle_id"]
    phone.fetch_licence(second)
    phone.download(second)
    learner.revoke_device(phone.device_id, "lost")
    result: Any = phone.sync_once()
    assert result.device_state == "revoked"
    assert phone.store.bundle_ids() == []
    for held in (bundle_id, second):
        assert_removed(phone, held)
    # The other device of the learner keeps its bundle.
    laptop.sync_once()
    assert laptop.store.bundle(bundle_id).root.exists()


class ForgingSession(requests.Session):
    """A man in the middle who alters the signed status of every sync answer."""

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        response = super().request(method, url, *args, **kwargs)
        if "/sync" in str(url) and response.status_code == 200:
            body = response.json()
            header, payload, signature = body["status"].split(".")
            body["status"] = f"{header}.{payload[:-2]}AA.{signature}"
            response._content = json.dumps(body).encode()
        return response


def test_a_forged_status_is_signalled_to_the_service_and_revokes_nothing(
    learner: ApiClient, two_devices: tuple[str, DeviceAgent, DeviceAgent]
) -> None:
    bundle_id, phone, _ = two_devices
    phone.session = ForgingSession()
    with pytest.raises(StatusForged):
        phone.sync_once()
    [signal] = phone.outbox.sent("signal")
    assert signal.body["type"] == "device.status_forged" and signal.receipt == {"accepted": True}
    assert phone.outbox.sent("tamper") == [] and phone.outbox.pending("tamper") == []
    assert learner.get_bundle(bundle_id)["state"] == "built"
    phone.session = requests.Session()
    assert bundle_id not in [c.bundle_id for c in phone.sync_once().changes if c.removed]


def test_the_service_key_set_is_signed_by_a_key_the_device_pinned(
    two_devices: tuple[str, DeviceAgent, DeviceAgent],
) -> None:
    _, phone, _ = two_devices
    pinned = phone.record.jwks
    assert phone.refresh_jwks() == []
    assert phone.record.jwks == pinned and phone.record.tenant_id == TENANT
