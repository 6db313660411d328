"""Seal a checked package zip into its content container, streaming, in constant memory.

``build_and_seal`` is the build the service runs: every file is read once, and on that one
pass it is checked, hashed, stored and sealed. ``seal_package`` seals an already-built zip.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from content_service.crypto import ContainerSummary, seal
from content_service.crypto.index import IndexEntry
from content_service.domain.package import FileEntry, PackageManifest
from content_service.packaging.boundary import BUILD_CRASHED, guarded, package_boundary
from content_service.packaging.inspect import BlobStore, Parser, SandboxSource, default_parser, make_manifest
from content_service.packaging.limits import ImportLimits
from content_service.packaging.media_types import media_type
from content_service.packaging.zipsafe import SafeEntry, SafeZip


class ChunkReader(io.RawIOBase):
    """A read-only stream over an iterator of byte chunks (one zip entry, inflated and checked).

    The seal reads in segment-sized pieces (64 KiB) while chunks are up to 1 MiB, so the
    current chunk is served through a moving memoryview, never re-sliced: a copy of the rest
    on every read would cost a chunk's size per segment.
    """

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            try:
                self._pending = memoryview(next(self._chunks))
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


class _Tee:
    """The chunks of one entry, written to a spool file on their way into the seal."""

    def __init__(self, chunks: Iterator[bytes], spool: BinaryIO) -> None:
        self._chunks = chunks
        self._spool = spool

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self._spool.write(chunk)
            yield chunk


class _OnePass:
    """Feeds each checked file to the seal once, and stores it when the seal has hashed it.

    Per file, one pass: the sandbox inflates and checks the size and CRC-32, the seal hashes
    (SHA-256) and encrypts, and the same bytes go to a spool that the blob store receives as
    soon as the seal reports the file's digest. Only one spool exists at a time.
    """

    def __init__(self, archive: SafeZip, store: BlobStore, workdir: Path) -> None:
        self._archive = archive
        self._store = store
        self._workdir = workdir
        self._spool: BinaryIO | None = None
        self._entry: SafeEntry | None = None
        self.files: list[FileEntry] = []

    def inputs(self) -> Iterator[tuple[str, ChunkReader]]:
        for entry in self._archive.files:
            self._entry = entry
            self._spool = tempfile.TemporaryFile(dir=self._workdir)  # noqa: SIM115 - closed in stored()
            chunks = guarded(self._archive.iter_chunks(entry), BUILD_CRASHED, f"reading {entry.name!r}")
            yield entry.name, ChunkReader(iter(_Tee(chunks, self._spool)))

    def stored(self, sealed: IndexEntry) -> None:
        """The seal has read and hashed the current file: hand its spool to the store."""
        entry, spool = self._entry, self._spool
        assert entry is not None and spool is not None and sealed.path == entry.name
        with spool:
            spool.seek(0)
            entry_media_type = media_type(entry.name)
            self._store.put(sealed.sha256, sealed.length, entry_media_type, spool)
        self._spool = None
        self.files.append(FileEntry(entry.name, sealed.length, entry_media_type, sealed.sha256))

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()


@dataclass(frozen=True)
class BuiltPackage:
    manifest: PackageManifest
    container: SealedContainer


def build_and_seal(
    source: Path,
    limits: ImportLimits,
    store: BlobStore,
    content_key: Callable[[], bytes],
    destination: Path,
    *,
    workdir: Path,
    parser: Parser | None = None,
) -> BuiltPackage:
    """The whole build in one pass per file: check, inflate, CRC, SHA-256, store and seal.

    ``content_key`` is called once the archive's structure and its descriptor have passed, so
    a refused package costs no key. Raises ``PackageRejected`` as ``build_from_zip`` does
    (files already stored are harmless, being content-addressed); the store's and the key
    service's own errors propagate so that the delivery is retried.
    """
    subject = f"building {source.name}"
    with package_boundary(BUILD_CRASHED, subject):
        archive = SafeZip.open(source, limits)
    with archive:
        with package_boundary(BUILD_CRASHED, subject):
            parse = parser or default_parser()
            descriptor = parse(SandboxSource(archive, limits.max_descriptor_bytes))
        key = content_key()
        one_pass = _OnePass(archive, store, workdir)
        try:
            with destination.open("wb") as sink:
                writer = _HashingWriter(sink)
                summary = seal(one_pass.inputs(), key, writer, on_file=one_pass.stored)  # type: ignore[arg-type]
        finally:
            one_pass.close()
    with package_boundary(BUILD_CRASHED, subject):
        manifest = make_manifest(descriptor, one_pass.files)
    return BuiltPackage(manifest, SealedContainer(destination, summary, writer.digest.hexdigest()))
