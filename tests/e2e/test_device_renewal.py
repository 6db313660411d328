"""Licence renewal on the local stack: the device renews its licence before expiry, then stays usable offline.

Four days pass on both sides (the device's clocks, and the service's clock, moved in process),
so the licence is past half its validity: the service answers ``POST /v1/bundles/{id}/licenses``
with a fresh licence, which the device takes on its next sync. Then the device goes offline and
opens the bundle past the *first* licence's expiry and offline grace, under the renewed one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from content_service.bootstrap import SystemClock
from content_service.device.agent import DeviceAgent
from content_service.device.errors import Offline
from content_service.domain.licence import LicenceExpired
from tests.e2e.test_device_offline import (  # noqa: F401 - the module's fixtures, reused.
    DAY,
    Airplane,
    DeviceTime,
    bundle,
    device,
    device_time,
    learner,
    new_agent,
    package,
    source_files,
    stack,
)


def _service_days_later(monkeypatch: pytest.MonkeyPatch, days: float) -> None:
    """Move the service's clock (its ``SystemClock``, in this process) forward by ``days``."""
    real = SystemClock.now

    def later(self: SystemClock) -> datetime:
        return real(self) + timedelta(days=days)

    monkeypatch.setattr(SystemClock, "now", later)


def test_a_licence_is_renewed_before_expiry_and_the_device_stays_usable_offline_afterwards(
    device: DeviceAgent,  # noqa: F811 - the fixtures imported above
    bundle: dict[str, Any],  # noqa: F811
    device_time: DeviceTime,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bundle_id = bundle["bundle_id"]
    package_id = bundle["packages"][0]["package_id"]
    device.sync_once()
    first = device.parts.licences.load(bundle_id)
    # Three days in: not yet in the renewal window (half of the 7-day validity), nothing is asked.
    device_time.advance(3 * DAY)
    _service_days_later(monkeypatch, 3)
    assert device.sync_once().renewals == []
    # Four days in: the sync renews it; the service, past half the validity, issues a new licence.
    device_time.advance(1 * DAY)
    monkeypatch.undo()
    _service_days_later(monkeypatch, 4)
    [outcome] = device.sync_once().renewals
    assert (outcome.bundle_id, outcome.outcome) == (bundle_id, "renewed")
    renewed = device.parts.licences.load(bundle_id)
    assert renewed["jti"] != first["jti"]
    assert int(renewed["exp"]) >= int(first["exp"]) + 4 * DAY - 60
    device.clock.checkpoint()
    # Offline from now on, past the first licence's expiry and grace: the renewed licence opens.
    offline = new_agent(device.store.home, device_time)
    offline.session = Airplane()
    device_time.advance(int(first["exp"]) + int(first["offline_grace"]) - device_time.time() + 3600)
    with offline.mount(bundle_id) as mounted:
        assert mounted.read(package_id, "index.html") == source_files()["index.html"]
    # Offline, renewal fails and backs off; past the renewed licence's grace the bundle is refused.
    [attempt] = offline.renew_licences()
    assert attempt.outcome == "failed" and Offline.__name__ in attempt.detail
    device_time.advance(int(renewed["exp"]) + int(renewed["offline_grace"]) - device_time.time() + 60)
    with pytest.raises(LicenceExpired):
        offline.mount(bundle_id)
