"""The sealed state: MACed under a key derived from the device key, atomic, lost when altered or deleted."""

from __future__ import annotations

import json

import pytest

from content_service.crypto import generate_device_key
from content_service.crypto.state_mac import SealBroken, derive_state_key, seal, unseal
from content_service.device.agent import DeviceAgent
from content_service.device.errors import ClockUntrusted, EnrolmentAltered
from content_service.device.state import DeviceState
from tests.unit.device.conftest import Airplane, FakeTime, make_agent


def test_the_state_key_is_derived_per_device_and_is_not_the_device_key() -> None:
    first, second = generate_device_key(), generate_device_key()
    key = derive_state_key(first)
    assert len(key) == 32 and key == derive_state_key(first)
    assert key != derive_state_key(second)
    assert key != first.private_bytes_raw()


def test_a_sealed_document_opens_only_with_its_key_and_label() -> None:
    key, other = derive_state_key(generate_device_key()), derive_state_key(generate_device_key())
    sealed = seal(key, "device-state", {"clock": {"trusted": 1.5}})
    assert unseal(key, "device-state", sealed) == {"clock": {"trusted": 1.5}}
    with pytest.raises(SealBroken):
        unseal(other, "device-state", sealed)
    with pytest.raises(SealBroken):
        unseal(key, "device-record", sealed)
    edited = json.loads(sealed)
    edited["body"]["clock"]["trusted"] = 0.5
    with pytest.raises(SealBroken):
        unseal(key, "device-state", json.dumps(edited).encode())
    for garbage in (b"", b"{not json", b"[]", b'{"v": 1}'):
        with pytest.raises(SealBroken):
            unseal(key, "device-state", garbage)


def test_every_state_write_is_atomic_private_and_bumps_the_generation(ready: DeviceAgent) -> None:
    state = ready.state
    before = state.read()["generation"]
    state.raise_floor(1.0, 0.0)
    assert state.read()["generation"] == before + 1
    assert ready.store.state_path.stat().st_mode & 0o777 == 0o600
    assert not list(ready.store.home.glob(".*.tmp")), "no temporary file is left behind"


def test_an_edited_state_root_is_lost_not_absent_and_stays_lost_across_restarts(
    ready: DeviceAgent, bundle_id: str, fake_time: FakeTime
) -> None:
    path = ready.store.state_path
    document = json.loads(path.read_bytes())
    document["body"]["tombstones"] = {}
    document["body"]["clock"]["trusted"] = 0.0
    path.write_text(json.dumps(document))
    restarted = make_agent(ready.store.home, fake_time, session=Airplane())
    assert "not valid" in (restarted.state.untrusted() or "")
    with pytest.raises(ClockUntrusted):
        restarted.mount(bundle_id)
    again = make_agent(ready.store.home, fake_time, session=Airplane())
    with pytest.raises(ClockUntrusted):
        again.mount(bundle_id)


def test_an_edited_enrolment_record_is_refused(ready: DeviceAgent, fake_time: FakeTime) -> None:
    path = ready.store.device_path
    document = json.loads(path.read_bytes())
    # An attacker pins a key of their own, to sign licences the device would accept.
    document["body"]["jwks"]["keys"].append({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"})
    path.write_text(json.dumps(document))
    with pytest.raises(EnrolmentAltered):
        make_agent(ready.store.home, fake_time).record  # noqa: B018


def test_two_writers_never_overwrite_each_others_sections(ready: DeviceAgent) -> None:
    other = DeviceState.open(ready.store)
    ready.state.update(lambda root: root["tombstones"].__setitem__("bnd_" + "1" * 32, 1))
    other.raise_floor(10.0, 5.0)
    root = ready.state.read()
    assert "bnd_" + "1" * 32 in root["tombstones"] and root["clock"]["server_time"] >= 5.0
