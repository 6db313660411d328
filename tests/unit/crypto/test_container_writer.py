"""ContainerWriter and seal, beyond the round trip: what a refusal carries, what on_file is told,
a caller's own digest, and streams that can only ``read``."""

from __future__ import annotations

import hashlib
import io

import pytest

from content_service.crypto import ContainerWriter, InvalidContainerInput, seal
from content_service.crypto.index import IndexEntry
from tests.unit.crypto.support import KEY, fixed_random


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("../x", "a path must be relative, without empty, '.' or '..' segments: '../x'"),
        ("a\\b", "a path may not contain control characters or backslashes: 'a\\\\b'"),
    ],
)
def test_a_bad_path_is_refused_naming_it_before_any_byte_is_read(path: str, detail: str) -> None:
    writer = ContainerWriter(KEY, io.BytesIO(), _random=fixed_random(b"w"))

    def never() -> list[bytes]:
        raise AssertionError("a chunk was read for a refused path")

    with pytest.raises(InvalidContainerInput) as raised:
        writer.add(path, iter(never, None))
    assert (raised.value.detail, raised.value.extensions) == (detail, {"path": path})


def test_a_path_given_twice_is_refused_naming_it() -> None:
    writer = ContainerWriter(KEY, io.BytesIO(), _random=fixed_random(b"w"))
    writer.add("a.txt", [b"one"])
    with pytest.raises(InvalidContainerInput) as raised:
        writer.add("a.txt", [b"two"])
    assert (raised.value.detail, raised.value.extensions) == (
        "the path 'a.txt' is given twice",
        {"path": "a.txt"},
    )


def test_a_digest_the_caller_computed_is_the_one_indexed() -> None:
    writer = ContainerWriter(KEY, io.BytesIO(), _random=fixed_random(b"w"))
    given = "ab" * 32  # not the bytes' digest: the writer trusts the caller's and does not hash again
    entry = writer.add("a.txt", [b"abc", b"def"], sha256=given)
    computed = writer.add("b.txt", [b"abc", b"def"])
    assert entry == IndexEntry("a.txt", 0, 6, given)
    assert computed == IndexEntry("b.txt", 6, 6, hashlib.sha256(b"abcdef").hexdigest())


class _ReadOnly(io.RawIOBase):
    """A stream with ``read`` and no ``readinto``, handing out at most 5 bytes per call."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    readinto = None  # type: ignore[assignment]

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        piece, self._data = self._data[: min(size, 5)], self._data[min(size, 5) :]
        return piece


def test_seal_tells_on_file_each_entry_as_it_is_read_and_reads_plain_read_streams() -> None:
    files = {"a.txt": b"alpha" * 30_000, "b/c.txt": b"", "d.bin": bytes(range(256)) * 3}
    seen: list[IndexEntry] = []
    read_only, with_readinto = io.BytesIO(), io.BytesIO()
    summary = seal(
        ((path, _ReadOnly(data)) for path, data in files.items()),
        KEY,
        read_only,
        on_file=seen.append,
        _random=fixed_random(b"s"),
    )
    seal(
        ((path, io.BytesIO(data)) for path, data in files.items()),
        KEY,
        with_readinto,
        _random=fixed_random(b"s"),
    )

    assert read_only.getvalue() == with_readinto.getvalue()
    offsets = [0, len(files["a.txt"]), len(files["a.txt"])]
    assert seen == [
        IndexEntry(path, offset, len(data), hashlib.sha256(data).hexdigest())
        for (path, data), offset in zip(files.items(), offsets, strict=True)
    ]
    assert summary.files == tuple(seen)
