"""A device's signal is counted and logged; only the device's owner may raise one; it revokes nothing."""

from __future__ import annotations

import pytest

from content_service.crypto.licence import device_public_jwk, generate_device_key
from content_service.domain.errors import NotFound
from content_service.domain.principal import Principal
from content_service.service.device_signals import record_signal
from content_service.service.devices import enroll_device
from tests.fakes import FakeClock, FakeDeviceRepository


class CountingMetrics:
    def __init__(self) -> None:
        self.counts: dict[str, float] = {}

    def count(self, name: str, value: float = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + value

    def seconds(self, name: str, value: float) -> None:
        raise AssertionError("a signal is a count")


@pytest.fixture
def device_and_repo() -> tuple[str, FakeDeviceRepository]:
    devices = FakeDeviceRepository()
    device = enroll_device(
        "t1",
        "learner",
        device_public_jwk(generate_device_key()),
        "tablet",
        devices=devices,
        clock=FakeClock(),
        device_cap=3,
    )
    return device.device_id, devices


def test_a_status_forged_signal_from_the_owner_is_counted(
    device_and_repo: tuple[str, FakeDeviceRepository],
) -> None:
    device_id, devices = device_and_repo
    metrics = CountingMetrics()
    record_signal(
        Principal.user("t1", "learner"),
        device_id,
        "device.status_forged",
        "status: bad signature",
        devices=devices,
        metrics=metrics,
    )
    assert metrics.counts == {"DeviceStatusForged": 1}


def test_a_branding_refused_signal_is_counted_on_its_own_metric(
    device_and_repo: tuple[str, FakeDeviceRepository],
) -> None:
    device_id, devices = device_and_repo
    metrics = CountingMetrics()
    record_signal(
        Principal.user("t1", "learner"),
        device_id,
        "device.branding_refused",
        "stored overlay: bad signature",
        devices=devices,
        metrics=metrics,
    )
    assert metrics.counts == {"DeviceBrandingRefused": 1}


@pytest.mark.parametrize(("tenant", "user"), [("t1", "someone-else"), ("t2", "learner")])
def test_another_users_or_tenants_device_is_not_found_and_nothing_is_counted(
    device_and_repo: tuple[str, FakeDeviceRepository], tenant: str, user: str
) -> None:
    device_id, devices = device_and_repo
    metrics = CountingMetrics()
    with pytest.raises(NotFound):
        record_signal(
            Principal.user(tenant, user),
            device_id,
            "device.status_forged",
            "",
            devices=devices,
            metrics=metrics,
        )
    assert metrics.counts == {}
