"""One test per row of docs/threat-model.md: what an attacker with the device's files (or its key) gets.

Each test plays the attack against the real agent and the fake service and asserts the specific
refusal, or, where the threat model says an attack is only bounded (a whole state directory
restored, the device key stolen), that the bound holds: licence expiry + offline grace at the
trusted time, and the first online sync.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
import requests

from content_service.crypto.state_mac import seal
from content_service.device.agent import DeviceAgent
from content_service.device.errors import ClockUntrusted, LicenceRevoked, LicenceUnknown, StatusForged
from content_service.device.state import STATE_LABEL
from content_service.domain.licence import LicenceExpired
from tests.unit.device.conftest import DAY, Airplane, FakeTime, make_agent
from tests.unit.device.fake_service import FakeService

WEEK = 7 * DAY


def snapshot(path: Path, to: Path) -> Path:
    shutil.copytree(path, to, symlinks=True)
    return to


def restore(backup: Path, path: Path) -> None:
    shutil.rmtree(path)
    shutil.copytree(backup, path, symlinks=True)


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


# ---------------------------------------------------------------- attacker with the device's files
def test_edit_lowering_the_clock_floor_in_the_state_root_makes_the_device_untrusted(
    ready: DeviceAgent, bundle_id: str, fake_time: FakeTime, service: FakeService
) -> None:
    ready.session = Airplane()
    fake_time.advance(2 * WEEK + 1)
    with pytest.raises(LicenceExpired):
        ready.mount(bundle_id)
    path = ready.store.state_path
    document = json.loads(path.read_bytes())
    document["body"]["clock"] = {"trusted": 0.0, "server_time": 0.0}
    path.write_text(json.dumps(document))
    fake_time.reboot()
    fake_time.wall -= 2 * WEEK
    edited = make_agent(ready.store.home, fake_time, session=Airplane())
    with pytest.raises(ClockUntrusted):
        edited.mount(bundle_id)
    # Online, a nonce-bound status brings the signed time back, and trust with it; the lost
    # index no longer vouches for the old licence, so only a new licence (with current dates) opens.
    edited.session = requests.Session()
    fake_time.advance(61)  # past the agent's offline back-off
    service.now = lambda: fake_time.wall + 2 * WEEK
    service.fail_licences_with = 503
    with pytest.raises(LicenceUnknown):
        edited.mount(bundle_id)
    assert edited.state.untrusted() is None
    assert edited.clock.now() >= fake_time.wall + 2 * WEEK


def test_delete_the_state_root_makes_the_device_untrusted_until_a_nonce_bound_status(
    ready: DeviceAgent, bundle_id: str, fake_time: FakeTime
) -> None:
    ready.store.state_path.unlink()
    deleted = make_agent(ready.store.home, fake_time, session=Airplane())
    with pytest.raises(ClockUntrusted):
        deleted.mount(bundle_id)
    deleted.session = requests.Session()
    fake_time.advance(61)  # past the agent's offline back-off
    deleted.sync_once()
    with deleted.mount(bundle_id) as mounted:
        assert mounted.read("pkg_second", "a.txt") == b"second package"


def test_restore_a_bundle_folder_after_its_revocation_stays_refused_offline(
    ready: DeviceAgent, bundle_id: str, service: FakeService, tmp_path: Path, fake_time: FakeTime
) -> None:
    folder = ready.store.bundle(bundle_id).root
    backup = snapshot(folder, tmp_path / "backup")
    service.revoke_bundle(bundle_id)
    assert ready.sync_once().removed == [bundle_id]
    shutil.copytree(backup, folder)
    offline = make_agent(ready.store.home, fake_time, session=Airplane())
    with pytest.raises(LicenceRevoked):
        offline.mount(bundle_id)
    with pytest.raises(LicenceRevoked):
        offline.verify(bundle_id)
    with pytest.raises(LicenceRevoked):
        offline.download(bundle_id)


def test_restore_the_whole_state_directory_is_bounded_by_the_snapshot_floor_grace_and_the_next_sync(
    ready: DeviceAgent, bundle_id: str, service: FakeService, tmp_path: Path, fake_time: FakeTime
) -> None:
    ready.sync_once()
    home = ready.store.home
    floor = ready.clock.now()
    backup = snapshot(home, tmp_path / "whole")
    service.revoke_bundle(bundle_id)
    ready.sync_once()
    restore(backup, home)
    real = fake_time.wall
    service.now = lambda: real + 3 * WEEK  # the service's clock is not the device's
    fake_time.reboot()
    fake_time.wall -= 4 * WEEK
    restored = make_agent(home, fake_time, session=Airplane())
    # Offline a consistent older state cannot be told from the real one (docs/threat-model.md):
    # the bundle opens, but never at a time before the snapshot's floor...
    assert restored.clock.now() >= floor
    with restored.mount(bundle_id):
        pass
    # ...and only until the licence's expiry + grace at trusted time.
    fake_time.advance(2 * WEEK + 1)
    with pytest.raises(LicenceExpired):
        restored.mount(bundle_id)
    # The first sync learns the revocation again (the status lists it), removes it and buries it.
    restored.session = requests.Session()
    restored.sync_once()
    assert not restored.store.bundle(bundle_id).root.exists()
    assert bundle_id in restored.state.tombstones()


def test_restore_the_whole_state_directory_and_set_the_clock_back_gains_nothing_until_a_reboot(
    ready: DeviceAgent, bundle_id: str, tmp_path: Path, fake_time: FakeTime
) -> None:
    ready.session = Airplane()
    backup = snapshot(ready.store.home, tmp_path / "whole")
    fake_time.advance(2 * WEEK + 1)
    with pytest.raises(LicenceExpired):
        ready.mount(bundle_id)
    # A consistent older snapshot, genuinely sealed, and the wall clock put back to its time:
    restore(backup, ready.store.home)
    fake_time.wall -= 2 * WEEK + 1
    restored = make_agent(ready.store.home, fake_time, session=Airplane())
    # ...but the OS's monotonic clock kept counting since the snapshot's boot mark was sealed.
    assert restored.clock.now() >= fake_time.wall + 2 * WEEK
    with pytest.raises(LicenceExpired):
        restored.mount(bundle_id)


def test_replay_a_captured_status_does_not_restore_trust_in_a_lost_state(
    ready: DeviceAgent, bundle_id: str, service: FakeService, fake_time: FakeTime
) -> None:
    captured: list[str] = []
    service.mangle_status = lambda token: captured.append(token) or token
    ready.sync_once()
    ready.store.state_path.unlink()
    lost = make_agent(ready.store.home, fake_time)
    service.mangle_status = lambda _: captured[0]
    with pytest.raises(StatusForged):
        lost.sync_once()
    assert lost.state.untrusted()
    assert service.tamper_reports == [] and len(service.signals) == 1
    lost.session = Airplane()
    with pytest.raises(ClockUntrusted):
        lost.mount(bundle_id)


def test_forge_a_key_set_is_refused_signalled_and_changes_no_pinned_key(
    ready: DeviceAgent, service: FakeService
) -> None:
    from content_service.crypto import LocalSigner

    attacker = LocalSigner.generate()
    pinned = ready.record.jwks

    def forge(document: dict) -> dict:
        claims = {
            "iss": "content-service",
            "ver": 1,
            "server_time": 2**31,
            "keys": [attacker.public_jwk()],
            "retired": [],
        }
        return {
            "keys": claims["keys"],
            "retired": [],
            "signatures": [attacker.sign(claims, typ="jwk-set+jwt")],
        }

    service.mangle_jwks = forge
    with pytest.raises(StatusForged) as raised:
        ready.refresh_jwks()
    assert raised.value.document == "jwks"
    assert [s["type"] for s in service.signals] == ["device.status_forged"]
    assert service.tamper_reports == []
    assert ready.record.jwks == pinned


def test_set_the_clock_back_after_expiry_keeps_the_licence_expired(
    ready: DeviceAgent, bundle_id: str, fake_time: FakeTime
) -> None:
    ready.session = Airplane()
    fake_time.advance(2 * WEEK + 1)
    with pytest.raises(LicenceExpired):
        ready.mount(bundle_id)
    fake_time.reboot()
    fake_time.wall -= 3 * WEEK
    with pytest.raises(LicenceExpired):
        make_agent(ready.store.home, fake_time, session=Airplane()).mount(bundle_id)


def test_set_the_clock_forward_only_shortens_and_a_sync_puts_it_right(
    ready: DeviceAgent, bundle_id: str, fake_time: FakeTime
) -> None:
    ready.session = Airplane()
    fake_time.wall += 365 * DAY
    with pytest.raises(LicenceExpired):
        ready.mount(bundle_id)
    fake_time.wall -= 365 * DAY
    # Back online with the wall clock right: the nonce-bound status is the present again.
    ready.session = requests.Session()
    ready.link.went_offline = lambda: None  # type: ignore[method-assign]
    ready.sync_once()
    with ready.mount(bundle_id) as mounted:
        assert mounted.read("pkg_second", "a.txt") == b"second package"


# ---------------------------------------------------------------- attacker with the device's private key
def test_with_the_private_key_a_forged_state_is_still_bounded_by_the_licence_and_the_next_sync(
    ready: DeviceAgent, bundle_id: str, service: FakeService, tmp_path: Path, fake_time: FakeTime
) -> None:
    folder = ready.store.bundle(bundle_id).root
    backup = snapshot(folder, tmp_path / "backup")
    licence_time = claims_of((folder / "licence.jws").read_text())["server_time"]
    root = ready.state.read()
    service.revoke_bundle(bundle_id)
    ready.sync_once()
    # The key holder seals a state of their own: no tombstone, no floor, the old licence indexed.
    root["clock"] = {"trusted": 0.0, "server_time": 0.0}
    root["tombstones"] = {}
    key = ready.state._key
    ready.store.state_path.write_bytes(seal(key, STATE_LABEL, root))
    shutil.copytree(backup, folder)
    fake_time.reboot()
    fake_time.wall -= 4 * WEEK
    forged = make_agent(ready.store.home, fake_time, session=Airplane())
    with forged.mount(bundle_id):
        # The licence's own signed time is a floor no sealed state can lower.
        assert forged.clock.now() >= licence_time
    # Within one run the monotonic clock counts from that floor: the licence still runs out.
    fake_time.advance(2 * WEEK + 1)
    with pytest.raises(LicenceExpired):
        forged.mount(bundle_id)
    real = fake_time.wall + 2 * WEEK
    service.now = lambda: real
    forged.session = requests.Session()
    forged.sync_once()
    assert not forged.store.bundle(bundle_id).root.exists()
