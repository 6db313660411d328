"""The branding overlay: signed by the service, refused on a device for any other tenant or rule."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from content_service.crypto.overlay import BRANDING_TYPE, OverlayRefused, verify_branding
from content_service.crypto.signing import LocalSigner, SignatureInvalid, TokenError, WrongTokenType
from content_service.domain.logo import BrandLogo
from content_service.domain.tenant import Branding, TenantSettings
from content_service.service.tenants import branding_overlay
from tests.fakes import FakeClock, FakeTenantSettings

BRANDING = Branding("Acme", "#0a5cff", None, (("--brand-radius", "4px"),))


@pytest.fixture
def signer() -> LocalSigner:
    return LocalSigner.generate()


def _jwks(signer: LocalSigner) -> dict:
    return {"keys": [signer.public_jwk()]}


def _overlay(signer: LocalSigner, branding: Branding | None = BRANDING, revision: int = 0) -> tuple[str | None, int]:
    store = FakeTenantSettings()
    if branding is not None or revision:
        store.save(TenantSettings("acme", "eu", branding=branding))
    return branding_overlay("acme", settings=store, signer=signer, clock=FakeClock(), served_zone="eu")


def test_a_branded_tenants_overlay_verifies_on_its_devices(signer) -> None:
    token, revision = _overlay(signer)
    assert token is not None and revision == 1
    assert verify_branding(token, _jwks(signer), "acme") == (BRANDING, 1)


def test_an_unbranded_tenant_has_no_overlay(signer) -> None:
    assert _overlay(signer, branding=None) == (None, 0)


def test_another_tenants_overlay_or_another_key_is_refused(signer) -> None:
    token, _ = _overlay(signer)
    assert token is not None
    with pytest.raises(OverlayRefused, match="another tenant"):
        verify_branding(token, _jwks(signer), "globex")
    with pytest.raises(TokenError):
        verify_branding(token, _jwks(LocalSigner.generate()), "acme")
    header, payload, signature = token.split(".")
    with pytest.raises(SignatureInvalid):
        verify_branding(f"{header}.{payload}x.{signature}", _jwks(signer), "acme")


def test_an_overlay_of_another_issuer_is_refused_where_the_issuer_is_pinned(signer) -> None:
    token, _ = _overlay(signer)
    assert token is not None
    assert verify_branding(token, _jwks(signer), "acme", issuer="content-service") == (BRANDING, 1)
    with pytest.raises(OverlayRefused, match="issuer"):
        verify_branding(token, _jwks(signer), "acme", issuer="another-service")


def test_a_manifest_is_not_an_overlay(signer) -> None:
    token = signer.sign({"tenant_id": "acme", "revision": 1, "branding": BRANDING.as_dict()}, typ="bundle-manifest+jwt")
    with pytest.raises(WrongTokenType):
        verify_branding(token, _jwks(signer), "acme")


@pytest.mark.parametrize(
    "branding",
    [
        {**BRANDING.as_dict(), "css_properties": {"--x": "url(https://evil)"}},
        {**BRANDING.as_dict(), "name": "Acme\u202e"},
        "Acme",
        {**BRANDING.as_dict(), "css_properties": ["--x"]},
        {**BRANDING.as_dict(), "name": 7},
    ],
)
def test_a_signed_overlay_that_breaks_a_branding_rule_is_still_refused(signer, branding) -> None:
    token = signer.sign(
        {"tenant_id": "acme", "revision": 3, "iat": int(datetime.now(UTC).timestamp()), "branding": branding},
        typ=BRANDING_TYPE,
    )
    with pytest.raises(OverlayRefused):
        verify_branding(token, _jwks(signer), "acme")


@pytest.mark.parametrize("revision", [0, -1, "1", True, None])
def test_an_overlay_without_a_positive_revision_is_refused(signer, revision) -> None:
    token = signer.sign({"tenant_id": "acme", "revision": revision, "branding": BRANDING.as_dict()}, typ=BRANDING_TYPE)
    with pytest.raises(TokenError):
        verify_branding(token, _jwks(signer), "acme")


def test_the_overlay_names_the_logo_and_a_mis_issued_logo_claim_is_refused(signer) -> None:
    logo = BrandLogo("ab" * 32, "image/png", 1234)
    branded = Branding("Acme", "#0a5cff", logo=logo)
    token, _ = _overlay(signer, branded)
    assert token is not None
    assert verify_branding(token, _jwks(signer), "acme") == (branded, 1)
    claims = {"iss": "content-service", "tenant_id": "acme", "revision": 1, "iat": 0}
    for bad in (
        {**logo.as_dict(), "media_type": "image/svg+xml"},
        {**logo.as_dict(), "size": 10 * 1024 * 1024},
        {**logo.as_dict(), "href": "https://evil.example/logo.png"},
    ):
        forged = signer.sign({**claims, "branding": {**branded.as_dict(), "logo": bad}}, typ=BRANDING_TYPE)
        with pytest.raises(OverlayRefused, match="logo"):
            verify_branding(forged, _jwks(signer), "acme")
