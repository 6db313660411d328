"""Sealing then opening gives back every file, and any byte range, from only the segments it needs."""

from __future__ import annotations

import io
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from content_service.crypto import (
    ContainerPathNotFound,
    ContainerReader,
    InvalidContainerInput,
    seal,
)
from content_service.crypto.header import HEADER_SIZE
from tests.unit.crypto.support import KEY, make_container, read_everything

SEG = 64


@pytest.mark.parametrize(
    "files",
    [
        [],
        [("empty", b"")],
        [("a", b""), ("b", b""), ("c", b"")],
        [("exact", b"e" * SEG)],
        [("exact3", b"e" * (3 * SEG))],
        [("over", b"o" * (SEG + 1))],
        [("under", b"u" * (SEG - 1))],
        [(f"dir/{i:03}.txt", bytes([i]) * i) for i in range(60)],
        [("leçons/ünïcødé.html", "é".encode() * 70), ("日本語/テスト.txt", b"x"), ("emoji/\U0001f600", b"y")],
    ],
    ids=[
        "no files",
        "one empty",
        "three empty",
        "one segment",
        "three segments",
        "one byte over",
        "one byte under",
        "many files",
        "non-ascii paths",
    ],
)
def test_every_file_comes_back_exactly(files):
    container, summary = make_container(files)
    assert read_everything(container) == dict(files)
    assert summary.size == len(container)
    assert [e.path for e in summary.files] == [p for p, _ in files]


@settings(max_examples=60, deadline=None)
@given(
    contents=st.lists(st.binary(max_size=400), max_size=6),
    segment_size=st.integers(64, 200),
)
def test_round_trip_for_any_files_and_segment_size(contents, segment_size):
    files = [(f"f{i}", data) for i, data in enumerate(contents)]
    container, summary = make_container(files, segment_size=segment_size)
    reader = ContainerReader(io.BytesIO(container), KEY)
    assert reader.files() == summary.files
    assert {p: reader.read_file(p) for p, _ in files} == dict(files)
    reader.verify()


def test_the_default_segment_size_is_64_kib_and_recorded_in_the_header():
    out = io.BytesIO()
    summary = seal([("a", io.BytesIO(b"x" * 200_000))], KEY, out)
    reader = ContainerReader(io.BytesIO(out.getvalue()), KEY)
    assert summary.segment_size == reader.segment_size == 65536
    assert reader.read_file("a") == b"x" * 200_000


def _layout_file(prefix_bytes: int, length: int) -> tuple[bytes, bytes]:
    """A container whose file of interest starts mid-segment, so ranges cross segment boundaries."""
    data = bytes((i * 7 + 3) % 251 for i in range(length))
    container, _ = make_container([("pad", b"p" * prefix_bytes), ("file", data)])
    return container, data


def test_every_range_of_a_small_file_reads_exactly():
    container, data = _layout_file(37, 3 * SEG + 5)
    reader = ContainerReader(io.BytesIO(container), KEY)
    for start in range(len(data) + 1):
        for end in range(start, len(data) + 1):
            assert reader.read_range("file", start, end - start) == data[start:end]


@settings(max_examples=200, deadline=None)
@given(
    prefix=st.integers(0, 3 * SEG),
    length=st.integers(0, 6 * SEG),
    data=st.data(),
)
def test_ranges_at_and_around_segment_boundaries(prefix, length, data):
    container, content = _layout_file(prefix, length)
    reader = ContainerReader(io.BytesIO(container), KEY)
    # Boundaries of the file, and of segments, seen from inside the file.
    edges = {0, length} | {k * SEG - prefix + d for k in range(8) for d in (-1, 0, 1)}
    points = sorted(e for e in edges if 0 <= e <= length)
    start = data.draw(st.sampled_from(points))
    end = data.draw(st.sampled_from([p for p in points if p >= start] + [length + 10]))
    assert reader.read_range("file", start, end - start) == content[start:end]


def test_a_range_read_fetches_only_the_segments_that_cover_it():
    container, data = _layout_file(10, 20 * SEG)
    requests: list[tuple[int, int]] = []

    def source(offset: int, length: int) -> bytes:
        requests.append((offset, length))
        return container[offset : offset + length]

    reader = ContainerReader(source, KEY, size=len(container))
    requests.clear()
    # File bytes 300..400 are stream bytes 310..410, which lie in segments 4, 5 and 6.
    assert reader.read_range("file", 300, 100) == data[300:400]
    step = SEG + 16
    assert requests == [(HEADER_SIZE + 4 * step, 3 * step)]


def test_a_range_read_succeeds_even_when_other_segments_are_damaged():
    container, data = _layout_file(0, 20 * SEG)
    damaged = bytearray(container)
    step = SEG + 16
    for segment in (0, 1, 2, 10, 11, 12):
        damaged[HEADER_SIZE + segment * step + 5] ^= 0xFF
    reader = ContainerReader(io.BytesIO(bytes(damaged)), KEY)
    assert reader.read_range("file", 5 * SEG, 3 * SEG) == data[5 * SEG : 8 * SEG]


def test_the_file_object_seeks_and_reads_like_a_file():
    container, data = _layout_file(5, 5 * SEG + 3)
    reader = ContainerReader(io.BytesIO(container), KEY)
    with reader.open("file") as f:
        assert f.seekable() and f.readable()
        assert f.read(10) == data[:10]
        assert f.seek(-7, io.SEEK_END) == len(data) - 7
        assert f.read() == data[-7:]
        assert f.read(5) == b""
        f.seek(100)
        assert f.tell() == 100
        buffer = bytearray(50)
        assert f.readinto(buffer) == 50 and bytes(buffer) == data[100:150]
        f.seek(0)
        assert b"".join(iter(lambda: f.read(13), b"")) == data
        with pytest.raises(ValueError):
            f.seek(-1)


def test_a_file_object_works_under_a_buffered_reader():
    container, data = _layout_file(5, 5 * SEG + 3)
    reader = ContainerReader(io.BytesIO(container), KEY)
    assert io.BufferedReader(reader.open("file"), buffer_size=40).read() == data


def test_an_unknown_path_is_a_typed_error():
    container, _ = make_container([("a", b"1")])
    reader = ContainerReader(io.BytesIO(container), KEY)
    with pytest.raises(ContainerPathNotFound):
        reader.open("b")
    with pytest.raises(ValueError):
        reader.read_range("a", 2, 1)


@pytest.mark.parametrize(
    "path", ["", "/abs", "a/../b", "a//b", "./a", "a/.", "back\\slash", "nul\x00", "tab\tname", "\ud800"]
)
def test_seal_refuses_paths_that_could_escape_or_confuse_a_reader(path):
    with pytest.raises(InvalidContainerInput):
        seal([(path, io.BytesIO(b"x"))], KEY, io.BytesIO())


def test_seal_refuses_a_duplicate_path():
    with pytest.raises(InvalidContainerInput):
        seal([("a", io.BytesIO(b"1")), ("a", io.BytesIO(b"2"))], KEY, io.BytesIO())


@pytest.mark.parametrize("key", [b"", b"k" * 16, b"k" * 31, b"k" * 33])
def test_seal_and_open_refuse_a_key_that_is_not_256_bits(key):
    with pytest.raises(ValueError):
        seal([], key, io.BytesIO())
    container, _ = make_container([])
    with pytest.raises(ValueError):
        ContainerReader(io.BytesIO(container), key)


def test_the_library_makes_a_fresh_salt_and_nonce_prefix_for_every_container():
    first, second = io.BytesIO(), io.BytesIO()
    seal([("a", io.BytesIO(b"same"))], KEY, first)
    seal([("a", io.BytesIO(b"same"))], KEY, second)
    assert first.getvalue()[5:33] != second.getvalue()[5:33]
    assert first.getvalue()[HEADER_SIZE:] != second.getvalue()[HEADER_SIZE:]


class _Pattern(io.RawIOBase):
    """A generated input stream of ``size`` bytes that never holds more than one chunk."""

    def __init__(self, size: int) -> None:
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self._left)
        buffer[:n] = b"\xa5" * n
        self._left -= n
        return n


class _Sink(io.RawIOBase):
    """An output that counts bytes and keeps none of them."""

    def __init__(self) -> None:
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.size += len(data)
        return len(data)


def test_sealing_64_mib_keeps_memory_flat():
    size = 64 << 20
    tracemalloc.start()
    try:
        summary = seal([("big.bin", _Pattern(size)), ("small", io.BytesIO(b"x"))], KEY, _Sink())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary.files[0].length == size
    # About three 64 KiB buffers are alive at once; 1 MiB leaves room, 64 MiB would not fit.
    assert peak < 1 << 20, f"peak {peak} bytes"


def test_verifying_a_large_container_keeps_memory_flat(tmp_path):
    path = tmp_path / "big.csc"
    with path.open("wb") as out:
        seal([("big.bin", _Pattern(24 << 20))], KEY, out)
    with path.open("rb") as source:
        tracemalloc.start()
        try:
            reader = ContainerReader(source, KEY)
            reader.verify()
            with reader.open("big.bin") as f:
                while f.read(1 << 20):
                    pass
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    # verify() reads 1 MiB batches and read(1 MiB) asks for 1 MiB: a few MiB, whatever the size.
    assert peak < 5 << 20, f"peak {peak} bytes"


def test_a_range_read_callable_needs_the_container_size():
    container, _ = make_container([("a", b"1")])
    with pytest.raises(ValueError):
        ContainerReader(lambda offset, length: container[offset : offset + length], KEY)


def test_the_summary_matches_what_a_reader_sees():
    container, summary = make_container([("a", b"1" * 100), ("b", b"")], segment_size=80)
    reader = ContainerReader(io.BytesIO(container), KEY)
    assert summary.format_version == reader.format_version == 1
    assert summary.key_commitment == reader.key_commitment
    assert summary.files == reader.files() and summary.files_size == 100
    assert reader.size == summary.size == HEADER_SIZE + summary.segments * 16 + reader._segments.layout.plaintext_size
