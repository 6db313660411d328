"""Key lifecycle on the device: signed key sets, retirement, and claims held to the enrolment."""

from __future__ import annotations

import pytest

from content_service.crypto import LocalSigner
from content_service.device.agent import DeviceAgent
from content_service.device.errors import StatusForged, TamperDetected
from content_service.device.trust import UntrustedKey
from tests.unit.device.conftest import FakeTime
from tests.unit.device.fake_service import FakeService


def test_enrolment_pins_the_tenant_and_issuer_from_a_signed_status(
    agent: DeviceAgent, service: FakeService
) -> None:
    record = agent.record
    assert record.tenant_id == service.tenant_id and record.issuer == "content-service"
    assert [k["kid"] for k in record.jwks["keys"]] == [service.signer.kid]
    assert record.jwks_time > 0


def test_a_retired_key_is_dropped_and_what_it_signed_no_longer_opens_nor_is_reported(
    ready: DeviceAgent, bundle_id: str, service: FakeService
) -> None:
    old = service.signer.kid
    service.rotate_key()
    assert ready.refresh_jwks() == [service.signer.kid]
    service.retire_previous_keys()
    # The retired key signs the set once more (so a device trusting only it can move on), and is dropped.
    assert ready.refresh_jwks() == []
    assert [k["kid"] for k in ready.record.jwks["keys"]] == [service.signer.kid]
    assert old in ready.record.retired_kids
    # The stored licence and manifest were signed by the retired key: refused as untrusted, not tampered.
    with pytest.raises(UntrustedKey):
        ready.verify(bundle_id)
    assert service.tamper_reports == []
    # What the current key signs opens as before.
    fresh = service.add_bundle({"pkg": {"a.txt": b"signed by the current key"}})
    ready.download(fresh)
    ready.fetch_licence(fresh)
    assert ready.verify(fresh).packages == 1


def test_a_retired_key_listed_again_by_an_older_key_set_stays_retired(
    ready: DeviceAgent, service: FakeService, fake_time: FakeTime
) -> None:
    service.rotate_key()
    older = service.key_set()  # lists the previous key as current
    fake_time.advance(60)
    service.retire_previous_keys()
    ready.refresh_jwks()
    service.mangle_jwks = lambda _: older
    with pytest.raises(StatusForged, match="older"):
        ready.refresh_jwks()
    assert len(ready.record.jwks["keys"]) == 1
    # Even a key set as new as the one held cannot bring a retired kid back.
    service.mangle_jwks = None
    service.retired_keys = [k for k in older["keys"] if k["kid"] != service.signer.kid]
    service.retired_signers.clear()
    ready.refresh_jwks()
    assert [k["kid"] for k in ready.record.jwks["keys"]] == [service.signer.kid]
    assert service.tamper_reports == [] and [s["type"] for s in service.signals] == ["device.status_forged"]


def test_a_key_set_signed_only_by_a_key_the_device_does_not_trust_is_refused(
    ready: DeviceAgent, service: FakeService
) -> None:
    stranger = LocalSigner.generate()

    def resigned(document: dict) -> dict:
        claims = {
            "iss": "content-service",
            "ver": 1,
            "server_time": 2**31,
            "keys": document["keys"],
            "retired": [],
        }
        return {**document, "signatures": [stranger.sign(claims, typ="jwk-set+jwt")]}

    service.mangle_jwks = resigned
    pinned = ready.record.jwks
    with pytest.raises(StatusForged, match="no signature"):
        ready.refresh_jwks()
    assert ready.record.jwks == pinned


def _licence_with(service: FakeService, bundle_id: str, device_id: str, **changes: object) -> str:
    from content_service.crypto import verify

    claims = verify(
        service.licence(bundle_id, device_id), {"keys": [service.signer.public_jwk()]}, typ="license+jwt"
    )
    claims.update(changes)
    return service.signer.sign(claims, typ="license+jwt")


@pytest.mark.parametrize(
    "changes",
    [{"iss": "someone-else"}, {"tenant_id": "tenant-b"}, {"sub": "user-2"}],
    ids=["issuer", "tenant", "user"],
)
def test_a_genuinely_signed_licence_for_another_issuer_tenant_or_user_is_refused(
    agent: DeviceAgent, bundle_id: str, service: FakeService, changes: dict
) -> None:
    agent.download(bundle_id)
    token = _licence_with(service, bundle_id, agent.device_id, **changes)
    service.licence = lambda *a, **k: token  # type: ignore[method-assign]
    with pytest.raises(TamperDetected) as caught:
        agent.fetch_licence(bundle_id)
    assert caught.value.kind == "license"
    assert not agent.store.bundle(bundle_id).licence.exists()


def test_a_genuinely_signed_manifest_of_another_tenant_is_refused(
    agent: DeviceAgent, service: FakeService
) -> None:
    service.tenant_id = "tenant-b"
    bundle_id = service.add_bundle({"pkg": {"a.txt": b"x"}})
    with pytest.raises(TamperDetected) as caught:
        agent.download(bundle_id)
    assert caught.value.kind == "manifest"


def test_every_signed_time_the_device_verifies_raises_its_clock_floor(
    agent: DeviceAgent, service: FakeService, fake_time: FakeTime
) -> None:
    # The service's clock runs a day ahead of the device's: the manifest's signed iat alone moves the floor.
    service.now = lambda: fake_time.wall + 86_400
    bundle_id = service.add_bundle({"pkg": {"a.txt": b"x"}})
    agent.download(bundle_id)
    assert agent.clock.last_server_time >= fake_time.wall + 86_400
    service.now = lambda: fake_time.wall + 2 * 86_400
    agent.refresh_jwks()
    assert agent.clock.last_server_time >= fake_time.wall + 2 * 86_400
