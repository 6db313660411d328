"""The brand logo: a raster image judged by its own bytes, capped, named by its SHA-256."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from content_service.domain.errors import InvalidTransition, PayloadTooLarge, ValidationFailed
from content_service.domain.logo import LOGO_HARD_MAX_BYTES, BrandLogo, UnsupportedLogoType, sniff
from content_service.domain.tenant import Branding, TenantSettings
from content_service.domain.zones import DEFAULT_ZONES, Zones
from tests.logos import SVG, jpeg_header, png, webp_header

NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)
ZONES = Zones.parse(DEFAULT_ZONES)
CAP = 256 * 1024


@pytest.mark.parametrize(
    ("data", "media_type"),
    [(png(), "image/png"), (jpeg_header(), "image/jpeg"), (webp_header(), "image/webp")],
    ids=["png", "jpeg", "webp"],
)
def test_a_logo_is_named_by_its_bytes_and_their_own_signature(data: bytes, media_type: str) -> None:
    logo = BrandLogo.of(data, f"{media_type}; charset=binary", max_bytes=CAP)
    assert logo == BrandLogo(hashlib.sha256(data).hexdigest(), media_type, len(data))
    assert sniff(data) == media_type
    assert BrandLogo.from_dict(logo.as_dict()) == logo


@pytest.mark.parametrize("content_type", [None, "", "image/svg+xml", "image/gif", "application/json", "text/html"])
def test_a_media_type_other_than_png_jpeg_webp_is_a_415(content_type: str | None) -> None:
    with pytest.raises(UnsupportedLogoType) as refused:
        BrandLogo.of(png(), content_type, max_bytes=CAP)
    assert refused.value.status == 415
    if content_type == "image/svg+xml":
        assert "scripts" in refused.value.detail


def test_bytes_of_another_type_than_declared_are_a_422() -> None:
    with pytest.raises(ValidationFailed, match="image/png image, not the image/jpeg"):
        BrandLogo.of(png(), "image/jpeg", max_bytes=CAP)


@pytest.mark.parametrize(
    "data",
    [SVG, b"GIF89a" + b"\x00" * 20, b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, b"RIFF\x00\x00\x00\x00WAVEfmt "],
    ids=["svg-declared-png", "gif", "png-without-ihdr", "riff-not-webp"],
)
def test_bytes_that_are_no_supported_image_are_a_422_whatever_they_claim(data: bytes) -> None:
    with pytest.raises(ValidationFailed, match="signature is no PNG"):
        BrandLogo.of(data, "image/png", max_bytes=CAP)


def test_an_empty_logo_is_a_422() -> None:
    with pytest.raises(ValidationFailed, match="empty"):
        BrandLogo.of(b"", "image/png", max_bytes=CAP)


def test_a_logo_over_the_cap_is_a_413_and_no_setting_lifts_the_hard_ceiling() -> None:
    big = png() + b"\x00" * 2048
    assert BrandLogo.of(big, "image/png", max_bytes=len(big)).size == len(big)
    with pytest.raises(PayloadTooLarge) as refused:
        BrandLogo.of(big, "image/png", max_bytes=len(big) - 1)
    assert refused.value.status == 413
    huge = png() + b"\x00" * LOGO_HARD_MAX_BYTES
    with pytest.raises(PayloadTooLarge):
        BrandLogo.of(huge, "image/png", max_bytes=10 * LOGO_HARD_MAX_BYTES)


@pytest.mark.parametrize(
    "claims",
    [
        {"sha256": "A" * 64, "media_type": "image/png", "size": 10},
        {"sha256": "a" * 63, "media_type": "image/png", "size": 10},
        {"sha256": "a" * 64, "media_type": "image/svg+xml", "size": 10},
        {"sha256": "a" * 64, "media_type": "image/png", "size": 0},
        {"sha256": "a" * 64, "media_type": "image/png", "size": LOGO_HARD_MAX_BYTES + 1},
        {"sha256": "a" * 64, "media_type": "image/png", "size": True},
        {"sha256": "a" * 64, "media_type": "image/png", "size": 10, "url": "https://evil"},
        ["a" * 64, "image/png", 10],
    ],
    ids=["upper-hex", "short-hex", "svg", "empty", "over-ceiling", "bool-size", "extra-key", "not-object"],
)
def test_a_logo_the_overlay_names_is_checked_again(claims: object) -> None:
    with pytest.raises(ValidationFailed):
        BrandLogo.from_dict(claims)


def test_bytes_are_the_logo_only_with_its_size_sha256_and_type() -> None:
    data = png()
    logo = BrandLogo.of(data, "image/png", max_bytes=CAP)
    logo.check(data)
    flipped = bytearray(data)
    flipped[-5] ^= 1
    for other in (bytes(flipped), data + b"\x00", data[:-1]):
        with pytest.raises(ValidationFailed):
            logo.check(other)
    assert logo.data_url(data).startswith("data:image/png;base64,iVBORw0KGgo")
    with pytest.raises(ValidationFailed):
        logo.data_url(bytes(flipped))


def test_the_stylesheet_points_brand_logo_at_the_file_or_data_url_and_nothing_else() -> None:
    data = png()
    logo = BrandLogo.of(data, "image/png", max_bytes=CAP)
    branded = Branding("Acme", "#0a5cff", logo=logo)
    assert '--brand-logo: url("content-branding-logo.png");' in branded.stylesheet(logo.filename)
    assert f'--brand-logo: url("{logo.data_url(data)}");' in branded.stylesheet(logo.data_url(data))
    assert "--brand-logo" not in branded.stylesheet()
    assert "--brand-logo" not in Branding("Acme", "#0a5cff").stylesheet(logo.filename)
    for hostile in ('x.png");} body{background:url("https://evil', "https://evil/logo.png", "data:text/html,<b>"):
        with pytest.raises(ValidationFailed):
            branded.stylesheet(hostile)


def test_the_logo_rides_in_the_branding_dict_only_when_there_is_one() -> None:
    logo = BrandLogo.of(png(), "image/png", max_bytes=CAP)
    assert "logo" not in Branding("Acme", "#0a5cff").as_dict()
    branded = Branding("Acme", "#0a5cff", logo=logo)
    assert branded.as_dict()["logo"] == logo.as_dict()
    assert Branding.from_dict(branded.as_dict()) == branded


def test_a_logo_needs_branding_new_branding_keeps_it_and_no_branding_drops_it() -> None:
    logo = BrandLogo.of(png(), "image/png", max_bytes=CAP)
    unbranded = TenantSettings.defaults("tenant-a", "eu")
    with pytest.raises(InvalidTransition, match="no branding for a logo"):
        unbranded.change(zones=ZONES, by="admin", now=NOW, logo=logo)
    branded = unbranded.change(zones=ZONES, by="admin", now=NOW, branding=Branding("Acme", "#0a5cff"))
    with_logo = branded.change(zones=ZONES, by="admin", now=NOW, logo=logo)
    assert with_logo.branding is not None and with_logo.branding.logo == logo
    renamed = with_logo.change(zones=ZONES, by="admin", now=NOW, branding=Branding("Acme 2", "#000000"))
    assert renamed.branding is not None and renamed.branding.logo == logo
    claims = renamed.branding_claims(1)
    assert claims is not None and claims["branding"]["logo"] == logo.as_dict()  # type: ignore[index]
    without = renamed.change(zones=ZONES, by="admin", now=NOW, logo=None)
    assert without.branding is not None and without.branding.logo is None
    assert renamed.change(zones=ZONES, by="admin", now=NOW, branding=None).branding is None
