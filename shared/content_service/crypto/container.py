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
from collections.abc import Callable, Iterable
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
    header, segment_key = new_header(key, segment_size, _random)
    header_bytes = header.encode()
    write_all(out, header_bytes)
    writer = SegmentWriter(SegmentCipher(segment_key, header_bytes, header.nonce_prefix), out, segment_size)
    entries = _seal_files(files, writer, segment_size, on_file)
    files_size = sum(entry.length for entry in entries)
    index = encode_index(entries)
    writer.write(index)
    writer.write(FOOTER.pack(files_size, len(index)))
    writer.finish()
    return ContainerSummary(
        format_version=FORMAT_VERSION,
        size=len(header_bytes) + writer.bytes_written,
        segment_size=segment_size,
        segments=writer.segments,
        files=tuple(entries),
        key_commitment=header.key_commitment.hex(),
    )


def _seal_files(
    files: Iterable[tuple[str, BinaryIO]],
    writer: SegmentWriter,
    chunk_size: int,
    on_file: Callable[[IndexEntry], None] | None,
) -> list[IndexEntry]:
    """Stream every file into the writer, hashing as it goes; return the index entries."""
    entries: list[IndexEntry] = []
    seen: set[str] = set()
    chunk = bytearray(chunk_size)
    view = memoryview(chunk)
    offset = 0
    for path, stream in files:
        problem = path_problem(path)
        if problem is not None:
            raise InvalidContainerInput(f"{problem}: {path!r}", path=path)
        if path in seen:
            raise InvalidContainerInput(f"the path {path!r} is given twice", path=path)
        seen.add(path)
        digest = hashlib.sha256()
        length = 0
        while n := _read_into(stream, view):
            digest.update(view[:n])
            writer.write(view[:n])
            length += n
        entries.append(IndexEntry(path, offset, length, digest.hexdigest()))
        offset += length
        if on_file is not None:
            on_file(entries[-1])
    return entries


def _read_into(stream: BinaryIO, view: memoryview) -> int:
    """Read up to ``len(view)`` bytes into ``view`` without allocating when the stream allows it."""
    readinto = getattr(stream, "readinto", None)
    if readinto is not None:
        return readinto(view) or 0
    data = stream.read(len(view))
    view[: len(data)] = data
    return len(data)
