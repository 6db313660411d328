"""Opening a content container: random access to any byte range of any file.

A reader authenticates the header, the last segment (so a cut container is refused at once),
and the segments holding the index; after that, a read decrypts only the segments covering the
bytes asked for. Nothing unauthenticated is ever returned: each segment is checked before any
of its bytes are, and a whole-file read also checks the file's SHA-256 from the index.
"""

from __future__ import annotations

import hashlib
import hmac
import io
from collections.abc import Iterator
from typing import BinaryIO

from content_service.crypto.errors import ContainerPathNotFound, ContainerTampered
from content_service.crypto.header import FORMAT_VERSION, HEADER_SIZE, open_header
from content_service.crypto.index import FOOTER, FOOTER_SIZE, IndexEntry, decode_index
from content_service.crypto.segments import (
    RangeRead,
    SegmentCipher,
    SegmentLayout,
    SegmentReader,
    read_exactly,
)


class ContainerReader:
    """Random-access reader of one container.

    ``source`` is a seekable binary file or a ``RangeRead`` callable. ``size`` is the container's
    length in bytes: required with a callable, taken from the file otherwise (pass the length
    from the signed manifest to hold the file to it). ``key`` is the 32-byte content key. The
    constructor authenticates the header, the last segment and the index, and raises a
    ``ContainerError`` subclass if any of them fails. A reader is not safe to share between
    threads when its source is a file object (reads seek it).
    """

    def __init__(self, source: BinaryIO | RangeRead, key: bytes, *, size: int | None = None) -> None:
        read_at, self._size = range_reader(source, size)
        head = read_exactly(read_at, 0, min(HEADER_SIZE, self._size))
        self._header, segment_key = open_header(key, head)
        self._segments = SegmentReader(
            read_at,
            SegmentCipher(segment_key, head, self._header.nonce_prefix),
            SegmentLayout.for_container(self._size, HEADER_SIZE, self._header.segment_size),
        )
        plain_size = self._segments.layout.plaintext_size
        # Reading the footer always opens the last segment, so a truncated container fails here.
        footer = self._segments.read_plain(max(0, plain_size - FOOTER_SIZE), min(FOOTER_SIZE, plain_size))
        if len(footer) != FOOTER_SIZE:
            raise ContainerTampered("the container is too short to hold its footer")
        index_offset, index_length = FOOTER.unpack(footer)
        if index_offset + index_length + FOOTER_SIZE != plain_size:
            raise ContainerTampered("the container footer does not match the container's length")
        self._entries = decode_index(self._segments.read_plain(index_offset, index_length), index_offset)
        self._by_path = {entry.path: entry for entry in self._entries}

    @property
    def format_version(self) -> int:
        """The container format version (always the one this code writes, or opening failed)."""
        return FORMAT_VERSION

    @property
    def size(self) -> int:
        """The container's length in bytes."""
        return self._size

    @property
    def segment_size(self) -> int:
        """The plaintext size of every segment but the last."""
        return self._header.segment_size

    @property
    def key_commitment(self) -> str:
        """The header's key commitment (hex), which identifies the key and the container."""
        return self._header.key_commitment.hex()

    def files(self) -> tuple[IndexEntry, ...]:
        """The index: every file's path, offset, length and SHA-256, in stream order."""
        return self._entries

    def entry(self, path: str) -> IndexEntry:
        """The index entry of ``path``; ``ContainerPathNotFound`` if there is none."""
        try:
            return self._by_path[path]
        except KeyError:
            raise ContainerPathNotFound(f"the container holds no file {path!r}", path=path) from None

    def open(self, path: str) -> ContainerFile:
        """A read-only, seekable file object over one file; reading it start to end checks its SHA-256."""
        return ContainerFile(self._segments, self.entry(path))

    def read_range(self, path: str, start: int, length: int) -> bytes:
        """The bytes ``[start, start + length)`` of a file, cut at the file's end like ``read``.

        Only the segments covering the range are read and decrypted. When the range is the
        whole file, its SHA-256 is checked too.
        """
        return read_entry_range(self._segments, self.entry(path), start, length)

    def read_file(self, path: str) -> bytes:
        """A whole file, authenticated and checked against its SHA-256."""
        return self.read_range(path, 0, self.entry(path).length)

    def verify(self) -> None:
        """Authenticate every segment and check every file's SHA-256, in constant memory.

        This is what a device does once after a download, before it mounts the content.
        """
        verify_stream(self._segments, self._entries)


class ContainerFile(io.RawIOBase):
    """One file of a container as a read-only, seekable binary file.

    Reading from offset 0 to the end, in any chunk sizes, checks the file's SHA-256 when the
    last byte is read and raises ``ContainerTampered`` on a mismatch; other reads are still
    authenticated segment by segment.
    """

    def __init__(self, segments: SegmentReader, entry: IndexEntry) -> None:
        super().__init__()
        self._segments = segments
        self._entry = entry
        self._position = 0
        self._hasher: hashlib._Hash | None = hashlib.sha256()
        self._hashed = 0

    @property
    def entry(self) -> IndexEntry:
        """The index entry of this file."""
        return self._entry

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._checkClosed()  # type: ignore[attr-defined]
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._entry.length}[whence]
        if base + offset < 0:
            raise ValueError("cannot seek before the start of the file")
        self._position = base + offset
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        self._checkClosed()  # type: ignore[attr-defined]
        start = self._position
        end = self._entry.length
        if size is not None and size >= 0:
            end = min(end, start + size)
        data = self._segments.read_plain(self._entry.offset + start, end - start) if end > start else b""
        self._position = max(start, end)
        self._track(start, data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        memoryview(buffer).cast("B")[: len(data)] = data
        return len(data)

    def _track(self, start: int, data: bytes) -> None:
        """Hash bytes read in order from the start; check the digest once the last byte is in."""
        if self._hasher is None or start != self._hashed:
            return
        self._hasher.update(data)
        self._hashed += len(data)
        if self._hashed == self._entry.length:
            digest, self._hasher = self._hasher.hexdigest(), None
            check_digest(self._entry, digest)


def read_entry_range(segments: SegmentReader, entry: IndexEntry, start: int, length: int) -> bytes:
    """The bytes ``[start, start + length)`` of one file, cut at its end; a whole file is hash-checked."""
    if start < 0 or length < 0 or start > entry.length:
        raise ValueError(f"range start={start} length={length} is outside a {entry.length}-byte file")
    end = min(entry.length, start + length)
    data = segments.read_plain(entry.offset + start, end - start)
    if start == 0 and end == entry.length:
        check_digest(entry, hashlib.sha256(data).hexdigest())
    return data


def verify_stream(segments: SegmentReader, entries: tuple[IndexEntry, ...]) -> None:
    """Authenticate every segment and check each file's SHA-256 as its bytes go by, in constant memory.

    Plaintext after the last file (a version 2 object's length trailer) is authenticated and not hashed.
    """
    hashers = _StreamHashers(entries)
    for plaintext in segments.plaintext_batches():
        hashers.feed(plaintext)
    hashers.finish()


def check_digest(entry: IndexEntry, digest: str) -> None:
    """Raise ``ContainerTampered`` unless ``digest`` is the SHA-256 the index holds for ``entry``."""
    if not hmac.compare_digest(digest, entry.sha256):
        raise ContainerTampered(f"the SHA-256 of {entry.path!r} does not match the index", path=entry.path)


class _StreamHashers:
    """Hashes the plaintext stream file by file as segments go by, for ``verify``."""

    def __init__(self, entries: tuple[IndexEntry, ...]) -> None:
        self._pending: Iterator[IndexEntry] = iter(entries)
        self._current: IndexEntry | None = None
        self._hasher = hashlib.sha256()
        self._remaining = 0
        self._next_file()

    def _next_file(self) -> None:
        # Empty files are checked as soon as they come up, since no bytes will feed them.
        while True:
            self._current = next(self._pending, None)
            self._hasher = hashlib.sha256()
            if self._current is None or self._current.length:
                self._remaining = self._current.length if self._current else 0
                return
            check_digest(self._current, self._hasher.hexdigest())

    def feed(self, plaintext: bytes) -> None:
        view = memoryview(plaintext)
        while view and self._current is not None:
            take = min(self._remaining, len(view))
            self._hasher.update(view[:take])
            view = view[take:]
            self._remaining -= take
            if self._remaining == 0:
                check_digest(self._current, self._hasher.hexdigest())
                self._next_file()

    def finish(self) -> None:
        if self._current is not None:
            raise ContainerTampered("the container ends before its last file")


def range_reader(source: BinaryIO | RangeRead, size: int | None) -> tuple[RangeRead, int]:
    """Adapt a seekable file or a range-read callable to ``(read_at, size)``."""
    if not hasattr(source, "read"):
        if size is None:
            raise ValueError("the container size is required when the source is a range-read callable")
        return source, size  # type: ignore[return-value]
    stream: BinaryIO = source  # type: ignore[assignment]
    total = stream.seek(0, io.SEEK_END) if size is None else size

    def read_at(offset: int, length: int) -> bytes:
        stream.seek(offset)
        parts = []
        while length > 0:
            chunk = stream.read(length)
            if not chunk:
                break
            parts.append(chunk)
            length -= len(chunk)
        return b"".join(parts)

    return read_at, total
