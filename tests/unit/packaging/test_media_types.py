"""Media types come from our own table, so a manifest is the same on every machine."""

from __future__ import annotations

import pytest

from content_service.packaging.media_types import DEFAULT_MEDIA_TYPE, media_type


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("index.html", "text/html; charset=utf-8"),
        ("A/B/INDEX.HTM", "text/html; charset=utf-8"),
        ("js/app.min.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("imsmanifest.xml", "application/xml"),
        ("img/photo.JPG", "image/jpeg"),
        ("icons/logo.svg", "image/svg+xml"),
        ("fonts/a.woff2", "font/woff2"),
        ("media/clip.mp4", "video/mp4"),
        ("assets/inner.zip", "application/zip"),
    ],
)
def test_known_extensions_have_their_media_type(path: str, expected: str) -> None:
    assert media_type(path) == expected


@pytest.mark.parametrize("path", ["README", "data.unknownext", ".hidden", "dir.html/file"])
def test_anything_else_is_an_opaque_byte_stream(path: str) -> None:
    assert media_type(path) == DEFAULT_MEDIA_TYPE
