"""isal and zlib inflate every entry to the same bytes, and refuse damaged ones with the same problems."""

from __future__ import annotations

import os
import random
import tempfile
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from content_service.packaging import inflate
from content_service.packaging.inflate import ISAL, ZLIB, Inflater
from content_service.packaging.limits import ImportLimits
from content_service.packaging.model import PackageRejected
from content_service.packaging.zipsafe import CHUNK_SIZE, SafeZip, stream_entry
from tests.zipcraft import Entry, build

# isal is a pinned runtime dependency, so a missing wheel is a broken install, not a reason to skip.
IMPLEMENTATIONS = [ZLIB, ISAL]


def _read(path: Path, implementation: Inflater) -> tuple[list[bytes], list[str]]:
    """Every file's bytes (or the problem codes) with one inflater."""
    contents: list[bytes] = []
    try:
        with SafeZip.open(path, ImportLimits(max_compression_ratio=10_000)) as archive:
            for entry in archive.files:
                contents.append(b"".join(stream_entry(archive._stream, entry, implementation)))
    except PackageRejected as rejected:
        return contents, [problem.code for problem in rejected.problems]
    return contents, []


def test_isal_is_installed_and_is_the_inflater_the_sandbox_uses() -> None:
    assert ISAL is not None
    assert inflate.FASTEST is ISAL


def _content(seed: int, size: int) -> bytes:
    rng = random.Random(seed)
    words = [bytes(rng.choices(range(97, 123), k=rng.randint(1, 9))) for _ in range(300)]
    text = b" ".join(rng.choices(words, k=size // 4 + 1))[:size]
    return text if seed % 3 else rng.randbytes(size)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2**16), st.integers(0, 3 * CHUNK_SIZE)), min_size=1, max_size=4),
    st.integers(1, 9),
)
def test_both_inflaters_read_the_same_bytes(files: list[tuple[int, int]], level: int) -> None:
    entries = []
    for number, (seed, size) in enumerate(files):
        data = _content(seed, size)
        deflater = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
        entries.append(Entry(f"f{number}.bin", data, payload=deflater.compress(data) + deflater.flush()))
    # mkstemp, not a name from `random`: hypothesis seeds `random` alike in every process, so parallel
    # runs (xdist workers, other checkouts) would write the same file under each other.
    handle, name = tempfile.mkstemp(suffix=".zip")
    os.close(handle)
    path = Path(name)
    try:
        path.write_bytes(build(entries))
        results = [_read(path, implementation) for implementation in IMPLEMENTATIONS]
    finally:
        path.unlink(missing_ok=True)

    assert results[0] == results[1]
    assert results[0][0] == [entry.data for entry in entries]


@pytest.mark.parametrize(
    "damage",
    [
        lambda payload: payload[: len(payload) // 2],
        lambda payload: payload + b"\x00junk",
        lambda payload: bytes([payload[0] | 0x06]) + payload[1:],
        lambda payload: payload[:10] + bytes(b ^ 0xFF for b in payload[10:40]) + payload[40:],
    ],
    ids=["cut", "trailing", "bad-block-type", "flipped"],
)
def test_both_inflaters_refuse_damaged_data_with_the_same_codes(damage, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = _content(1, 200_000)
    deflater = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    payload = damage(deflater.compress(data) + deflater.flush())
    path = tmp_path / "damaged.zip"
    path.write_bytes(build([Entry("a.bin", data, payload=payload)]))

    results = [_read(path, implementation) for implementation in IMPLEMENTATIONS]

    assert results[0] == results[1]
    assert results[0][1], "the damage must be detected"
