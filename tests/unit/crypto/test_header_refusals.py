"""open_header: each refusal with its type and reason, and the bounds it accepts."""

from __future__ import annotations

import struct

import pytest

from content_service.crypto.errors import (
    ContainerKeyMismatch,
    ContainerTampered,
    ContainerTruncated,
    UnsupportedVersion,
)
from content_service.crypto.header import (
    FORMAT_VERSION,
    HEADER_SIZE,
    MAGIC,
    MAX_SEGMENT_SIZE,
    MIN_SEGMENT_SIZE,
    new_header,
    open_header,
)
from tests.unit.crypto.support import KEY, OTHER_KEY, fixed_random


def _header(segment_size: int = 1 << 16) -> bytes:
    header, _ = new_header(KEY, segment_size, fixed_random(b"h"))
    return header.encode()


def test_the_header_opens_to_what_was_sealed_at_both_segment_size_bounds() -> None:
    for size in (MIN_SEGMENT_SIZE, MAX_SEGMENT_SIZE):
        sealed, segment_key = new_header(KEY, size, fixed_random(b"h"))
        opened, opened_key = open_header(KEY, sealed.encode())
        assert (opened, opened_key) == (sealed, segment_key)
        assert opened.salt == sealed.encode()[9:25]


@pytest.mark.parametrize(
    ("data", "error", "detail"),
    [
        (MAGIC, ContainerTruncated, "the container is shorter than its header"),
        (_header()[: HEADER_SIZE - 1], ContainerTruncated, "the container is shorter than its header"),
        (
            b"PK\x03\x04" + _header()[4:],
            ContainerTampered,
            "the container does not start with the content container magic",
        ),
        (
            _header()[:5] + struct.pack(">I", MAX_SEGMENT_SIZE + 1) + _header()[9:],
            ContainerTampered,
            "the header's segment size is out of range",
        ),
        (
            _header()[:5] + struct.pack(">I", MIN_SEGMENT_SIZE - 1) + _header()[9:],
            ContainerTampered,
            "the header's segment size is out of range",
        ),
    ],
    ids=["magic-only", "one-byte-short", "wrong-magic", "segments-too-large", "segments-too-small"],
)
def test_a_bad_header_is_refused_with_its_reason(data: bytes, error: type[Exception], detail: str) -> None:
    with pytest.raises(error) as raised:
        open_header(KEY, data)
    assert str(raised.value) == detail


def test_another_version_is_refused_naming_it_even_when_its_header_is_shorter() -> None:
    data = MAGIC + bytes([FORMAT_VERSION + 1])
    with pytest.raises(UnsupportedVersion) as raised:
        open_header(KEY, data)
    assert str(raised.value) == f"container format version {FORMAT_VERSION + 1} is not supported"
    assert raised.value.extensions == {"version": FORMAT_VERSION + 1}


def test_another_key_is_refused_by_the_commitment() -> None:
    with pytest.raises(ContainerKeyMismatch) as raised:
        open_header(OTHER_KEY, _header())
    assert str(raised.value) == "the key does not match the container's key commitment"
