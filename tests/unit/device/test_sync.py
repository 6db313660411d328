"""The device's sync against the fake service: paging, revocation removes files, crash-safe acks, tamper."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest
import requests

from content_service.client import ApiError
from content_service.device.agent import DeviceAgent
from content_service.device.errors import DeviceError, LicenceRevoked, Offline, StatusForged
from content_service.device.sync import Syncer, SyncLoop
from tests.unit.device.conftest import DAY, Airplane, FakeTime, enroll, make_agent
from tests.unit.device.fake_service import FakeService


def _files(agent: DeviceAgent, bundle_id: str) -> list[str]:
    root = agent.store.bundle(bundle_id).root
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_the_feed_is_read_page_by_page_and_the_cursor_is_persisted(
    agent: DeviceAgent, service: FakeService, fake_time: FakeTime
) -> None:
    added = [service.add_bundle({"pkg": {"a.txt": b"x"}}) for _ in range(5)]
    result = agent.parts.syncer.sync_once(limit=2)
    assert result.pages == 3
    assert [c.bundle_id for c in result.changes] == added
    assert [c.seq for c in result.changes] == [1, 2, 3, 4, 5]
    state = agent.sync_state()
    assert state.last_seq == 5 and state.cursor and sorted(state.available) == sorted(added)
    # The second sync starts from the stored cursor: nothing is replayed.
    again = agent.sync_once()
    assert again.changes == [] and service.sync_requests[-1]["cursor"] == state.cursor
    # The cursor survives a restart: a new agent on the same directory carries on from it.
    service.add_bundle({"pkg": {"b.txt": b"y"}})
    restarted = make_agent(agent.store.home, fake_time)
    assert [c.seq for c in restarted.sync_once().changes] == [6]


def test_a_revoked_bundle_is_unmounted_and_its_licence_and_ciphertext_deleted(
    ready: DeviceAgent, bundle_id: str, service: FakeService
) -> None:
    ready.sync_once()
    mounted = ready.mount(bundle_id)
    assert _files(ready, bundle_id)
    service.revoke_bundle(bundle_id)
    result = ready.sync_once()
    assert result.removed == [bundle_id]
    assert [(c.type, c.removed) for c in result.changes] == [("bundle.revoked", True)]
    assert mounted.closed
    assert not ready.store.bundle(bundle_id).root.exists()
    assert bundle_id not in ready.sync_state().available
    with pytest.raises(DeviceError):
        ready.mount(bundle_id)


def test_a_crash_between_removal_and_acknowledgement_replays_the_page_harmlessly(
    ready: DeviceAgent, bundle_id: str, service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready.sync_once()
    acked = ready.sync_state()
    service.revoke_bundle(bundle_id)

    def crash(self: Syncer, *args: object) -> None:
        raise OSError("power cut before the cursor was written")

    monkeypatch.setattr(Syncer, "_acknowledge", crash)
    with pytest.raises(OSError):
        ready.sync_once()
    monkeypatch.undo()
    # The bundle is gone but the revocation is not acknowledged: the cursor did not move.
    assert not ready.store.bundle(bundle_id).root.exists()
    assert ready.sync_state().cursor == acked.cursor
    replay = ready.sync_once()
    assert [c.type for c in replay.changes] == ["bundle.revoked"] and replay.removed == []
    assert ready.sync_state().last_seq == acked.last_seq + 1


def test_a_failed_removal_is_not_acknowledged_and_is_retried(
    ready: DeviceAgent, bundle_id: str, service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready.sync_once()
    before = ready.sync_state().cursor
    service.revoke_bundle(bundle_id)
    monkeypatch.setattr(ready.store, "remove_bundle", lambda b: (_ for _ in ()).throw(OSError("busy")))
    with pytest.raises(OSError):
        ready.sync_once()
    assert ready.sync_state().cursor == before
    monkeypatch.undo()
    assert ready.sync_once().removed == [bundle_id]


def test_a_bundle_listed_as_revoked_in_the_status_is_removed_even_without_its_feed_entry(
    ready: DeviceAgent, bundle_id: str, service: FakeService
) -> None:
    ready.sync_once()
    service.bundles[bundle_id].revoked = True  # revoked, but the feed entry never arrived
    assert ready.sync_once().removed == [bundle_id]


def test_a_forged_status_is_signalled_never_tamper_reported_and_nothing_is_applied(
    ready: DeviceAgent, bundle_id: str, service: FakeService
) -> None:
    ready.sync_once()
    before = ready.sync_state()

    def forge(token: str) -> str:
        header, payload, signature = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims["revoked_bundles"] = []
        claims["server_time"] += 30 * DAY
        forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        return f"{header}.{forged}.{signature}"

    service.mangle_status = forge
    service.revoke_bundle(bundle_id)
    with pytest.raises(StatusForged) as raised:
        ready.sync_once()
    assert raised.value.document == "status"
    assert service.tamper_reports == [], "a forged status says nothing about the bundles"
    assert [s["type"] for s in service.signals] == ["device.status_forged"]
    assert service.signals[0]["device_id"] == ready.device_id
    assert ready.sync_state() == before
    assert ready.clock.last_server_time < time.time() + DAY, "a forged server time never moves the clock"
    # Offline (the signal is queued), the same forged status is signalled once the service answers.
    ready.session = Airplane()
    with pytest.raises(Offline):
        ready.sync_once()


def test_another_devices_status_is_refused_as_forged(
    ready: DeviceAgent, service: FakeService, tmp_path: Path, fake_time: FakeTime
) -> None:
    other = enroll(tmp_path / "other", fake_time, service)
    # A validly signed status, but of another device: replaying it would hide this device's revocations.
    foreign = service.sync(other.device_id, None, 1)[1]["status"]
    service.mangle_status = lambda _: foreign
    with pytest.raises(StatusForged):
        ready.sync_once()
    assert service.tamper_reports == []


def test_a_replayed_status_is_refused_and_does_not_count_as_fresh(
    ready: DeviceAgent, bundle_id: str, service: FakeService, fake_time: FakeTime
) -> None:
    captured: list[str] = []
    service.mangle_status = lambda token: captured.append(token) or token
    ready.sync_once()
    status_at = ready.sync_state().status_at
    fake_time.advance(DAY)
    # The attacker answers the next sync with the status captured a day ago: it names this device and
    # verifies, but it answers another request's nonce.
    service.mangle_status = lambda _: captured[0]
    with pytest.raises(StatusForged, match="replayed"):
        ready.sync_once()
    assert ready.sync_state().status_at == status_at
    ready.session = Airplane()
    assert not ready.parts.licences.fresh(bundle_id, ready.parts.licences.load(bundle_id))


def test_a_status_older_than_the_newest_seen_is_refused(
    ready: DeviceAgent, service: FakeService, fake_time: FakeTime
) -> None:
    fake_time.advance(DAY)
    ready.sync_once()
    newest = ready.sync_state().status_at
    # A genuine status answering the nonce, but signed at an earlier time (a service clock rolled
    # back, or a signing oracle replaying old times): older than the newest, refused.
    service.now = lambda: fake_time.wall - 2 * DAY
    with pytest.raises(StatusForged, match="older"):
        ready.sync_once()
    assert ready.sync_state().status_at == newest


def test_a_revoked_device_removes_every_bundle(
    ready: DeviceAgent, bundle_id: str, service: FakeService
) -> None:
    second = service.add_bundle({"pkg": {"b.txt": b"y"}})
    ready.download(second)
    ready.fetch_licence(second)
    service.revoke_device(ready.device_id)
    result = ready.sync_once()
    assert sorted(result.removed) == sorted([bundle_id, second])
    assert result.device_state == "revoked"
    assert ready.store.bundle_ids() == []


def test_a_stale_status_syncs_before_opening_and_learns_the_revocation(
    ready: DeviceAgent, bundle_id: str, service: FakeService, fake_time: FakeTime
) -> None:
    ready.sync_once()
    with ready.mount(bundle_id):
        pass
    ready.unmount(bundle_id)
    calls = len(service.sync_requests)
    service.revoke_bundle(bundle_id)
    # Within the status interval the open does not sync (the loop's job), past it, it must.
    fake_time.advance(DAY)
    with pytest.raises(LicenceRevoked):
        ready.mount(bundle_id)
    assert len(service.sync_requests) > calls
    assert not ready.store.bundle(bundle_id).root.exists()


def test_a_fresh_sync_status_opens_without_another_call(
    ready: DeviceAgent, bundle_id: str, service: FakeService, fake_time: FakeTime
) -> None:
    fake_time.advance(DAY)
    ready.sync_once()
    calls = len(service.sync_requests)
    with ready.mount(bundle_id) as mounted:
        assert mounted.read("pkg_second", "a.txt") == b"second package"
    assert len(service.sync_requests) == calls


def test_offline_the_sync_raises_offline_and_the_grace_rules_still_open(
    ready: DeviceAgent, bundle_id: str, fake_time: FakeTime
) -> None:
    ready.session = Airplane()
    with pytest.raises(Offline):
        ready.sync_once()
    fake_time.advance(DAY)
    with ready.mount(bundle_id) as mounted:
        assert mounted.read("pkg_second", "a.txt") == b"second package"


def test_the_sync_loop_removes_a_revoked_bundle_and_stops(
    ready: DeviceAgent, bundle_id: str, service: FakeService
) -> None:
    with pytest.raises(ValueError):
        SyncLoop(ready, interval=60)
    with SyncLoop(ready, interval=0.05) as loop:
        service.revoke_bundle(bundle_id)
        deadline = time.monotonic() + 5
        while ready.store.bundle(bundle_id).root.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
    assert not ready.store.bundle(bundle_id).root.exists()
    assert loop.syncs >= 1 and loop.last_error is None
    stopped = loop.syncs
    time.sleep(0.2)
    assert loop.syncs == stopped, "stop() ends the loop"


def test_the_sync_loop_survives_being_offline(ready: DeviceAgent) -> None:
    ready.session = Airplane()
    with SyncLoop(ready, interval=0.05) as loop:
        deadline = time.monotonic() + 5
        while loop.last_error is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert isinstance(loop.last_error, Offline)
        ready.session = requests.Session()
        while loop.syncs == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert loop.syncs >= 1


def test_a_tenant_migrated_change_re_points_the_device_to_the_new_zones_api(
    ready: DeviceAgent, bundle_id: str, service: FakeService, fake_time: FakeTime
) -> None:
    # Given a synced device whose tenant then moves to another zone (served here on /us)
    ready.sync_once()
    before = ready.sync_state().last_seq
    new_api = service.migrate("/us")
    # When the device syncs
    service.stage_requests.clear()
    result = ready.sync_once()
    # Then it applied the move once, re-pointed its API, and read the new zone's copy of the feed
    # from its start, skipping every position it had applied (the move's copy included)
    assert [c.type for c in result.changes] == ["tenant.migrated"]
    assert ready.api.base_url == new_api
    assert service.stage_requests == ["/prod", "/us"]
    # And later changes come from the new zone, the cursor continuing without a gap
    service.revoke_bundle(bundle_id)
    service.stage_requests.clear()
    assert [c.type for c in ready.sync_once().changes] == ["bundle.revoked"]
    assert set(service.stage_requests) == {"/us"} and ready.sync_state().last_seq == before + 2
    # And the re-pointing is sealed state: a restarted agent keeps using the new zone
    assert make_agent(ready.store.home, fake_time).api.base_url == new_api


def test_a_device_offline_through_a_whole_migration_follows_the_old_zones_421(
    ready: DeviceAgent, bundle_id: str, service: FakeService, fake_time: FakeTime
) -> None:
    # Given a synced device, offline while its tenant moved to another zone (served on /us) and
    # the old zone cleaned up: the old zone answers 421 naming the new zone's API
    ready.sync_once()
    before = ready.sync_state().last_seq
    new_api = service.base_url + "/us"
    service.stages = (*service.stages, "/us")
    service.moved_stages["/prod"] = [new_api]
    service.revoke_bundle(bundle_id)  # a change made in the new zone meanwhile
    # When the device syncs again
    service.stage_requests.clear()
    result = ready.sync_once()
    # Then it re-pointed to the new zone and read its feed from the start, skipping what it applied
    assert ready.api.base_url == new_api
    assert service.stage_requests[0] == "/prod" and set(service.stage_requests[1:]) == {"/us"}
    assert [c.type for c in result.changes] == ["bundle.revoked"]
    assert ready.sync_state().last_seq == before + 1
    assert not ready.store.bundle(bundle_id).root.exists()
    # And the re-pointing is sealed state: a restarted agent keeps using the new zone
    assert make_agent(ready.store.home, fake_time).api.base_url == new_api


@pytest.mark.parametrize("endpoints", [["http://evil.example/prod"], [], "https://api.example/prod", None])
def test_a_421_naming_no_well_formed_endpoints_moves_nothing(
    ready: DeviceAgent, service: FakeService, endpoints: object
) -> None:
    ready.sync_once()
    home = ready.api.base_url
    service.moved_stages["/prod"] = endpoints
    with pytest.raises(ApiError) as refused:
        ready.sync_once()
    assert refused.value.status == 421
    assert ready.api.base_url == home


def test_a_tenant_migrated_change_to_a_plain_http_host_is_ignored(
    ready: DeviceAgent, service: FakeService
) -> None:
    ready.sync_once()
    for feed in service.feeds.values():
        feed.append(
            {
                "seq": len(feed) + 1,
                "type": "tenant.migrated",
                "bundle_id": "",
                "at": "2026-11-28T12:00:00Z",
                "event_id": "evt_x",
                "api_endpoints": ["http://evil.example/prod"],
            }
        )
    ready.sync_once()
    assert ready.api.base_url == service.api_url
