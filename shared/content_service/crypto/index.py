"""The container's index and footer: which files it holds, where, and their SHA-256.

Both live inside the encrypted segment stream, after the files' bytes, so they are as secret
and as authenticated as the content. Layout of the plaintext stream::

    file 0 bytes | file 1 bytes | ... | index | footer (16 bytes)

The index is ``count (u32)`` then per file ``path length (u16) | path (UTF-8) | offset (u64) |
length (u64) | SHA-256 (32 bytes)``; the footer is ``index offset (u64) | index length (u64)``.
All integers are big-endian. Offsets count from the start of the plaintext stream.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

from content_service.crypto.errors import ContainerTampered

_COUNT = struct.Struct(">I")
_PATH_LEN = struct.Struct(">H")
_PLACE = struct.Struct(">QQ32s")
FOOTER = struct.Struct(">QQ")
FOOTER_SIZE = FOOTER.size
MAX_PATH_BYTES = 0xFFFF


@dataclass(frozen=True)
class IndexEntry:
    """One file of a container: its path, where its bytes start in the plaintext stream, its
    length and the SHA-256 (lowercase hex) of its plaintext."""

    path: str
    offset: int
    length: int
    sha256: str


def path_problem(path: object) -> str | None:
    """Why ``path`` cannot name a file in a container, or ``None`` if it can.

    Paths are relative POSIX paths without empty, ``.`` or ``..`` segments, backslashes or
    control characters, so no reader can be led outside the package by a name in the index.
    Case folding and Unicode normalisation are the packaging layer's rules, not the container's.
    """
    if not isinstance(path, str) or not path:
        return "a path must be a non-empty string"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in path) or "\\" in path:
        return "a path may not contain control characters or backslashes"
    if path.startswith("/") or any(part in ("", ".", "..") for part in path.split("/")):
        return "a path must be relative, without empty, '.' or '..' segments"
    try:
        encoded = path.encode("utf-8")
    except UnicodeEncodeError:
        return "a path must be valid Unicode text"
    if len(encoded) > MAX_PATH_BYTES:
        return f"a path may be at most {MAX_PATH_BYTES} bytes of UTF-8"
    return None


def encode_index(entries: Iterable[IndexEntry]) -> bytes:
    """Serialise the index exactly as the format says; entries must already be valid."""
    items = list(entries)
    parts = [_COUNT.pack(len(items))]
    for entry in items:
        encoded = entry.path.encode("utf-8")
        parts.append(_PATH_LEN.pack(len(encoded)))
        parts.append(encoded)
        parts.append(_PLACE.pack(entry.offset, entry.length, bytes.fromhex(entry.sha256)))
    return b"".join(parts)


def decode_index(data: bytes, files_size: int) -> tuple[IndexEntry, ...]:
    """Parse an authenticated index and check it describes exactly ``files_size`` bytes of files.

    The index was authenticated with the segments, so a malformed one means whoever held the
    key wrote it; it is refused all the same (``ContainerTampered``), never half-trusted.
    """
    try:
        entries = _parse(data)
    except (struct.error, UnicodeDecodeError) as exc:
        raise ContainerTampered("the container index is malformed") from exc
    expected_offset = 0
    seen: set[str] = set()
    for entry in entries:
        problem = path_problem(entry.path)
        if problem is not None or entry.path in seen:
            raise ContainerTampered(f"the container index holds an invalid path: {problem or 'duplicate'}")
        if entry.offset != expected_offset:
            raise ContainerTampered("the container index does not describe contiguous files")
        seen.add(entry.path)
        expected_offset += entry.length
    if expected_offset != files_size:
        raise ContainerTampered("the container index does not cover the files' bytes exactly")
    return entries


def _parse(data: bytes) -> tuple[IndexEntry, ...]:
    (count,) = _COUNT.unpack_from(data, 0)
    position = _COUNT.size
    entries = []
    for _ in range(count):
        (path_length,) = _PATH_LEN.unpack_from(data, position)
        position += _PATH_LEN.size
        raw_path = data[position : position + path_length]
        if len(raw_path) != path_length:
            raise struct.error("path runs past the end of the index")
        position += path_length
        offset, length, digest = _PLACE.unpack_from(data, position)
        position += _PLACE.size
        entries.append(IndexEntry(raw_path.decode("utf-8"), offset, length, digest.hex()))
    if position != len(data):
        raise struct.error("trailing bytes after the last index entry")
    return tuple(entries)
