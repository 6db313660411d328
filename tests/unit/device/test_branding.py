"""The device applies its tenant's signed branding at launch, and refuses (unbranded, signalled) any other."""

from __future__ import annotations

import base64
import hashlib
import json
import os

import pytest

from content_service.crypto import LocalSigner
from content_service.device.branding import logo_path, overlay_path
from content_service.domain.logo import DEFAULT_LOGO_MAX_BYTES, BrandLogo
from content_service.domain.tenant import Branding
from tests.logos import png
from tests.unit.device.conftest import WELCOME, Airplane, enroll, make_agent

ACME = Branding("Acme <Learning>", "#0a5cff", "#112233", (("--brand-radius", "4px"),))
GLOBEX = Branding("Globex", "#00ff00")


def _page(agent, bundle_id):
    return agent.launch(bundle_id, "pkg_welcome", "index.html")


def test_a_device_takes_the_branding_at_enrolment_and_launch_injects_it_beside_the_content(
    tmp_path, fake_time, service, bundle_id
) -> None:
    service.brand(ACME)
    agent = enroll(tmp_path / "d", fake_time, service)
    agent.download(bundle_id)
    agent.fetch_licence(bundle_id)
    launch = _page(agent, bundle_id)
    assert agent.branding().branding == ACME
    assert b"--brand-primary: #0a5cff;" in launch.page and b"--brand-radius: 4px;" in launch.page
    assert b'content="Acme &lt;Learning&gt;"' in launch.page
    # The content itself is untouched: its bytes are in the page, its SHA-256 is the signed one.
    assert launch.content_sha256 == hashlib.sha256(WELCOME["index.html"]).hexdigest()
    assert launch.page.replace(launch.page[15 : launch.page.index(b"</style>") + 8], b"") == WELCOME["index.html"]
    # A file that is not a page is served as it is.
    assert agent.launch(bundle_id, "pkg_welcome", "images/logo.svg").page == WELCOME["images/logo.svg"]


def test_a_sync_fetches_the_overlay_only_when_the_signed_status_names_another_revision(ready, service) -> None:
    ready.sync_once()
    requests_before = service.branding_requests
    ready.sync_once()
    assert service.branding_requests == requests_before and ready.branding().branding is None
    service.brand(ACME)
    ready.sync_once()
    assert ready.branding().branding == ACME and service.branding_requests == requests_before + 1
    service.brand(GLOBEX)
    ready.sync_once()
    assert ready.branding().branding == GLOBEX
    service.brand(None)
    ready.sync_once()
    assert ready.branding().branding is None and not overlay_path(ready).exists()


def test_changing_the_branding_changes_no_manifest_licence_or_content_hash(ready, service, bundle_id) -> None:
    files = ready.store.bundle(bundle_id)
    before = {p.name: p.read_bytes() for p in files.root.iterdir() if p.is_file()}
    unbranded = _page(ready, bundle_id)
    service.brand(ACME)
    ready.sync_once()
    branded = _page(ready, bundle_id)
    assert branded.content_sha256 == unbranded.content_sha256 and branded.page != unbranded.page
    assert {p.name: p.read_bytes() for p in files.root.iterdir() if p.is_file()} == before


def test_a_forged_fetched_overlay_is_not_kept_and_is_signalled(ready, service) -> None:
    service.brand(ACME)
    ready.sync_once()
    # The payload swapped under the service's signature: the signature no longer verifies.
    service.mangle_branding = lambda token: ".".join(
        [token.split(".")[0], _b64(json.loads(_payload(token)) | {"branding": ACME.as_dict()}), token.split(".")[2]]
    )
    service.brand(GLOBEX)
    ready.sync_once()
    assert ready.branding().branding == ACME
    assert [s["type"] for s in service.signals] == ["device.branding_refused"]


def test_an_overlay_signed_by_a_key_the_device_does_not_trust_is_not_kept(ready, service) -> None:
    forger = LocalSigner.generate()
    service.mangle_branding = lambda token: forger.sign(json.loads(_payload(token)), typ="branding-overlay+jwt")
    service.brand(ACME)
    ready.sync_once()
    assert ready.branding().branding is None and not overlay_path(ready).exists()


def test_another_tenants_overlay_is_refused(ready, service) -> None:
    service.mangle_branding = lambda token: service.signer.sign(
        {**json.loads(_payload(token)), "tenant_id": "tenant-b"}, typ="branding-overlay+jwt"
    )
    service.brand(ACME)
    ready.sync_once()
    assert ready.branding().branding is None
    assert "another tenant" in service.signals[-1]["detail"]


def test_an_edited_stored_overlay_is_refused_at_launch_unbranded_and_signalled(
    ready, service, bundle_id, tmp_path, fake_time
) -> None:
    service.brand(ACME)
    ready.sync_once()
    path = overlay_path(ready)
    header, payload, signature = path.read_text().split(".")
    path.write_text(f"{header}.{payload}A.{signature}")
    offline = make_agent(ready.store.home, fake_time, session=Airplane())
    launch = _page(offline, bundle_id)
    assert launch.branding.branding is None and launch.branding.refused
    assert launch.page == WELCOME["index.html"]
    ready.flush()
    assert [s["type"] for s in service.signals] == ["device.branding_refused"]


def test_another_genuine_overlay_copied_in_is_not_the_one_the_state_sealed(ready, service, bundle_id) -> None:
    service.brand(ACME)
    ready.sync_once()
    older = overlay_path(ready).read_bytes()
    service.brand(GLOBEX)
    ready.sync_once()
    # A genuine, older overlay restored over the newer one: it verifies, but the root sealed another.
    overlay_path(ready).write_bytes(older)
    applied = ready.branding()
    assert applied.branding is None and "not the one this device kept" in str(applied.refused)


def test_an_older_fetched_overlay_is_refused(ready, service) -> None:
    service.brand(GLOBEX)
    service.brand(ACME)
    ready.sync_once()
    held = overlay_path(ready).read_bytes()
    service.mangle_branding = lambda token: service.signer.sign(
        {**json.loads(_payload(token)), "revision": 1}, typ="branding-overlay+jwt"
    )
    service.brand(GLOBEX)
    ready.sync_once()
    assert overlay_path(ready).read_bytes() == held and "older" in service.signals[-1]["detail"]


def _b64(claims: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")


def _payload(token: str) -> bytes:
    part = token.split(".")[1]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _logo_branding(service, data: bytes) -> Branding:
    """The tenant's branding with a logo: the service serves ``data`` as its bytes."""
    logo = BrandLogo.of(data, "image/png", max_bytes=DEFAULT_LOGO_MAX_BYTES)
    service.logo = data
    return Branding("Acme", "#0a5cff", logo=logo)


def test_a_good_logo_is_kept_with_the_overlay_and_offered_to_the_page_as_brand_logo(ready, service, bundle_id) -> None:
    data = png()
    service.brand(_logo_branding(service, data))
    ready.sync_once()
    applied = ready.branding()
    assert applied.logo == data and applied.refused is None
    assert logo_path(ready).read_bytes() == data
    launch = _page(ready, bundle_id)
    data_url = "data:image/png;base64," + base64.b64encode(data).decode()
    assert f'--brand-logo: url("{data_url}");'.encode() in launch.page
    # The content is untouched.
    assert launch.content_sha256 == hashlib.sha256(WELCOME["index.html"]).hexdigest()
    assert service.signals == []


@pytest.mark.parametrize("served", ["flipped", "longer", "shorter", "other-image"])
def test_fetched_logo_bytes_that_are_not_the_signed_ones_are_refused_and_signalled(
    ready, service, served
) -> None:
    service.brand(ACME)
    ready.sync_once()
    data = png()
    branding = _logo_branding(service, data)
    tampered = bytearray(data)
    tampered[-5] ^= 1
    service.logo = {
        "flipped": bytes(tampered),
        "longer": data + b"\x00" * 10_000_000,
        "shorter": data[:-1],
        "other-image": png(rgb=(255, 0, 0)),
    }[served]
    service.brand(branding)
    ready.sync_once()
    applied = ready.branding()
    # The overlay naming the logo is not kept: the held one (without a logo) stays.
    assert applied.branding == ACME and applied.logo is None
    assert not logo_path(ready).exists()
    assert [s["type"] for s in service.signals] == ["device.branding_refused"]
    assert "fetched branding logo" in service.signals[0]["detail"]


def test_a_stored_logo_edited_on_disk_is_refused_at_launch_unbranded_and_signalled(
    ready, service, bundle_id, fake_time
) -> None:
    data = png()
    service.brand(_logo_branding(service, data))
    ready.sync_once()
    logo_path(ready).write_bytes(png(rgb=(255, 0, 0)))
    offline = make_agent(ready.store.home, fake_time, session=Airplane())
    launch = _page(offline, bundle_id)
    assert launch.branding.branding is None and "stored branding logo" in str(launch.branding.refused)
    assert launch.page == WELCOME["index.html"]
    ready.flush()
    assert [s["type"] for s in service.signals] == ["device.branding_refused"]


def test_a_logo_removed_from_the_branding_is_removed_from_the_device(ready, service, bundle_id) -> None:
    service.brand(_logo_branding(service, png()))
    ready.sync_once()
    assert logo_path(ready).exists()
    service.brand(ACME)
    ready.sync_once()
    assert ready.branding().branding == ACME and not logo_path(ready).exists()
    assert b"--brand-logo" not in _page(ready, bundle_id).page


def test_a_fifo_in_place_of_the_stored_logo_is_refused_without_hanging(ready, service, fake_time) -> None:
    service.brand(_logo_branding(service, png()))
    ready.sync_once()
    path = logo_path(ready)
    path.unlink()
    os.mkfifo(path)  # an open for reading would wait for a writer for ever
    applied = make_agent(ready.store.home, fake_time, session=Airplane()).branding()
    assert applied.branding is None and "stored branding logo" in str(applied.refused)
