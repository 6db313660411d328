"""Real logo bytes for tests: a PNG written here (zlib and CRC-32, no image library needed), and
the smallest headers of JPEG and WebP files, which is all the signature check reads."""

from __future__ import annotations

import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int = 4, height: int = 4, rgb: tuple[int, int, int] = (10, 92, 255)) -> bytes:
    """A valid RGB PNG of one colour (decodes in any viewer)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows))
        + _chunk(b"IEND", b"")
    )


def jpeg_header() -> bytes:
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 32


def webp_header() -> bytes:
    return b"RIFF\x24\x00\x00\x00WEBPVP8L" + b"\x00" * 32


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
