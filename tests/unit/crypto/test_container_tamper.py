"""Every alteration of a container is refused with a typed error; no bad plaintext ever comes out."""

from __future__ import annotations

import contextlib
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from content_service.crypto import (
    ContainerError,
    ContainerKeyMismatch,
    ContainerReader,
    ContainerTampered,
    ContainerTruncated,
    UnsupportedVersion,
)
from content_service.crypto.header import HEADER_SIZE
from tests.unit.crypto.support import KEY, OTHER_KEY, make_container, read_everything

SEG = 64
STEP = SEG + 16
FILES = [("index.html", b"<h1>" + b"lesson " * 20 + b"</h1>"), ("empty", b""), ("é.txt", b"z" * 70)]
CONTAINER, SUMMARY = make_container(FILES)


def _segment(container: bytes, index: int) -> slice:
    return slice(HEADER_SIZE + index * STEP, HEADER_SIZE + (index + 1) * STEP)


def _refused(container: bytes) -> ContainerError:
    with pytest.raises(ContainerError) as caught:
        read_everything(container)
    return caught.value


def test_the_untouched_container_opens():
    assert read_everything(CONTAINER) == dict(FILES)


@pytest.mark.parametrize("mask", [0x01, 0x80, 0xFF])
def test_every_single_byte_change_of_a_small_container_is_detected(mask):
    for position in range(len(CONTAINER)):
        altered = bytearray(CONTAINER)
        altered[position] ^= mask
        with pytest.raises(ContainerError):
            read_everything(bytes(altered))


_BIG, _ = make_container([(f"f{i}", bytes([i]) * (37 * i)) for i in range(12)], segment_size=100)


@settings(max_examples=300, deadline=None)
@given(position=st.integers(0, len(_BIG) - 1), value=st.integers(0, 255))
def test_any_byte_change_is_detected_and_no_range_read_returns_wrong_bytes(position, value):
    if _BIG[position] == value:
        return
    altered = bytearray(_BIG)
    altered[position] = value
    with pytest.raises(ContainerError):
        read_everything(bytes(altered))
    # A read that does not touch the altered segment is still right; one that does is refused.
    try:
        reader = ContainerReader(io.BytesIO(bytes(altered)), KEY)
    except ContainerError:
        return
    expected = read_everything(_BIG)
    for path, data in expected.items():
        for start in range(0, len(data), 50):
            with contextlib.suppress(ContainerError):
                assert reader.read_range(path, start, 60) == data[start : start + 60]


def test_truncation_at_every_segment_boundary_is_reported_as_truncation():
    assert SUMMARY.segments >= 4
    for kept in range(SUMMARY.segments):
        cut = CONTAINER[: HEADER_SIZE + kept * STEP]
        with pytest.raises(ContainerTruncated):
            ContainerReader(io.BytesIO(cut), KEY)


@pytest.mark.parametrize("length", [0, 1, 4, 5, 30, HEADER_SIZE - 1])
def test_a_container_cut_inside_its_header_is_truncated(length):
    with pytest.raises(ContainerTruncated):
        ContainerReader(io.BytesIO(CONTAINER[:length]), KEY)


def test_truncation_anywhere_is_refused():
    for length in range(len(CONTAINER)):
        with pytest.raises(ContainerError):
            ContainerReader(io.BytesIO(CONTAINER[:length]), KEY)


@pytest.mark.parametrize("extra", [b"\x00", b"\x00" * 16, b"\x00" * 17, b"\x00" * STEP])
def test_bytes_appended_to_a_container_are_refused(extra):
    _refused(CONTAINER + extra)


def test_appending_a_copy_of_the_last_segment_is_refused():
    last = CONTAINER[_segment(CONTAINER, SUMMARY.segments - 1)]
    _refused(CONTAINER + last)


def _read_one_byte_of_segment(container: bytes, index: int) -> None:
    """Read, through the public API, one plaintext byte that lives in segment ``index``.

    A single-byte range read never triggers the whole-file SHA-256 check, so these reads test the
    segment authentication alone. A segment holding only index bytes is read when opening.
    """
    reader = ContainerReader(io.BytesIO(container), KEY)
    for entry in reader.files():
        segment = range(index * SEG, (index + 1) * SEG)
        inside = [o for o in segment if entry.offset <= o < entry.offset + entry.length]
        if inside:
            reader.read_range(entry.path, inside[0] - entry.offset, 1)
            return


def test_swapping_two_segments_is_detected_by_segment_authentication():
    pairs = [(a, b) for a in range(SUMMARY.segments) for b in range(a + 1, SUMMARY.segments)]
    for a, b in pairs:
        altered = bytearray(CONTAINER)
        first, second = CONTAINER[_segment(CONTAINER, a)], CONTAINER[_segment(CONTAINER, b)]
        if len(first) != len(second):
            continue
        altered[_segment(CONTAINER, a)], altered[_segment(CONTAINER, b)] = second, first
        with pytest.raises(ContainerTampered):
            _read_one_byte_of_segment(bytes(altered), a)
        assert isinstance(_refused(bytes(altered)), ContainerTampered)


def test_dropping_an_inner_segment_is_detected():
    altered = CONTAINER[: _segment(CONTAINER, 1).start] + CONTAINER[_segment(CONTAINER, 1).stop :]
    _refused(altered)


def test_a_segment_spliced_from_another_container_with_the_same_key_is_detected():
    other, _ = make_container(FILES, seed=b"another container")
    assert other[HEADER_SIZE:] != CONTAINER[HEADER_SIZE:]
    for index in range(SUMMARY.segments):
        altered = bytearray(CONTAINER)
        altered[_segment(CONTAINER, index)] = other[_segment(other, index)]
        with pytest.raises(ContainerTampered):
            _read_one_byte_of_segment(bytes(altered), index)
        assert isinstance(_refused(bytes(altered)), ContainerTampered)


def test_another_containers_header_on_this_body_is_detected():
    other, _ = make_container(FILES, seed=b"another container")
    assert isinstance(_refused(other[:HEADER_SIZE] + CONTAINER[HEADER_SIZE:]), ContainerTampered)


def test_the_wrong_key_is_refused_before_any_segment_is_read():
    with pytest.raises(ContainerKeyMismatch):
        ContainerReader(io.BytesIO(CONTAINER), OTHER_KEY)


def test_an_unknown_format_version_is_refused_as_such():
    altered = bytearray(CONTAINER)
    altered[4] = 2
    with pytest.raises(UnsupportedVersion):
        ContainerReader(io.BytesIO(bytes(altered)), KEY)


def test_a_wrong_magic_is_refused():
    with pytest.raises(ContainerTampered):
        ContainerReader(io.BytesIO(b"PK\x03\x04" + CONTAINER[4:]), KEY)


def test_a_source_that_returns_short_reads_is_treated_as_truncated():
    def short(offset: int, length: int) -> bytes:
        return CONTAINER[offset : offset + length][:-1]

    with pytest.raises(ContainerTruncated):
        ContainerReader(short, KEY, size=len(CONTAINER))


def test_a_file_whose_hash_does_not_match_the_index_is_refused(monkeypatch):
    # Only a key holder can write a wrong hash into the authenticated index; the device checks anyway.
    import content_service.crypto.container as container_module

    real = container_module.IndexEntry

    def lying_entry(path, offset, length, sha256):
        return real(path, offset, length, "00" * 32 if path == "é.txt" else sha256)

    monkeypatch.setattr(container_module, "IndexEntry", lying_entry)
    forged, _ = make_container(FILES)
    monkeypatch.undo()
    reader = ContainerReader(io.BytesIO(forged), KEY)
    assert reader.read_range("é.txt", 0, 69) == b"z" * 69
    with pytest.raises(ContainerTampered):
        reader.read_file("é.txt")
    with pytest.raises(ContainerTampered):
        reader.open("é.txt").read()
    with pytest.raises(ContainerTampered):
        reader.verify()
