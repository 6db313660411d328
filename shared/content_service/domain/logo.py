"""A tenant's brand logo: a raster image named by its SHA-256, carried by the branding overlay.

The logo is the overlay's one asset. Its bytes live beside the bundles, named by their SHA-256;
the signed overlay names the SHA-256, the media type and the size, so a device (or an export)
keeps bytes only when they are exactly the ones an admin uploaded.

Only PNG, JPEG and WebP are taken, and the type is judged by the bytes' own signature (magic
bytes), which must agree with the media type the uploader declared. SVG is refused on purpose: an
SVG is a document that can carry scripts, event handlers and references to other resources, and
a logo is shown inside pages of every package of the tenant; a raster image cannot run anything.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

from content_service.domain.errors import PROBLEM_BASE, DomainError, PayloadTooLarge, ValidationFailed

#: The media types a logo may have, each with the file extension an export gives it.
LOGO_MEDIA_TYPES: dict[str, str] = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
#: The default upload limit (the ``branding_logo_max_bytes`` setting may lower or raise it).
DEFAULT_LOGO_MAX_BYTES = 256 * 1024
#: No overlay may name a larger logo, whatever a deployment's setting: a device and an export
#: bound what they fetch by this before trusting anything else.
LOGO_HARD_MAX_BYTES = 1024 * 1024
#: The logo's file name in an export (and the base of its device file), beside content-branding.css.
LOGO_FILE_STEM = "content-branding-logo"

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class UnsupportedLogoType(DomainError):
    problem_type = PROBLEM_BASE + "unsupported-media-type"
    title = "The request body's media type is not supported"
    status = 415


def sniff(data: bytes) -> str | None:
    """The image type the bytes' signature names (PNG, JPEG, WebP), or None."""
    # PNG: the 8-byte signature, then the IHDR chunk, which must come first.
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return "image/png"
    # JPEG: start of image, then a marker.
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    # WebP: a RIFF container whose form type is WEBP, then a VP8/VP8L/VP8X chunk.
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and data[12:15] == b"VP8":
        return "image/webp"
    return None


def declared_media_type(content_type: str | None) -> str:
    """The media type of a ``Content-Type`` header (parameters dropped), or an ``UnsupportedLogoType``."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in LOGO_MEDIA_TYPES:
        shown = media_type or "no media type"
        reason = " (SVG can carry scripts)" if media_type == "image/svg+xml" else ""
        raise UnsupportedLogoType(
            f"a logo is {', '.join(LOGO_MEDIA_TYPES)}, not {shown}{reason}", accepted=list(LOGO_MEDIA_TYPES)
        )
    return media_type


@dataclass(frozen=True)
class BrandLogo:
    """The logo the branding names: the SHA-256 (hex) of its bytes, their media type and size."""

    sha256: str
    media_type: str
    size: int

    def __post_init__(self) -> None:
        if not isinstance(self.sha256, str) or not _SHA256.fullmatch(self.sha256):
            raise ValidationFailed("the logo's sha256 is not 64 lowercase hex digits")
        if self.media_type not in LOGO_MEDIA_TYPES:
            raise ValidationFailed(f"the logo's media type is not one of {', '.join(LOGO_MEDIA_TYPES)}")
        if not isinstance(self.size, int) or isinstance(self.size, bool) or not 0 < self.size <= LOGO_HARD_MAX_BYTES:
            raise ValidationFailed(f"the logo's size is not 1 to {LOGO_HARD_MAX_BYTES} bytes")

    @classmethod
    def of(cls, data: bytes, content_type: str | None, *, max_bytes: int) -> BrandLogo:
        """The logo of uploaded bytes, or the problem they are.

        An undeclared or unsupported media type is a 415, bytes over ``max_bytes`` a 413, bytes
        whose signature is no supported image or another type than declared a 422.
        """
        declared = declared_media_type(content_type)
        limit = min(max_bytes, LOGO_HARD_MAX_BYTES)
        if len(data) > limit:
            raise PayloadTooLarge(f"the logo is {len(data)} bytes; the limit is {limit}", limit=limit)
        if not data:
            raise ValidationFailed("the logo is empty")
        found = sniff(data)
        if found is None:
            raise ValidationFailed(f"the bytes are not a {declared} image (their signature is no PNG, JPEG or WebP)")
        if found != declared:
            raise ValidationFailed(f"the bytes are a {found} image, not the {declared} the Content-Type declares")
        return cls(hashlib.sha256(data).hexdigest(), declared, len(data))

    def check(self, data: bytes) -> None:
        """Refuse (ValidationFailed) bytes that are not this logo: size, SHA-256 and signature."""
        if len(data) != self.size:
            raise ValidationFailed(f"the logo is {len(data)} bytes, not the {self.size} the branding names")
        if hashlib.sha256(data).hexdigest() != self.sha256:
            raise ValidationFailed("the logo's SHA-256 is not the one the branding names")
        if sniff(data) != self.media_type:
            raise ValidationFailed(f"the logo is not a {self.media_type} image")

    @property
    def filename(self) -> str:
        return f"{LOGO_FILE_STEM}.{LOGO_MEDIA_TYPES[self.media_type]}"

    def data_url(self, data: bytes) -> str:
        """The checked bytes as a ``data:`` URL (only base64 characters: safe inside CSS quotes)."""
        self.check(data)
        return f"data:{self.media_type};base64,{base64.b64encode(data).decode('ascii')}"

    def as_dict(self) -> dict[str, object]:
        return {"sha256": self.sha256, "media_type": self.media_type, "size": self.size}

    @classmethod
    def from_dict(cls, data: object) -> BrandLogo:
        if not isinstance(data, dict) or set(data) != {"sha256", "media_type", "size"}:
            raise ValidationFailed("the logo is not an object of sha256, media_type and size")
        return cls(data["sha256"], data["media_type"], data["size"])
