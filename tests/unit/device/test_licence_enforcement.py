"""The licence is enforced at mount and on every open, offline, with the trusted clock."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from content_service.device.agent import DeviceAgent
from content_service.device.errors import ClockUntrusted, DeviceError, LicenceRevoked
from content_service.domain.licence import LicenceExpired, LicenceWrongDevice, StatusCheckRequired
from tests.unit.device.conftest import DAY, WELCOME, Airplane, FakeTime, enroll, make_agent
from tests.unit.device.fake_service import FakeService

WEEK = 7 * DAY


def test_a_valid_licence_mounts_and_reads_the_original_bytes(ready: DeviceAgent, bundle_id: str) -> None:
    with ready.mount(bundle_id) as mounted:
        assert mounted.package_ids == ["pkg_welcome", "pkg_second"]
        assert {f.path for f in mounted.files("pkg_welcome")} == set(WELCOME)
        for path, data in WELCOME.items():
            assert mounted.read("pkg_welcome", path) == data
        assert mounted.read_range("pkg_welcome", "big.bin", 300, 10) == WELCOME["big.bin"][300:310]
        with mounted.open("pkg_second", "a.txt") as handle:
            assert handle.read() == b"second package"


def test_offline_past_expiry_but_within_grace_still_opens(
    ready: DeviceAgent, bundle_id: str, fake_time: FakeTime
) -> None:
    ready.session = Airplane()
    fake_time.advance(WEEK + 3 * DAY)
    with ready.mount(bundle_id) as mounted:
        assert mounted.read("pkg_welcome", "index.html") == WELCOME["index.html"]


def test_offline_past_expiry_and_grace_is_refused(
    ready: DeviceAgent, bundle_id: str, fake_time: FakeTime
) -> None:
    ready.session = Airplane()
    fake_time.advance(2 * WEEK + 1)
    with pytest.raises(LicenceExpired):
        ready.mount(bundle_id)


def test_every_open_enforces_the_licence_not_only_the_mount(
    ready: DeviceAgent, bundle_id: str, fake_time: FakeTime
) -> None:
    ready.session = Airplane()
    mounted = ready.mount(bundle_id)
    assert mounted.read("pkg_welcome", "index.html")
    fake_time.advance(2 * WEEK + 1)
    with pytest.raises(LicenceExpired):
        mounted.read("pkg_welcome", "index.html")
    with pytest.raises(LicenceExpired):
        mounted.files("pkg_welcome")


def test_setting_the_clock_back_after_expiry_does_not_reopen_the_bundle(
    ready: DeviceAgent, bundle_id: str, fake_time: FakeTime
) -> None:
    ready.session = Airplane()
    fake_time.advance(2 * WEEK + 1)
    with pytest.raises(LicenceExpired):
        ready.mount(bundle_id)
    fake_time.reboot()
    fake_time.wall -= 2 * WEEK
    rebooted = make_agent(ready.store.home, fake_time, session=Airplane())
    with pytest.raises(LicenceExpired):
        rebooted.mount(bundle_id)


def test_another_devices_licence_is_refused(
    ready: DeviceAgent, bundle_id: str, service: FakeService, tmp_path: Path, fake_time: FakeTime
) -> None:
    other = enroll(tmp_path / "other", fake_time, service)
    # The other device's genuine licence, copied next to this device's bundle.
    licence = service.licence(bundle_id, other.device_id)
    ready.store.bundle(bundle_id).licence.write_text(licence)
    with pytest.raises(LicenceWrongDevice):
        ready.mount(bundle_id)


def test_online_with_a_stale_status_the_licence_is_refreshed_first(
    ready: DeviceAgent, bundle_id: str, fake_time: FakeTime
) -> None:
    fake_time.advance(WEEK + DAY)
    with ready.mount(bundle_id) as mounted:
        assert mounted.read("pkg_second", "a.txt") == b"second package"
    claims = ready.parts.licences.load(bundle_id)
    assert claims["nbf"] >= fake_time.wall - 1, "the refresh brought a renewed licence"


def test_online_a_revoked_device_is_refused(
    ready: DeviceAgent, bundle_id: str, service: FakeService, fake_time: FakeTime
) -> None:
    service.revoke_device(ready.device_id)
    fake_time.advance(DAY)
    with pytest.raises(LicenceRevoked):
        ready.mount(bundle_id)


def test_the_status_source_is_pluggable(ready: DeviceAgent, bundle_id: str, fake_time: FakeTime) -> None:
    class RefusesStatus:
        calls = 0

        def refresh(self, agent: DeviceAgent, bundle_id: str) -> None:
            self.calls += 1

    source = RefusesStatus()
    ready.status_source = source
    fake_time.advance(DAY)
    # The source answered but recorded no status: online without a fresh status is refused.
    with pytest.raises(StatusCheckRequired):
        ready.mount(bundle_id)
    assert source.calls == 1


def test_a_refreshed_licence_raises_the_clock_floor(
    ready: DeviceAgent, bundle_id: str, fake_time: FakeTime, service: FakeService
) -> None:
    # The device's clock runs three days behind the service's.
    service.now = lambda: fake_time.wall + 3 * DAY
    claims = ready.fetch_licence(bundle_id)
    assert claims["server_time"] > fake_time.wall + 2 * DAY
    assert ready.clock.now() >= claims["server_time"]


def test_deleting_the_state_root_after_expiry_does_not_reopen_the_bundle(
    ready: DeviceAgent, bundle_id: str, fake_time: FakeTime, service: FakeService
) -> None:
    ready.session = Airplane()
    fake_time.advance(2 * WEEK + 1)
    with pytest.raises(LicenceExpired):
        ready.mount(bundle_id)
    ready.store.state_path.unlink()
    fake_time.reboot()
    fake_time.wall -= 2 * WEEK
    rebooted = make_agent(ready.store.home, fake_time, session=Airplane())
    with pytest.raises(ClockUntrusted):
        rebooted.mount(bundle_id)
    # A licence alone does not restore trust: it answers no nonce of this device.
    rebooted.session = requests.Session()
    service.now = lambda: fake_time.wall + 2 * WEEK
    rebooted.fetch_licence(bundle_id)
    assert rebooted.state.untrusted()
    # A sync does: its status answers this device's nonce and brings the signed server time.
    rebooted.sync_once()
    assert rebooted.state.untrusted() is None
    assert rebooted.clock.now() >= fake_time.wall + 2 * WEEK
    with rebooted.mount(bundle_id) as mounted:
        assert mounted.read("pkg_second", "a.txt") == b"second package"


def test_online_a_service_error_falls_back_to_the_offline_rules(
    ready: DeviceAgent, bundle_id: str, service: FakeService, fake_time: FakeTime
) -> None:
    service.fail_licences_with = 503
    fake_time.advance(WEEK + DAY)
    with ready.mount(bundle_id) as mounted:
        assert mounted.read("pkg_second", "a.txt") == b"second package"
    fake_time.advance(WEEK)
    with pytest.raises(LicenceExpired):
        ready.mount(bundle_id)


def test_a_rotated_signing_key_is_trusted_only_after_an_explicit_refresh(
    ready: DeviceAgent, bundle_id: str, service: FakeService
) -> None:
    service.rotate_key()
    with pytest.raises(DeviceError, match="refresh-jwks"):
        ready.fetch_licence(bundle_id)
    # The licence signed by the old key still opens: rotation keeps old keys verifiable.
    with ready.mount(bundle_id) as mounted:
        assert mounted.read("pkg_second", "a.txt") == b"second package"
    added = ready.refresh_jwks()
    assert added == [service.signer.kid]
    assert ready.refresh_jwks() == []
    assert len(ready.record.jwks["keys"]) == 2
    ready.fetch_licence(bundle_id)
    assert service.tamper_reports == []
