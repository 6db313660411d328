"""Shared helpers for the container tests: deterministic randomness and small containers."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Sequence

from content_service.crypto import ContainerReader, ContainerSummary, seal

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


def fixed_random(seed: bytes) -> Callable[[int], bytes]:
    """A repeatable stand-in for ``os.urandom``, only for tests and committed vectors."""
    counter = 0

    def draw(n: int) -> bytes:
        nonlocal counter
        out = b""
        while len(out) < n:
            out += hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()
            counter += 1
        return out[:n]

    return draw


def replay(data: bytes) -> Callable[[int], bytes]:
    """A random source that hands out ``data`` in order, so a vector's randomness is explicit."""
    stream = io.BytesIO(data)

    def draw(n: int) -> bytes:
        chunk = stream.read(n)
        assert len(chunk) == n, "the vector does not hold enough random bytes"
        return chunk

    return draw


def make_container(
    files: Sequence[tuple[str, bytes]],
    *,
    key: bytes = KEY,
    segment_size: int = 64,
    seed: bytes = b"seed",
) -> tuple[bytes, ContainerSummary]:
    """Seal in-memory files with a repeatable random source; return the bytes and the summary."""
    out = io.BytesIO()
    summary = seal(
        [(path, io.BytesIO(data)) for path, data in files],
        key,
        out,
        segment_size=segment_size,
        _random=fixed_random(seed),
    )
    return out.getvalue(), summary


def read_everything(container: bytes, key: bytes = KEY) -> dict[str, bytes]:
    """Open a container and read every file whole, which checks every segment and every hash."""
    reader = ContainerReader(io.BytesIO(container), key)
    return {entry.path: reader.read_file(entry.path) for entry in reader.files()}
