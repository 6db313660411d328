"""The pass over each file of a build: inflate, check size and CRC-32, SHA-256, spool to disk.

Both builds (``containers.build_and_seal``, ``delta.build_and_seal_objects``) take their files
from ``spooled_files``: each file is inflated and checked by the sandbox, hashed and written once
to a private spool in the work directory, and then handed to the caller, in the archive's order,
to seal from the spool (the page cache) and to give to the blob store (``hand_over``), which may
take the spool file itself rather than a copy of it. A store may also store it in the background
(S3 uploads it in threads while the build seals the next files): the build hands its files over
inside ``handing_over``, which waits for the store to have every file before the build returns,
and has it drop what it holds when the build fails.

Files are independent until they are sealed, so with ``workers`` > 1 they are spooled by a pool
of threads (inflating, CRC-32 and SHA-256 all release the GIL on large buffers) while the caller
seals the ones already spooled. The caller still receives them in the archive's order, so the
output is the same byte for byte, and the first file that fails in that order raises, with the
problem the serial build gives. Up to ``LOOKAHEAD`` files per worker are spooled ahead of the one
being sealed, so that a worker whose file is done goes on with the next while a large file ahead
of it is still inflating (with one per worker, it waited for the caller to pass that file).
Memory stays at about two chunks per worker (a file waiting its turn holds nothing); disk holds
at most ``LOOKAHEAD`` x ``workers`` + 1 spools, every one a file of the package.
"""

from __future__ import annotations

import contextvars
import hashlib
import os
import tempfile
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from content_service.packaging.boundary import BUILD_CRASHED, guarded
from content_service.packaging.inspect import BlobStore
from content_service.packaging.media_types import media_type
from content_service.packaging.zipsafe import SafeEntry, SafeZip

#: Files spooled ahead of the one being sealed, per worker (module docstring). Files of a package
#: differ in size a thousandfold, so a short look-ahead leaves workers idle behind a large one:
#: on the 500 MB benchmark package two workers took 1.62 s with 2, 1.45 s with 4, 1.27-1.35 s with
#: 8, and no less with 16 (2026-12-04). The disk holds no more for it: every spool is a file of
#: the package, which /tmp must hold anyway.
LOOKAHEAD = 8

#: The spool is read back in pieces of this size; a multiple of the 64 KiB segment.
READ_SIZE = 1024 * 1024


def available_workers() -> int:
    """The CPUs this process may run on (a Lambda's vCPUs grow with its memory)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass
class SpooledFile:
    """One checked file on disk: its plaintext, exactly as the archive holds it, and its digest."""

    entry: SafeEntry
    path: Path
    length: int
    sha256: str

    @property
    def media_type(self) -> str:
        return media_type(self.entry.name)

    def chunks(self, buffer: bytearray) -> Iterator[memoryview]:
        """The spooled bytes, read into ``buffer``; each piece is valid until the next is asked for."""
        view = memoryview(buffer)
        with self.path.open("rb", buffering=0) as spool:
            while n := spool.readinto(view):
                yield view[:n]

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


class FileBlobStore(BlobStore, Protocol):
    """A blob store that can take a spool file itself (a rename on the same file system)."""

    def put_file(self, sha256: str, size: int, media_type: str, path: Path) -> None:
        """Store the file at ``path``; the store may move it away."""
        ...


class BackgroundBlobStore(FileBlobStore, Protocol):
    """A blob store whose ``put_file`` may return before the file is stored (S3: uploads in threads)."""

    def finish(self) -> None:
        """Return once every file handed over is stored; raise the first error storing one did."""
        ...

    def abandon(self) -> None:
        """The build failed: stop storing, and remove every file the store took and still holds."""
        ...


@contextmanager
def handing_over(store: BlobStore) -> Iterator[None]:
    """Around a build's ``hand_over`` calls: all of its files are stored when this block ends.

    A store that stores in the background (``BackgroundBlobStore``) is finished once the block
    is done, so its first error is the build's, and abandoned when the block raises; any other
    store has stored each file before ``hand_over`` returned.
    """
    try:
        yield
    except BaseException:
        abandon = getattr(store, "abandon", None)
        if abandon is not None:
            abandon()
        raise
    finish = getattr(store, "finish", None)
    if finish is not None:
        finish()


def hand_over(store: BlobStore, spooled: SpooledFile) -> None:
    """Give a spooled file to the store: the spool itself where the store can take it, else a stream."""
    put_file = getattr(store, "put_file", None)
    if put_file is not None:
        put_file(spooled.sha256, spooled.length, spooled.media_type, spooled.path)
        return
    with spooled.path.open("rb") as spool:
        store.put(spooled.sha256, spooled.length, spooled.media_type, spool)


def spool_entry(archive: SafeZip, entry: SafeEntry, workdir: Path) -> SpooledFile:
    """Inflate, check, hash and spool one entry; safe to run in several threads at once."""
    chunks = guarded(archive.iter_chunks_concurrently(entry), BUILD_CRASHED, f"reading {entry.name!r}")
    descriptor, name = tempfile.mkstemp(dir=workdir, suffix=".spool")
    path = Path(name)
    try:
        digest = hashlib.sha256()
        length = 0
        with os.fdopen(descriptor, "wb", buffering=0) as spool:
            for chunk in chunks:
                digest.update(chunk)
                view = memoryview(chunk)
                while view:
                    view = view[spool.write(view) :]
                length += len(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return SpooledFile(entry, path, length, digest.hexdigest())


def spooled_files(
    archive: SafeZip, entries: Sequence[SafeEntry], workdir: Path, workers: int
) -> Iterator[SpooledFile]:
    """Every entry spooled, in ``entries``' order; each spool is removed once the caller moves on.

    The first entry (in order) that fails raises its problem; entries after it may have been
    spooled already and are discarded.
    """
    if workers <= 1:
        for entry in entries:
            spooled = spool_entry(archive, entry, workdir)
            try:
                yield spooled
            finally:
                spooled.discard()
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="build") as pool:
        upcoming = iter(entries)
        pending: deque[Future[SpooledFile]] = deque()

        def submit_next() -> None:
            entry = next(upcoming, None)
            if entry is not None:
                # In the caller's context, so that what a worker logs carries the build's correlation.
                run = contextvars.copy_context().run
                pending.append(pool.submit(run, spool_entry, archive, entry, workdir))

        try:
            for _ in range(LOOKAHEAD * workers):
                submit_next()
            while pending:
                spooled = pending.popleft().result()
                # The workers go on with the next files while the caller seals this one.
                submit_next()
                try:
                    yield spooled
                finally:
                    spooled.discard()
        finally:
            _abandon(pending)


def _abandon(pending: deque[Future[SpooledFile]]) -> None:
    """Cancel what has not started and remove the spools of what finished after a failure."""
    for future in pending:
        future.cancel()
    for future in pending:
        if future.cancelled():
            continue
        # A later failure is not reported: the first one in order is.
        with suppress(BaseException):
            future.result().discard()
