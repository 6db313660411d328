"""Seal a checked package zip into its content container, streaming, in constant memory."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from content_service.crypto import ContainerSummary, seal
from content_service.packaging.boundary import BUILD_CRASHED, guarded, package_boundary
from content_service.packaging.limits import ImportLimits
from content_service.packaging.zipsafe import SafeZip


class ChunkReader(io.RawIOBase):
    """A read-only stream over an iterator of byte chunks (one zip entry, inflated and checked)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


class _HashingWriter(io.RawIOBase):
    """Writes through to ``sink`` while hashing, so the container's SHA-256 needs no second read."""

    def __init__(self, sink: BinaryIO) -> None:
        self._sink = sink
        self.digest = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self.digest.update(data)
        return self._sink.write(data)


@dataclass(frozen=True)
class SealedContainer:
    path: Path
    summary: ContainerSummary
    sha256: str


def seal_package(source: Path, limits: ImportLimits, key: bytes, destination: Path) -> SealedContainer:
    """Encrypt every file of an already-built package zip into ``destination`` (a private work file).

    The zip is checked again by the sandbox as it is read: the container is made from the same
    checked bytes the manifest describes, never from a path on disk named by the archive.
    """
    with package_boundary(BUILD_CRASHED, f"sealing {source.name}"):
        archive = SafeZip.open(source, limits)
    with archive, destination.open("wb") as sink:
        writer = _HashingWriter(sink)
        files = (
            (
                entry.name,
                ChunkReader(guarded(archive.iter_chunks(entry), BUILD_CRASHED, f"sealing {entry.name!r}")),
            )
            for entry in archive.files
        )
        summary = seal(files, key, writer)  # type: ignore[arg-type]
    return SealedContainer(destination, summary, writer.digest.hexdigest())
