"""Build a package version in container format version 2: one file object per file, and an index.

The pass per file is the one ``containers.build_and_seal`` makes (``filepass``: inflate, size and
CRC-32 checks, SHA-256, spool, store content-addressed), then the file is sealed from its spool as
a deterministic file object under the lineage key and given to the lineage's object sink, which
stores it unless the lineage already holds it (the same file in an earlier version), and may do so
in the background, as the blob store does (``filepass.handing_over``). Last, the index is sealed
under the version's content key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Protocol

from content_service.crypto import ContainerSummary
from content_service.crypto.delta import FORMAT_VERSION_2, ObjectEntry, object_entry, seal_index, seal_object
from content_service.crypto.header import DEFAULT_SEGMENT_SIZE
from content_service.domain.package import FileEntry
from content_service.packaging.boundary import BUILD_CRASHED, package_boundary
from content_service.packaging.containers import BuiltPackage, SealedContainer
from content_service.packaging.filepass import available_workers, hand_over, handing_over, spooled_files
from content_service.packaging.inspect import BlobStore, Parser, SandboxSource, default_parser, make_manifest
from content_service.packaging.limits import ImportLimits
from content_service.packaging.zipsafe import SafeZip


class ObjectSink(Protocol):
    """Where a version 2 build's sealed file objects go: one lineage's objects, named by their SHA-256.

    A sink that stores in the background also has ``finish`` and ``abandon``, as a
    ``filepass.BackgroundBlobStore`` does; the build calls them as it does the blob store's.
    """

    def put_file(self, name: str, path: Path) -> None:
        """Store the object at ``path`` as ``name`` unless the lineage holds it; may move the file away."""
        ...


def build_and_seal_objects(
    source: Path,
    limits: ImportLimits,
    store: BlobStore,
    content_key: Callable[[], bytes],
    lineage_key: Callable[[], bytes],
    objects: ObjectSink,
    destination: Path,
    *,
    workdir: Path,
    parser: Parser | None = None,
    segment_size: int = DEFAULT_SEGMENT_SIZE,
    workers: int | None = None,
) -> BuiltPackage:
    """Check and store every file, seal each as a file object, and write the sealed index to ``destination``.

    The keys are asked for only once the archive and its descriptor have passed, as in
    ``build_and_seal``. Raises ``PackageRejected`` the same way; ``workers`` as there.
    """
    subject = f"building {source.name}"
    with package_boundary(BUILD_CRASHED, subject):
        archive = SafeZip.open(source, limits)
    files: list[FileEntry] = []
    entries: list[ObjectEntry] = []
    with archive:
        with package_boundary(BUILD_CRASHED, subject):
            parse = parser or default_parser()
            descriptor = parse(SandboxSource(archive, limits.max_descriptor_bytes))
        version_key, lineage = content_key(), lineage_key()
        count = workers or limits.build_workers or available_workers()
        # The store has every file, and the sink every object, once the block ends
        # (``filepass.handing_over``), or neither holds any it still held.
        with (
            handing_over(store),
            handing_over(objects),
            closing(spooled_files(archive, archive.files, workdir, count)) as spooled,
        ):
            for number, file in enumerate(spooled):
                # A path of its own: a sink that stores in the background takes the file away.
                object_path = workdir / f"object-{number}.csob"
                try:
                    with file.path.open("rb") as spool, object_path.open("wb") as out:
                        sealed = seal_object(spool, lineage, file.sha256, out, segment_size=segment_size)  # type: ignore[arg-type]
                    # Sealed first: the blob store may take the spool away.
                    hand_over(store, file)
                    indexed = object_entry(lineage, file.entry.name, sealed)
                    objects.put_file(indexed.object_name, object_path)
                finally:
                    object_path.unlink(missing_ok=True)
                files.append(FileEntry(file.entry.name, file.length, file.media_type, file.sha256))
                entries.append(indexed)
    with package_boundary(BUILD_CRASHED, subject):
        manifest = make_manifest(descriptor, files)
    index = seal_index(entries, version_key, segment_size=segment_size)
    destination.write_bytes(index)
    summary = ContainerSummary(
        format_version=FORMAT_VERSION_2,
        size=len(index),
        segment_size=segment_size,
        segments=0,
        files=tuple(e.as_index_entry() for e in entries),
        key_commitment=index[22:54].hex(),
    )
    return BuiltPackage(manifest, SealedContainer(destination, summary, hashlib.sha256(index).hexdigest()))
