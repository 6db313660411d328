"""Seal a checked package zip into its content container, streaming, in constant memory.

``build_and_seal`` is the build the service runs: every file is read from the archive once, and
on that one pass it is checked, hashed and written to the spool the store takes (``filepass``,
several files at once on several threads); it is then sealed from the spool in the archive's
order. ``seal_package`` seals an already-built zip.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from content_service.crypto import ContainerSummary, ContainerWriter, seal
from content_service.domain.package import FileEntry, PackageManifest
from content_service.packaging.boundary import BUILD_CRASHED, guarded, package_boundary
from content_service.packaging.filepass import (
    READ_SIZE,
    available_workers,
    hand_over,
    handing_over,
    spooled_files,
)
from content_service.packaging.inspect import BlobStore, Parser, SandboxSource, default_parser, make_manifest
from content_service.packaging.limits import ImportLimits
from content_service.packaging.zipsafe import ChunkReader, SafeZip


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
    workers: int | None = None,
) -> BuiltPackage:
    """The whole build in one pass per file: check, inflate, CRC, SHA-256, store and seal.

    ``content_key`` is called once the archive's structure and its descriptor have passed, so
    a refused package costs no key. Raises ``PackageRejected`` as ``build_from_zip`` does
    (files already stored are harmless, being content-addressed); the store's and the key
    service's own errors propagate so that the delivery is retried. Every file is stored when
    it returns, also by a store that stores in the background (``filepass.handing_over``). ``workers`` threads spool
    independent files at once (``limits.build_workers``, else every CPU available); the
    container and the manifest are the same whatever their number.
    """
    subject = f"building {source.name}"
    with package_boundary(BUILD_CRASHED, subject):
        archive = SafeZip.open(source, limits)
    files: list[FileEntry] = []
    with archive:
        with package_boundary(BUILD_CRASHED, subject):
            parse = parser or default_parser()
            descriptor = parse(SandboxSource(archive, limits.max_descriptor_bytes))
        key = content_key()
        count = workers or limits.build_workers or available_workers()
        buffer = bytearray(READ_SIZE)
        with (
            # Left last: every spool is gone and the container closed before the store's uploads
            # are waited for; a failure anywhere has the store drop what it still holds.
            handing_over(store),
            destination.open("wb") as sink,
            closing(spooled_files(archive, archive.files, workdir, count)) as spooled,
        ):
            # The container's own SHA-256 is over the ciphertext, which exists only as it is
            # written: it cannot be derived from the files' digests, so it is a second hash.
            writer = _HashingWriter(sink)
            container = ContainerWriter(key, writer)  # type: ignore[arg-type]
            for file in spooled:
                # The spool was hashed as it was written; the seal encrypts those same bytes.
                sealed = container.add(file.entry.name, file.chunks(buffer), file.sha256)
                if sealed.length != file.length:  # the private spool changed under the build
                    raise OSError(f"the spool of {file.entry.name!r} no longer holds what was written")
                hand_over(store, file)
                files.append(FileEntry(file.entry.name, file.length, file.media_type, file.sha256))
            summary = container.finish()
    with package_boundary(BUILD_CRASHED, subject):
        manifest = make_manifest(descriptor, files)
    return BuiltPackage(manifest, SealedContainer(destination, summary, writer.digest.hexdigest()))
