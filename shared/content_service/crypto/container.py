"""Sealing a content container: one package version's files, encrypted once for every device.

The container is ``header | segments``. The segments carry one plaintext stream, cut into
fixed-size pieces and sealed with the streaming AEAD of ``segments.py``::

    file 0 | file 1 | ... | index | footer

The index comes after the files because each file's SHA-256 is only known once the file has
been read, and the output is written strictly forward (it may be an upload stream); the footer
at the very end of the stream says where the index starts, and a reader finds the footer from
the container's length alone. Memory stays at about two segments whatever the files' size;
only the index (a few dozen bytes per file) grows, with the number of files.

The byte-by-byte format and its security argument are in ``docs/container-format.md``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from content_service.crypto.errors import InvalidContainerInput
from content_service.crypto.header import DEFAULT_SEGMENT_SIZE, FORMAT_VERSION, RandomSource, new_header
from content_service.crypto.index import FOOTER, IndexEntry, encode_index, path_problem
from content_service.crypto.segments import SegmentCipher, SegmentWriter, write_all


@dataclass(frozen=True)
class ContainerSummary:
    """What ``seal`` wrote: enough for a manifest to describe the container without reopening it."""

    format_version: int
    size: int
    segment_size: int
    segments: int
    files: tuple[IndexEntry, ...]
    key_commitment: str

    @property
    def files_size(self) -> int:
        """The plaintext bytes of all files together."""
        return sum(entry.length for entry in self.files)


class ContainerWriter:
    """Seals a container file by file: ``add`` each file in order, then ``finish``.

    The header is written at once. ``seal`` is this for files given as streams; a caller that
    has already hashed a file on its way in (the build does, on the one pass that checks and
    stores it) passes the SHA-256 so the plaintext is not hashed a second time.
    """

    def __init__(
        self,
        key: bytes,
        out: BinaryIO,
        *,
        segment_size: int = DEFAULT_SEGMENT_SIZE,
        _random: RandomSource = os.urandom,
    ) -> None:
        header, segment_key = new_header(key, segment_size, _random)
        self._header = header
        self._header_bytes = header.encode()
        write_all(out, self._header_bytes)
        self._writer = SegmentWriter(
            SegmentCipher(segment_key, self._header_bytes, header.nonce_prefix), out, segment_size
        )
        self._segment_size = segment_size
        self._entries: list[IndexEntry] = []
        self._seen: set[str] = set()
        self._offset = 0

    def add(self, path: str, chunks: Iterable[bytes | memoryview], sha256: str | None = None) -> IndexEntry:
        """Append one file's bytes; ``sha256`` is its digest if the caller computed it on the same bytes.

        Raises ``InvalidContainerInput`` for an invalid or duplicate path, before reading any chunk.
        """
        problem = path_problem(path)
        if problem is not None:
            raise InvalidContainerInput(f"{problem}: {path!r}", path=path)
        if path in self._seen:
            raise InvalidContainerInput(f"the path {path!r} is given twice", path=path)
        self._seen.add(path)
        digest = hashlib.sha256() if sha256 is None else None
        length = 0
        write = self._writer.write
        for chunk in chunks:
            if digest is not None:
                digest.update(chunk)
            write(chunk)
            length += len(chunk)
        entry = IndexEntry(path, self._offset, length, sha256 if digest is None else digest.hexdigest())
        self._entries.append(entry)
        self._offset += length
        return entry

    def finish(self) -> ContainerSummary:
        """Write the index and footer, seal the last segment, and describe what was written."""
        index = encode_index(self._entries)
        self._writer.write(index)
        self._writer.write(FOOTER.pack(self._offset, len(index)))
        self._writer.finish()
        return ContainerSummary(
            format_version=FORMAT_VERSION,
            size=len(self._header_bytes) + self._writer.bytes_written,
            segment_size=self._segment_size,
            segments=self._writer.segments,
            files=tuple(self._entries),
            key_commitment=self._header.key_commitment.hex(),
        )


def seal(
    files: Iterable[tuple[str, BinaryIO]],
    key: bytes,
    out: BinaryIO,
    *,
    segment_size: int = DEFAULT_SEGMENT_SIZE,
    on_file: Callable[[IndexEntry], None] | None = None,
    _random: RandomSource = os.urandom,
) -> ContainerSummary:
    """Encrypt ``files`` into a container written to ``out``, streaming, in constant memory.

    ``files`` yields ``(path, binary stream)`` pairs; each stream is read to its end and not
    closed. ``key`` is the package version's 32-byte content key. ``on_file`` is called with
    each file's index entry (its SHA-256 included) as soon as the file has been read, before
    the next one is asked for, so a caller can store the file in the same pass. The salt and nonce prefix
    come from the operating system's random source; ``_random`` exists only so committed test
    vectors can be reproduced and must not be passed by production code.

    Raises ``InvalidContainerInput`` for an invalid or duplicate path, ``ValueError`` for a key
    that is not 32 bytes or a segment size out of range.
    """
    container = ContainerWriter(key, out, segment_size=segment_size, _random=_random)
    chunk = bytearray(segment_size)
    view = memoryview(chunk)
    for path, stream in files:
        entry = container.add(path, _chunks(stream, view))
        if on_file is not None:
            on_file(entry)
    return container.finish()


def _chunks(stream: BinaryIO, view: memoryview) -> Iterator[memoryview]:
    """The stream's bytes, read into ``view`` piece by piece (each piece is used before the next read)."""
    while n := _read_into(stream, view):
        yield view[:n]


def _read_into(stream: BinaryIO, view: memoryview) -> int:
    """Read up to ``len(view)`` bytes into ``view`` without allocating when the stream allows it."""
    readinto = getattr(stream, "readinto", None)
    if readinto is not None:
        return readinto(view) or 0
    data = stream.read(len(view))
    view[: len(data)] = data
    return len(data)
