"""Tampering with a manifest, a container, a segment or a licence is refused and reported."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from content_service.crypto import ContainerTampered
from content_service.device.agent import DeviceAgent
from content_service.device.errors import TamperDetected
from tests.unit.device.conftest import WELCOME, Airplane, FakeTime, enroll
from tests.unit.device.fake_service import FakeService


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def flip_text(path: Path) -> None:
    """Change one base64url character in the middle of a compact JWS's payload."""
    text = path.read_text()
    header, payload, signature = text.split(".")
    at = len(payload) // 2
    payload = payload[:at] + ("A" if payload[at] != "A" else "B") + payload[at + 1 :]
    path.write_text(f"{header}.{payload}.{signature}")


def container(agent: DeviceAgent, bundle_id: str, package_id: str = "pkg_welcome") -> Path:
    return agent.store.bundle(bundle_id).container(package_id, 1)


def test_a_flipped_byte_in_the_manifest_is_refused_and_reported(
    ready: DeviceAgent, bundle_id: str, service: FakeService
) -> None:
    flip_text(ready.store.bundle(bundle_id).manifest)
    for action in (ready.verify, ready.mount):
        with pytest.raises(TamperDetected) as caught:
            action(bundle_id)
        assert caught.value.kind == "manifest"
    assert [(r["kind"], r["bundle_id"]) for r in service.tamper_reports] == [("manifest", bundle_id)] * 2
    assert ready.outbox.pending("tamper") == []


def test_a_flipped_byte_in_a_container_is_refused_and_reported(
    ready: DeviceAgent, bundle_id: str, service: FakeService
) -> None:
    flip(container(ready, bundle_id), 500)
    with pytest.raises(TamperDetected) as caught:
        ready.verify(bundle_id)
    assert caught.value.kind == "container"
    with pytest.raises(TamperDetected):
        ready.mount(bundle_id)
    assert [r["kind"] for r in service.tamper_reports] == ["container", "container"]


def test_a_service_signed_container_with_a_bad_segment_tag_fails_verify(
    agent: DeviceAgent, service: FakeService
) -> None:
    def bad_tag(data: bytes) -> bytes:
        altered = bytearray(data)
        altered[65 + 256 + 8] ^= 0x80  # the tag of segment 0 (header 65 bytes, segment 256 + 16)
        return bytes(altered)

    bundle_id = service.add_bundle({"pkg_welcome": WELCOME}, corrupt=bad_tag)
    agent.download(bundle_id)  # size and SHA-256 match what was signed
    agent.fetch_licence(bundle_id)
    with pytest.raises(TamperDetected) as caught:
        agent.verify(bundle_id)
    assert caught.value.kind == "container" and isinstance(caught.value.__cause__, ContainerTampered)
    assert [r["kind"] for r in service.tamper_reports] == ["container"]
    # Mounted without a full verify, the bad segment is still refused when it is read.
    mounted = agent.mount(bundle_id)
    first = next(iter(mounted.files("pkg_welcome")))
    with pytest.raises(TamperDetected):
        mounted.read("pkg_welcome", first.path)


def test_a_segment_altered_after_mount_is_refused_on_read(
    ready: DeviceAgent, bundle_id: str, service: FakeService
) -> None:
    mounted = ready.mount(bundle_id)
    flip(container(ready, bundle_id), 65 + 10)
    with pytest.raises(TamperDetected) as caught:
        mounted.read("pkg_welcome", "index.html")  # index.html lies in segment 0
    assert caught.value.kind == "container"
    assert [r["kind"] for r in service.tamper_reports] == ["container"]


def test_a_flipped_byte_in_the_licence_is_refused_and_reported(
    ready: DeviceAgent, bundle_id: str, service: FakeService
) -> None:
    flip_text(ready.store.bundle(bundle_id).licence)
    with pytest.raises(TamperDetected) as caught:
        ready.mount(bundle_id)
    assert caught.value.kind == "license"
    assert [r["kind"] for r in service.tamper_reports] == ["license"]


def test_a_signed_licence_whose_keys_are_for_another_key_is_refused(
    ready: DeviceAgent, bundle_id: str, service: FakeService, tmp_path: Path, fake_time: FakeTime
) -> None:
    other = enroll(tmp_path / "other", fake_time, service)
    other_key = service.devices[other.device_id]["public_key"]
    # The service (or whoever holds its signing key) issues a licence wrapped to another key.
    genuine = service.licence
    service.licence = lambda b, d, **_: genuine(b, d, device_key=other_key)  # type: ignore[method-assign]
    ready.fetch_licence(bundle_id)
    with pytest.raises(TamperDetected) as caught:
        ready.verify(bundle_id)
    assert caught.value.kind == "license"


def test_a_genuine_manifest_of_another_bundle_is_refused(
    ready: DeviceAgent, bundle_id: str, service: FakeService
) -> None:
    other = service.add_bundle({"pkg_x": {"x.txt": b"x"}})
    ready.store.bundle(bundle_id).manifest.write_text(service.bundles[other].manifest)
    with pytest.raises(TamperDetected) as caught:
        ready.mount(bundle_id)
    assert caught.value.kind == "manifest"


def test_offline_the_report_waits_in_the_outbox_and_is_sent_once_online(
    ready: DeviceAgent, bundle_id: str, service: FakeService
) -> None:
    ready.session = Airplane()
    flip(container(ready, bundle_id), 500)
    with pytest.raises(TamperDetected):
        ready.verify(bundle_id)
    assert service.tamper_reports == []
    [queued] = ready.outbox.pending("tamper")
    assert queued.body["kind"] == "container"
    ready.session = requests.Session()
    assert ready.flush()["tamper"].sent == [queued.id]
    assert ready.flush()["tamper"].sent == []
    assert [r["kind"] for r in service.tamper_reports] == ["container"]
    assert ready.outbox.get(queued.id).receipt["report_id"].startswith("tmp_")  # type: ignore[union-attr]


def test_a_signed_manifest_the_licence_was_not_issued_for_is_refused(
    ready: DeviceAgent, bundle_id: str, service: FakeService
) -> None:
    # A genuine signature over another manifest of the same bundle id (say, an older one): only
    # the licence's content_hash tells them apart.
    claims = verify_claims(service.bundles[bundle_id].manifest, service)
    claims["packages"] = claims["packages"][:1]
    ready.store.bundle(bundle_id).manifest.write_text(service.signer.sign(claims, typ="bundle-manifest+jwt"))
    with pytest.raises(TamperDetected) as caught:
        ready.mount(bundle_id)
    assert caught.value.kind == "manifest"
    assert [r["kind"] for r in service.tamper_reports] == ["manifest"]


def verify_claims(token: str, service: FakeService) -> dict:
    from content_service.crypto import verify

    return verify(token, {"keys": [service.signer.public_jwk()]}, typ="bundle-manifest+jwt")


def test_a_tampered_container_is_reported_with_evidence_the_service_can_corroborate(
    ready: DeviceAgent, bundle_id: str, service: FakeService
) -> None:
    import hashlib

    path = container(ready, bundle_id)
    flip(path, 500)
    with pytest.raises(TamperDetected):
        ready.mount(bundle_id)
    [report] = service.tamper_reports
    signed = next(p for p in service.bundles[bundle_id].packages if p["package_id"] == "pkg_welcome")
    assert report["evidence"] == {
        "object": "container",
        "package_id": "pkg_welcome",
        "version": 1,
        "expected_sha256": signed["container"]["sha256"],
        "found_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }


def test_a_manifest_the_licence_was_not_issued_for_is_reported_with_manifest_evidence(
    ready: DeviceAgent, bundle_id: str, service: FakeService
) -> None:
    import hashlib

    manifest = ready.store.bundle(bundle_id).manifest
    flip_text(manifest)
    with pytest.raises(TamperDetected):
        ready.verify(bundle_id)
    [report] = service.tamper_reports
    assert report["evidence"] == {
        "object": "manifest",
        "expected_sha256": hashlib.sha256(service.bundles[bundle_id].manifest.encode()).hexdigest(),
        "found_sha256": hashlib.sha256(manifest.read_bytes()).hexdigest(),
    }
