"""The device keeps only the service's approved assistant configs for content it verified, and reads them offline."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import requests

from content_service.device.assistant import OverlayInvalid, fetch_assistant, overlay_path, read_assistant
from content_service.device.errors import BundleNotFound
from content_service.domain.assistant import (
    FileRead,
    InputDigest,
    PackageAssistant,
    Provenance,
    canonical_sha256,
)
from content_service.domain.bundle import Bundle, BundlePackage, BundleState
from content_service.domain.package import ContainerRef
from content_service.service.assistant import sign_assistant_overlays
from tests.fakes import FakeClock
from tests.unit.device.conftest import Airplane
from tests.unit.domain.test_assistant import a_config
from tests.unit.service.test_assistant import FakeAssistantRepository

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def approve_for(service, bundle_id: str, package_id: str, *, content_hash: str | None = None, config=None):
    """The real service code signs the overlay of an approved config for the fake's bundle."""
    member = next(p for p in service.bundles[bundle_id].packages if p["package_id"] == package_id)
    content_hash = content_hash or member["content_hash"]
    config = config or a_config()
    provenance = Provenance(
        "local-extractive",
        "yake",
        "assistant-config.local/v1",
        "a" * 64,
        InputDigest(content_hash, (FileRead("index.html", "b" * 64),)),
        canonical_sha256(config),
        {},
        "admin-1",
        NOW,
        {},
    )
    assistant = PackageAssistant.start(
        tenant_id=service.tenant_id, package_id=package_id, version=1, content_hash=content_hash, now=NOW
    ).add_draft(config, provenance, NOW)
    repository = FakeAssistantRepository()
    repository.save(assistant.approve("v1r1", "admin-2", NOW))
    bundle = Bundle(
        tenant_id=service.tenant_id,
        bundle_id=bundle_id,
        user_id=service.user_id,
        residency_zone="eu",
        packages=(BundlePackage(package_id, 1, content_hash, ContainerRef("k", 1, "0" * 64)),),
        state=BundleState.BUILT,
        created_at=NOW,
        updated_at=NOW,
    )
    return [
        {"package_id": o.package_id, "version": o.version, "config": o.config, "token": o.token}
        for o in sign_assistant_overlays(
            bundle, assistants=repository, signer=service.signer, clock=FakeClock()
        )
    ]


@pytest.fixture
def overlays(service, monkeypatch):
    served: dict[str, list] = {}
    original = service.handle_api

    def handle_api(method, path, query, body):
        parts = path.strip("/").split("/")
        if method == "GET" and len(parts) == 4 and parts[:2] == ["v1", "bundles"] and parts[3] == "assistant":
            return 200, {"bundle_id": parts[2], "overlays": served.get(parts[2], [])}
        return original(method, path, query, body)

    monkeypatch.setattr(service, "handle_api", handle_api)
    return served


def test_an_approved_config_is_kept_beside_the_bundle_and_read_offline(ready, bundle_id, service, overlays):
    overlays[bundle_id] = approve_for(service, bundle_id, "pkg_welcome")
    assert fetch_assistant(ready, bundle_id) == ["pkg_welcome"]
    ready.session = Airplane()
    read = read_assistant(ready, bundle_id, "pkg_welcome")
    assert read["config"] == a_config() and read["claims"]["config_id"] == "v1r1"
    assert read["claims"]["provenance"]["approved_by"] == "admin-2"
    with pytest.raises(BundleNotFound):
        read_assistant(ready, bundle_id, "pkg_second")


def test_an_overlay_for_other_content_or_with_a_swapped_config_is_refused(
    ready, bundle_id, service, overlays
):
    overlays[bundle_id] = approve_for(service, bundle_id, "pkg_welcome", content_hash="f" * 64)
    with pytest.raises(OverlayInvalid, match="does not hold"):
        fetch_assistant(ready, bundle_id)
    overlay = approve_for(service, bundle_id, "pkg_welcome")[0]
    overlay["config"] = a_config("A summary the admin never approved for this course.")
    overlays[bundle_id] = [overlay]
    with pytest.raises(OverlayInvalid, match="not the one the service signed"):
        fetch_assistant(ready, bundle_id)
    assert not overlay_path(ready, bundle_id, "pkg_welcome").exists()


def test_an_overlay_edited_on_the_device_is_refused_when_read(ready, bundle_id, service, overlays):
    overlays[bundle_id] = approve_for(service, bundle_id, "pkg_welcome")
    fetch_assistant(ready, bundle_id)
    path = overlay_path(ready, bundle_id, "pkg_welcome")
    stored = json.loads(path.read_text())
    stored["config"]["summary"] = "Edited on the device to say something else entirely."
    path.write_text(json.dumps(stored))
    with pytest.raises(OverlayInvalid):
        read_assistant(ready, bundle_id, "pkg_welcome")


def test_an_older_or_withdrawn_overlay_restored_on_disk_is_refused_offline(ready, bundle_id, service, overlays):
    # Both overlays are genuine and signed: only the device's sealed record tells them apart.
    overlays[bundle_id] = approve_for(service, bundle_id, "pkg_welcome")
    fetch_assistant(ready, bundle_id)
    path = overlay_path(ready, bundle_id, "pkg_welcome")
    older = path.read_bytes()
    overlays[bundle_id] = approve_for(
        service, bundle_id, "pkg_welcome", config=a_config("The config the admin approved later.")
    )
    fetch_assistant(ready, bundle_id)
    ready.session = Airplane()
    assert read_assistant(ready, bundle_id, "pkg_welcome")["config"] == a_config("The config the admin approved later.")
    path.write_bytes(older)
    with pytest.raises(OverlayInvalid, match="not the one this device kept"):
        read_assistant(ready, bundle_id, "pkg_welcome")
    # Withdrawn (no longer served): the device dropped it; a restored copy stays refused.
    ready.session = requests.Session()
    overlays[bundle_id] = []
    fetch_assistant(ready, bundle_id)
    path.write_bytes(older)
    with pytest.raises(OverlayInvalid, match="not the one this device kept"):
        read_assistant(ready, bundle_id, "pkg_welcome")


def test_an_overlay_no_longer_served_is_dropped_and_a_removed_bundle_takes_it_along(
    ready, bundle_id, service, overlays
):
    overlays[bundle_id] = approve_for(service, bundle_id, "pkg_welcome")
    fetch_assistant(ready, bundle_id)
    overlays[bundle_id] = []
    assert fetch_assistant(ready, bundle_id) == []
    assert not overlay_path(ready, bundle_id, "pkg_welcome").exists()
    overlays[bundle_id] = approve_for(service, bundle_id, "pkg_welcome")
    fetch_assistant(ready, bundle_id)
    ready.remove(bundle_id)
    with pytest.raises(BundleNotFound):
        read_assistant(ready, bundle_id, "pkg_welcome")


def _announce_approval(service, bundle_id: str) -> None:
    for feed in service.feeds.values():
        feed.append(
            {
                "seq": len(feed) + 1, "type": "assistant_config.approved", "bundle_id": bundle_id,
                "at": "2026-11-28T12:00:00Z", "event_id": f"evt_{len(feed)}", "package_id": "pkg_welcome",
                "version": 1, "config_id": "v1r1", "revision": 1,
            }
        )  # fmt: skip


def test_an_approval_in_the_feed_fetches_and_verifies_the_overlay_before_it_is_acknowledged(
    ready, bundle_id, service, overlays
):
    ready.sync_once()
    assert not overlay_path(ready, bundle_id, "pkg_welcome").exists()
    overlays[bundle_id] = approve_for(service, bundle_id, "pkg_welcome")
    _announce_approval(service, bundle_id)
    result = ready.sync_once()
    [change] = [c for c in result.changes if c.type == "assistant_config.approved"]
    assert change.bundle_id == bundle_id and change.reason is None
    ready.session = Airplane()
    assert read_assistant(ready, bundle_id, "pkg_welcome")["claims"]["config_id"] == "v1r1"


def test_an_approval_whose_overlay_does_not_verify_keeps_nothing_and_the_feed_goes_on(
    ready, bundle_id, service, overlays
):
    ready.sync_once()
    overlays[bundle_id] = approve_for(service, bundle_id, "pkg_welcome", content_hash="f" * 64)
    _announce_approval(service, bundle_id)
    result = ready.sync_once()
    [change] = [c for c in result.changes if c.type == "assistant_config.approved"]
    assert change.reason and change.reason.startswith("assistant overlay refused: ")
    assert not overlay_path(ready, bundle_id, "pkg_welcome").exists()
    assert ready.sync_once().changes == []  # acknowledged: not read again


def test_an_approval_read_offline_is_not_acknowledged_and_is_applied_next_time(
    ready, bundle_id, service, overlays, monkeypatch
):
    from content_service.device.errors import Offline

    ready.sync_once()
    overlays[bundle_id] = approve_for(service, bundle_id, "pkg_welcome")
    _announce_approval(service, bundle_id)

    def unreachable(self, bundle):
        raise Offline("no network")

    with monkeypatch.context() as patch:
        patch.setattr(type(ready.api), "bundle_assistant", unreachable)
        with pytest.raises(Offline):
            ready.sync_once()
    assert not overlay_path(ready, bundle_id, "pkg_welcome").exists()
    assert [c.type for c in ready.sync_once().changes] == ["assistant_config.approved"]
    assert overlay_path(ready, bundle_id, "pkg_welcome").exists()


def test_the_cli_prints_the_verified_config_and_refuses_in_one_line(tmp_path, monkeypatch):
    import time

    import typer
    from typer.testing import CliRunner

    from content_service.cli.device import register
    from tests.unit.device.conftest import WELCOME
    from tests.unit.device.fake_service import FakeService

    app = typer.Typer()
    register(app)
    app.command("other")(lambda: None)
    live = FakeService(now=time.time).start()
    try:
        served = {}
        original = live.handle_api
        monkeypatch.setattr(
            live,
            "handle_api",
            lambda m, p, q, b: (
                (200, {"overlays": served.get(p.split("/")[3], [])})
                if m == "GET" and p.endswith("/assistant")
                else original(m, p, q, b)
            ),
        )
        home = str(tmp_path / "device")

        def run(*args):
            return CliRunner().invoke(app, ["device", *args, "--home", home], catch_exceptions=False)

        bundle_id = live.add_bundle({"pkg_welcome": WELCOME})
        assert run("enroll", "--api", live.api_url, "--token", live.token).exit_code == 0
        assert run("download", bundle_id).exit_code == 0
        missing = run("assistant", bundle_id, "pkg_welcome")
        assert (
            missing.exit_code == 1 and "BundleNotFound" in missing.stderr and missing.stderr.count("\n") == 1
        )
        served[bundle_id] = approve_for(live, bundle_id, "pkg_welcome")
        shown = run("assistant", bundle_id, "pkg_welcome")
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.stdout)["config"] == a_config()
        live.stop()
        offline = run("assistant", bundle_id, "pkg_welcome")
        assert offline.exit_code == 0 and json.loads(offline.stdout)["claims"]["config_id"] == "v1r1"
    finally:
        live.stop()


def resigned(service, overlay: dict, **changes) -> dict:
    """The overlay with its claims changed and signed again by the service's own key."""
    from content_service.crypto.signing import verify
    from content_service.domain.assistant import OVERLAY_TYP

    claims = verify(overlay["token"], {"keys": [service.signer.public_jwk()]}, typ=OVERLAY_TYP)
    claims.update(changes)
    return {**overlay, "token": service.signer.sign(claims, typ=OVERLAY_TYP)}


@pytest.mark.parametrize(
    ("changes", "refusal"),
    [
        ({"tenant_id": "tenant-b"}, "another tenant"),
        ({"iss": "someone-else"}, "names issuer 'someone-else'"),
        ({"iss": None}, "names issuer None"),
        ({"bundle_id": "bnd_" + "0" * 32}, "another bundle or package"),
        ({"package_id": "pkg_second"}, "another bundle or package"),
    ],
)
def test_an_overlay_signed_for_another_tenant_issuer_bundle_or_package_is_refused(
    ready, bundle_id, service, overlays, changes, refusal
):
    # Given a device whose enrolment knows its tenant
    assert ready.record.tenant_id == service.tenant_id
    # When the service's own key signed the overlay, but for someone else
    overlays[bundle_id] = [resigned(service, approve_for(service, bundle_id, "pkg_welcome")[0], **changes)]
    # Then the device keeps nothing
    with pytest.raises(OverlayInvalid, match=refusal):
        fetch_assistant(ready, bundle_id)
    assert not overlay_path(ready, bundle_id, "pkg_welcome").exists()


def test_a_kept_overlay_of_another_tenant_is_refused_when_read_offline(ready, bundle_id, service, overlays):
    # Given a genuine overlay kept, then swapped on disk for the same package's overlay of another tenant
    overlays[bundle_id] = approve_for(service, bundle_id, "pkg_welcome")
    fetch_assistant(ready, bundle_id)
    path = overlay_path(ready, bundle_id, "pkg_welcome")
    foreign = resigned(service, json.loads(path.read_text()), tenant_id="tenant-b")
    path.write_text(json.dumps(foreign))
    ready.session = Airplane()
    with pytest.raises(OverlayInvalid, match="another tenant"):
        read_assistant(ready, bundle_id, "pkg_welcome")


def test_the_signed_overlay_names_the_issuer_and_tenant(service, bundle_id):
    from content_service.crypto.signing import verify
    from content_service.domain.assistant import OVERLAY_TYP

    token = approve_for(service, bundle_id, "pkg_welcome")[0]["token"]
    claims = verify(token, {"keys": [service.signer.public_jwk()]}, typ=OVERLAY_TYP)
    assert claims["iss"] == "content-service" and claims["tenant_id"] == service.tenant_id


def test_a_draft_never_reaches_the_device(ready, bundle_id, service, overlays):
    # Given a package version whose only config is a draft (generated, never approved)
    config = a_config()
    member = next(p for p in service.bundles[bundle_id].packages if p["package_id"] == "pkg_welcome")
    provenance = Provenance(
        "local-extractive", "yake", "assistant-config.local/v1", "a" * 64,
        InputDigest(member["content_hash"], (FileRead("index.html", "b" * 64),)), canonical_sha256(config),
        {}, "author-1", NOW, {},
    )  # fmt: skip
    repository = FakeAssistantRepository()
    repository.save(
        PackageAssistant.start(
            tenant_id=service.tenant_id,
            package_id="pkg_welcome",
            version=1,
            content_hash=member["content_hash"],
            now=NOW,
        ).add_draft(config, provenance, NOW)
    )
    bundle = Bundle(
        tenant_id=service.tenant_id,
        bundle_id=bundle_id,
        user_id=service.user_id,
        residency_zone="eu",
        packages=(BundlePackage("pkg_welcome", 1, member["content_hash"], ContainerRef("k", 1, "0" * 64)),),
        state=BundleState.BUILT,
        created_at=NOW,
        updated_at=NOW,
    )
    # When the service signs the bundle's overlays and the device fetches them
    signed = sign_assistant_overlays(bundle, assistants=repository, signer=service.signer, clock=FakeClock())
    overlays[bundle_id] = [
        {"package_id": o.package_id, "version": o.version, "config": o.config, "token": o.token}
        for o in signed
    ]
    # Then there is nothing to sign, nothing kept, and nothing to read
    assert signed == [] and fetch_assistant(ready, bundle_id) == []
    with pytest.raises(BundleNotFound):
        read_assistant(ready, bundle_id, "pkg_welcome")


def test_a_package_id_that_is_not_one_names_no_overlay_file(ready, bundle_id) -> None:
    with pytest.raises(BundleNotFound, match="not a package id"):
        overlay_path(ready, bundle_id, "../licence")


def test_a_stored_overlay_that_is_not_json_or_has_no_token_is_refused(ready, bundle_id, service, overlays):
    overlays[bundle_id] = approve_for(service, bundle_id, "pkg_welcome")
    fetch_assistant(ready, bundle_id)
    path = overlay_path(ready, bundle_id, "pkg_welcome")
    path.write_bytes(b"\xff not json")
    with pytest.raises(OverlayInvalid, match="is not JSON"):
        read_assistant(ready, bundle_id, "pkg_welcome")
    path.write_text(json.dumps(["a list"]))
    with pytest.raises(OverlayInvalid, match="has no token"):
        read_assistant(ready, bundle_id, "pkg_welcome")
    path.write_text(json.dumps({"token": 7}))
    with pytest.raises(OverlayInvalid, match="has no token"):
        read_assistant(ready, bundle_id, "pkg_welcome")


def test_an_overlay_whose_token_does_not_verify_or_names_another_package_is_refused(
    ready, bundle_id, service, overlays
):
    overlay = approve_for(service, bundle_id, "pkg_welcome")[0]
    header, payload, signature = overlay["token"].split(".")
    overlays[bundle_id] = [{**overlay, "token": f"{header}.{payload}.{signature[::-1]}"}]
    with pytest.raises(OverlayInvalid, match="does not verify"):
        fetch_assistant(ready, bundle_id)
    overlays[bundle_id] = [{**overlay, "package_id": "pkg_second"}]
    with pytest.raises(OverlayInvalid, match="another bundle or package"):
        fetch_assistant(ready, bundle_id)
    assert not overlay_path(ready, bundle_id, "pkg_second").exists()


def test_an_overlay_is_checked_against_a_manifest_that_is_there_and_verifies(
    ready, bundle_id, service, overlays
):
    overlays[bundle_id] = approve_for(service, bundle_id, "pkg_welcome")
    fetch_assistant(ready, bundle_id)
    manifest = ready.store.bundle(bundle_id).manifest
    token = manifest.read_text("ascii")
    manifest.write_text(token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"), "ascii")
    with pytest.raises(OverlayInvalid, match="manifest of bundle .* does not verify"):
        read_assistant(ready, bundle_id, "pkg_welcome")
    manifest.unlink()
    with pytest.raises(BundleNotFound, match="is not downloaded"):
        read_assistant(ready, bundle_id, "pkg_welcome")
