"""Licence renewal on the device: the window, back-off with jitter, feed announcements, refusals (fake clock)."""

from __future__ import annotations

from pathlib import Path

import pytest

from content_service.device.agent import DeviceAgent
from content_service.device.errors import DeviceError
from content_service.device.renewals import RenewalPolicy
from tests.unit.device.conftest import DAY, Airplane, FakeTime, enroll, make_agent
from tests.unit.device.fake_service import FakeService


def _licensed(
    home: Path, fake_time: FakeTime, service: FakeService, bundle_id: str, **kwargs: object
) -> DeviceAgent:
    agent = enroll(home, fake_time, service, **kwargs)
    agent.download(bundle_id)
    agent.fetch_licence(bundle_id)
    return agent


def test_the_default_window_is_half_the_validity_and_the_jitter_keeps_half_the_delay() -> None:
    policy = RenewalPolicy()
    assert policy.due_at({"nbf": 1000, "exp": 1000 + 7 * 86400}) == 1000 + 3.5 * 86400
    assert RenewalPolicy(window=3600).due_at({"nbf": 1000, "exp": 90_000}) == 90_000 - 3600
    assert [policy.delay(n, lambda: 0.0) for n in (1, 2, 3)] == [30.0, 60.0, 120.0]
    assert [policy.delay(n, lambda: 1.0) for n in (1, 2, 3)] == [60.0, 120.0, 240.0]
    assert policy.delay(20, lambda: 1.0) == policy.max_delay
    for bad in ({"window": 0}, {"base_delay": 0}, {"base_delay": 10, "max_delay": 5}):
        with pytest.raises(ValueError):
            RenewalPolicy(**bad)  # type: ignore[arg-type]


def test_a_licence_is_renewed_once_in_its_window_and_not_before(
    ready: DeviceAgent, bundle_id: str, fake_time: FakeTime
) -> None:
    first = ready.parts.licences.load(bundle_id)
    fake_time.advance(3.4 * DAY)
    assert ready.renew_licences() == []
    fake_time.advance(0.2 * DAY)
    [outcome] = ready.renew_licences()
    assert (outcome.bundle_id, outcome.outcome) == (bundle_id, "renewed")
    renewed = ready.parts.licences.load(bundle_id)
    assert renewed["jti"] != first["jti"] and renewed["exp"] > first["exp"]
    # The new licence starts a new window: nothing is due now.
    assert ready.renew_licences() == []


def test_a_renewal_window_setting_moves_the_renewal(
    tmp_path: Path, fake_time: FakeTime, service: FakeService, bundle_id: str
) -> None:
    agent = _licensed(tmp_path / "d", fake_time, service, bundle_id, renewal=RenewalPolicy(window=DAY))
    fake_time.advance(5.9 * DAY)
    assert agent.renew_licences() == []
    fake_time.advance(0.2 * DAY)
    assert [o.outcome for o in agent.renew_licences()] == ["renewed"]


def test_failed_renewals_back_off_exponentially_with_jitter_then_succeed(
    tmp_path: Path, fake_time: FakeTime, service: FakeService, bundle_id: str
) -> None:
    agent = _licensed(tmp_path / "d", fake_time, service, bundle_id, renewal_draw=lambda: 0.5)
    fake_time.advance(4 * DAY)
    service.fail_licences_with = 503
    waits = []
    for _ in range(4):
        [outcome] = agent.renew_licences()
        assert outcome.outcome == "failed" and "503" in outcome.detail and outcome.retry_at is not None
        wait = outcome.retry_at - agent.clock.now()
        waits.append(round(wait))
        # Within the back-off nothing is tried: the service sees no request.
        fake_time.advance(wait - 1)
        assert agent.renew_licences() == []
        fake_time.advance(1)
    assert waits == [45, 90, 180, 360]
    service.fail_licences_with = None
    assert [o.outcome for o in agent.renew_licences()] == ["renewed"]
    assert agent.renew_licences() == []


def test_the_same_licence_back_is_not_taken_for_a_renewal(
    ready: DeviceAgent, bundle_id: str, fake_time: FakeTime
) -> None:
    fake_time.advance(4 * DAY)
    ready.parts.renewals._renew = ready.parts.licences.load  # the service answering with the licence held
    [outcome] = ready.renew_licences()
    assert outcome.outcome == "unchanged" and outcome.retry_at is not None
    assert ready.renew_licences() == []


def test_a_licence_renewed_in_the_feed_is_fetched_at_once(
    ready: DeviceAgent, bundle_id: str, service: FakeService
) -> None:
    ready.sync_once()
    before = ready.parts.licences.load(bundle_id)["jti"]
    service._append(ready.device_id, "licence.renewed", bundle_id)
    result = ready.sync_once()
    assert [(o.bundle_id, o.outcome) for o in result.renewals] == [(bundle_id, "renewed")]
    assert ready.parts.licences.load(bundle_id)["jti"] != before
    # An announcement for a bundle this device does not hold is ignored.
    service._append(ready.device_id, "licence.renewed", "bnd_notheld")
    assert ready.sync_once().renewals == []


def test_a_renewal_refused_because_the_bundle_was_revoked_unmounts_and_removes_it(
    ready: DeviceAgent, bundle_id: str, service: FakeService, fake_time: FakeTime
) -> None:
    mounted = ready.mount(bundle_id)
    fake_time.advance(4 * DAY)
    service.bundles[bundle_id].revoked = True  # the feed has not told this device yet
    [outcome] = ready.renew_licences()
    assert outcome.outcome == "refused"
    assert mounted.closed
    assert not ready.store.bundle(bundle_id).root.exists()
    with pytest.raises(DeviceError):
        ready.mount(bundle_id)


def test_a_renewal_refused_because_the_device_was_revoked_unmounts_everything(
    ready: DeviceAgent, bundle_id: str, service: FakeService, fake_time: FakeTime
) -> None:
    mounted = ready.mount(bundle_id)
    fake_time.advance(4 * DAY)
    service.devices[ready.device_id]["state"] = "revoked"
    assert [o.outcome for o in ready.renew_licences()] == ["refused"]
    assert mounted.closed and not ready.store.bundle(bundle_id).root.exists()


def test_a_renewed_licence_keeps_the_bundle_open_offline_past_the_old_grace(
    ready: DeviceAgent, bundle_id: str, fake_time: FakeTime
) -> None:
    old = ready.parts.licences.load(bundle_id)
    fake_time.advance(4 * DAY)
    assert [o.outcome for o in ready.sync_once().renewals] == ["renewed"]
    ready.clock.checkpoint()
    offline = make_agent(ready.store.home, fake_time, session=Airplane())
    fake_time.advance(int(old["exp"]) + int(old["offline_grace"]) - fake_time.time() + 3600)
    with offline.mount(bundle_id) as mounted:
        assert mounted.read("pkg_welcome", "index.html").startswith(b"<!doctype html>")


def test_a_tampered_stored_licence_is_not_renewed_and_not_reported_on_every_sync(
    ready: DeviceAgent, bundle_id: str, fake_time: FakeTime, service: FakeService
) -> None:
    licence = ready.store.bundle(bundle_id).licence
    token = licence.read_text("ascii")
    licence.write_text(token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"), "ascii")
    fake_time.advance(4 * DAY)
    assert ready.renew_licences() == []
    ready.sync_once()
    assert ready.outbox.pending("tamper") == [] and ready.outbox.sent("tamper") == []
    assert service.tamper_reports == []
