"""Container format version 2: content-addressed file objects and a per-version index.

Version 1 seals a whole package version into one container under a fresh random key, so a new
version shares no ciphertext with the last one and a device downloads everything again. Version 2
splits that container in two kinds of object, both starting with the same magic and version byte
as version 1 (``CSCT``, ``02``) followed by a kind byte:

- a **file object** (kind ``O``) holds one file, sealed with the STREAM construction of
  ``segments.py`` under a key derived from the package *lineage* key (one per package, shared by
  all its versions) and the file's SHA-256. Sealing is deterministic: the same file in two
  versions of one package gives the same bytes, so the object is stored, and downloaded, once.
  Objects are named by the SHA-256 of their ciphertext.
- an **index** (kind ``I``) lists the version's files (path, length, SHA-256, file key, object
  size and object SHA-256), sealed with AES-256-GCM under a key derived from the version's
  random content key, the one the licence already carries. The signed bundle manifest pins the
  index's size and SHA-256, exactly as it pins a version 1 container.

A device never learns the lineage key: it gets each file's key from an index it is licensed for.
The byte-level format and what the determinism reveals are in ``docs/container-format.md``.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from content_service.crypto.errors import (
    ContainerKeyMismatch,
    ContainerPathNotFound,
    ContainerTampered,
    ContainerTruncated,
    InvalidContainerInput,
    UnsupportedVersion,
)
from content_service.crypto.header import (
    DEFAULT_SEGMENT_SIZE,
    KEY_SIZE,
    MAGIC,
    MAX_SEGMENT_SIZE,
    MIN_SEGMENT_SIZE,
    RandomSource,
    check_key,
    check_segment_size,
)
from content_service.crypto.index import IndexEntry, path_problem
from content_service.crypto.reader import ContainerFile, range_reader, read_entry_range, verify_stream
from content_service.crypto.segments import (
    TAG_SIZE,
    SegmentCipher,
    SegmentLayout,
    SegmentReader,
    SegmentWriter,
    read_exactly,
    write_all,
)

FORMAT_VERSION_2 = 2
KIND_OBJECT = ord("O")
KIND_INDEX = ord("I")

_COMMITMENT_SIZE = 32
_SALT_SIZE = 16
_GCM_NONCE_SIZE = 12
# Every segment of an object uses this nonce prefix: the segment key is unique to one plaintext
# (lineage, file SHA-256, segment size), so a (key, nonce) pair never seals two different segments.
_FIXED_NONCE_PREFIX = bytes(8)

# File object header: magic (4) | version (1) | kind (1) | segment size (4) | key commitment (32).
_OBJECT_PREFIX = struct.Struct(">4sBBI")
OBJECT_HEADER_SIZE = _OBJECT_PREFIX.size + _COMMITMENT_SIZE
# Index header: magic (4) | version (1) | kind (1) | salt (16) | key commitment (32); then a
# 12-byte GCM nonce and the sealed index.
_INDEX_PREFIX = struct.Struct(">4sBB16s")
INDEX_HEADER_SIZE = _INDEX_PREFIX.size + _COMMITMENT_SIZE
#: An index is read whole; this bounds what a device accepts (about 300,000 files).
MAX_INDEX_BYTES = 64 << 20

_FILE_KEY_LABEL = b"content-service/container/v2/file-key\x00"
_OBJECT_LABEL = b"content-service/container/v2/object\x00"
_INDEX_LABEL = b"content-service/container/v2/index\x00"

_TRAILER = struct.Struct(">Q")
_INDEX_HEAD = struct.Struct(">II")
_PATH_LEN = struct.Struct(">H")
_ENTRY = struct.Struct(">Q32s32sQ32s")
_CHUNK = 1 << 16


def format_version(head: bytes) -> int:
    """The format version of a container or index from its first five bytes.

    Raises ``ContainerTruncated`` for fewer than five bytes and ``ContainerTampered`` without
    the magic; the version byte itself is returned unchecked, for the caller to dispatch on.
    """
    if len(head) < len(MAGIC) + 1:
        raise ContainerTruncated("the container is shorter than its header")
    if head[:4] != MAGIC:
        raise ContainerTampered("the container does not start with the content container magic")
    return head[4]


def _hkdf(key: bytes, info: bytes, length: int, salt: bytes | None = None) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(bytes(key))


def derive_file_key(lineage_key: bytes, sha256_hex: str) -> bytes:
    """The 256-bit key of one file: HKDF-SHA256 of the lineage key, with the file's SHA-256 as info.

    The same file under the same lineage always gets the same key (that is what makes its object
    identical across versions); another lineage, or another file, gets an unrelated key.
    """
    check_key(lineage_key)
    digest = _sha256_bytes(sha256_hex)
    return _hkdf(lineage_key, _FILE_KEY_LABEL + digest, KEY_SIZE)


def _sha256_bytes(sha256_hex: str) -> bytes:
    try:
        digest = bytes.fromhex(sha256_hex)
    except (TypeError, ValueError):
        digest = b""
    if len(digest) != 32:
        raise ValueError("a SHA-256 is 64 hex digits")
    return digest


def _object_keys(file_key: bytes, prefix: bytes) -> tuple[bytes, bytes]:
    okm = _hkdf(file_key, _OBJECT_LABEL + prefix, 2 * KEY_SIZE)
    return okm[:KEY_SIZE], okm[KEY_SIZE:]


@dataclass(frozen=True)
class SealedObject:
    """What ``seal_object`` wrote: the object's size and ciphertext SHA-256 (its name)."""

    size: int
    sha256: str
    length: int
    plaintext_sha256: str


class _HashingOut(io.RawIOBase):
    def __init__(self, sink: BinaryIO) -> None:
        self._sink = sink
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self.digest.update(data)
        self.size += len(data)
        write_all(self._sink, bytes(data))
        return len(data)


def seal_object(
    stream: BinaryIO,
    lineage_key: bytes,
    sha256_hex: str,
    out: BinaryIO,
    *,
    segment_size: int = DEFAULT_SEGMENT_SIZE,
) -> SealedObject:
    """Seal one file (read from ``stream`` to its end) as a deterministic version 2 file object.

    ``sha256_hex`` is the file's SHA-256, known before sealing because the key is derived from it;
    the bytes read are hashed again and a mismatch raises ``InvalidContainerInput`` (the output is
    then garbage and must be discarded). Constant memory: about two segments.
    """
    check_segment_size(segment_size)
    file_key = derive_file_key(lineage_key, sha256_hex)
    prefix = _OBJECT_PREFIX.pack(MAGIC, FORMAT_VERSION_2, KIND_OBJECT, segment_size)
    segment_key, commitment = _object_keys(file_key, prefix)
    header = prefix + commitment
    sink = _HashingOut(out)
    sink.write(header)
    writer = SegmentWriter(SegmentCipher(segment_key, header, _FIXED_NONCE_PREFIX), sink, segment_size)  # type: ignore[arg-type]
    digest = hashlib.sha256()
    length = 0
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
        writer.write(chunk)
        length += len(chunk)
    # The length trailer keeps the stream non-empty for an empty file and pins the file's length.
    writer.write(_TRAILER.pack(length))
    writer.finish()
    if not hmac.compare_digest(digest.hexdigest(), sha256_hex.lower()):
        raise InvalidContainerInput("the file's bytes do not have the SHA-256 it was sealed under")
    return SealedObject(sink.size, sink.digest.hexdigest(), length, digest.hexdigest())


class ObjectReader:
    """Random access to one verified file object (``ContainerFile`` reads through ``segments``).

    The constructor checks the header, the key commitment and the last segment (which holds the
    length trailer, so a cut object is refused at once) and that the trailer's length is the one
    the index promised.
    """

    def __init__(self, source: BinaryIO, file_key: bytes, *, size: int, length: int) -> None:
        check_key(file_key)
        read_at, _ = range_reader(source, size)
        head = read_exactly(read_at, 0, min(OBJECT_HEADER_SIZE, size))
        if format_version(head) != FORMAT_VERSION_2:
            raise UnsupportedVersion(
                f"file object format version {head[4]} is not supported", version=head[4]
            )
        if len(head) < OBJECT_HEADER_SIZE:
            raise ContainerTruncated("the file object is shorter than its header")
        _, _, kind, segment_size = _OBJECT_PREFIX.unpack_from(head)
        if kind != KIND_OBJECT or not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
            raise ContainerTampered("the file object's header is not a file object header")
        segment_key, expected = _object_keys(file_key, bytes(head[: _OBJECT_PREFIX.size]))
        if not hmac.compare_digest(expected, bytes(head[_OBJECT_PREFIX.size :])):
            raise ContainerKeyMismatch("the key does not match the file object's key commitment")
        self.segments = SegmentReader(
            read_at,
            SegmentCipher(segment_key, bytes(head), _FIXED_NONCE_PREFIX),
            SegmentLayout.for_container(size, OBJECT_HEADER_SIZE, segment_size),
        )
        plain = self.segments.layout.plaintext_size
        if plain < _TRAILER.size:
            raise ContainerTampered("the file object is too short to hold its length")
        (stored,) = _TRAILER.unpack(self.segments.read_plain(plain - _TRAILER.size, _TRAILER.size))
        if stored != plain - _TRAILER.size or stored != length:
            raise ContainerTampered("the file object's length is not the one its index gives")
        self.length = length

    def verify(self, sha256_hex: str, path: str = "") -> None:
        """Authenticate every segment and check the file's SHA-256, in constant memory."""
        verify_stream(self.segments, (IndexEntry(path, 0, self.length, sha256_hex),))


@dataclass(frozen=True)
class ObjectEntry:
    """One file of a version 2 index: where its bytes are and how to open them."""

    path: str
    length: int
    sha256: str
    file_key: bytes = field(repr=False)
    object_size: int
    object_sha256: str

    @property
    def object_name(self) -> str:
        """The object's name in the store: the SHA-256 (hex) of its ciphertext, plus ``.csob``."""
        return f"{self.object_sha256}.csob"

    def as_index_entry(self) -> IndexEntry:
        """The file as ``IndexEntry`` (offset 0: each file is its own object)."""
        return IndexEntry(self.path, 0, self.length, self.sha256)


@dataclass(frozen=True)
class DeltaIndex:
    """An opened, authenticated version 2 index."""

    segment_size: int
    entries: tuple[ObjectEntry, ...]

    def entry(self, path: str) -> ObjectEntry:
        for candidate in self.entries:
            if candidate.path == path:
                return candidate
        raise ContainerPathNotFound(f"the container holds no file {path!r}", path=path)


def object_entry(lineage_key: bytes, path: str, sealed: SealedObject) -> ObjectEntry:
    """The index entry of a file sealed with ``seal_object`` (its key derived again here)."""
    return ObjectEntry(
        path,
        sealed.length,
        sealed.plaintext_sha256,
        derive_file_key(lineage_key, sealed.plaintext_sha256),
        sealed.size,
        sealed.sha256,
    )


def _index_keys(content_key: bytes, prefix: bytes, salt: bytes) -> tuple[bytes, bytes]:
    okm = _hkdf(content_key, _INDEX_LABEL + prefix, 2 * KEY_SIZE, salt=salt)
    return okm[:KEY_SIZE], okm[KEY_SIZE:]


_OBJECT_LIST_HEAD = struct.Struct(">I")
_OBJECT_ITEM = struct.Struct(">Q32s")


def seal_index(
    entries: Iterable[ObjectEntry],
    content_key: bytes,
    *,
    segment_size: int = DEFAULT_SEGMENT_SIZE,
    _random: RandomSource = os.urandom,
) -> bytes:
    """The sealed index of one package version, under that version's content key.

    Layout: header | object list | 12-byte nonce | AES-GCM(entries). The object list (each
    distinct object's size and SHA-256, nothing else) is in clear, so a device can fetch the
    objects before it holds a licence; it is the GCM associated data, and the signed manifest pins
    the whole index's SHA-256. A fresh random salt gives every index its own AES-GCM key, used for
    one nonce. ``_random`` exists only for reproducible test vectors.
    """
    check_key(content_key)
    check_segment_size(segment_size)
    items = list(entries)
    plaintext = _encode_index(items, segment_size)
    objects = _encode_objects(items)
    salt, nonce = _random(_SALT_SIZE), _random(_GCM_NONCE_SIZE)
    if len(salt) != _SALT_SIZE or len(nonce) != _GCM_NONCE_SIZE:
        raise ValueError("the random source returned the wrong number of bytes")
    prefix = _INDEX_PREFIX.pack(MAGIC, FORMAT_VERSION_2, KIND_INDEX, salt)
    key, commitment = _index_keys(content_key, prefix, salt)
    header = prefix + commitment
    return header + objects + nonce + AESGCM(key).encrypt(nonce, plaintext, header + objects)


def _encode_objects(entries: list[ObjectEntry]) -> bytes:
    distinct = sorted({(e.object_sha256, e.object_size) for e in entries})
    parts = [_OBJECT_LIST_HEAD.pack(len(distinct))]
    parts += [_OBJECT_ITEM.pack(size, _sha256_bytes(digest)) for digest, size in distinct]
    return b"".join(parts)


@dataclass(frozen=True)
class IndexObject:
    """One file object an index needs: its name (ciphertext SHA-256 hex + ``.csob``) and size."""

    sha256: str
    size: int

    @property
    def name(self) -> str:
        return f"{self.sha256}.csob"


def index_objects(data: bytes) -> tuple[IndexObject, ...]:
    """The objects an index needs, read WITHOUT a key: only for an index whose SHA-256 was checked.

    The list is authenticated by the signed manifest's hash of the whole index (and, for key
    holders, as the GCM associated data). Raises ``ContainerTampered`` if it is malformed.
    """
    version = format_version(data[:5])
    if version != FORMAT_VERSION_2:
        raise UnsupportedVersion(f"container format version {version} is not supported", version=version)
    objects, _ = _split_objects(data)
    return objects


def _split_objects(data: bytes) -> tuple[tuple[IndexObject, ...], int]:
    """The object list and the offset right after it; ``ContainerTruncated``/``Tampered`` otherwise."""
    if len(data) < INDEX_HEADER_SIZE + _OBJECT_LIST_HEAD.size:
        raise ContainerTruncated("the index is shorter than its header")
    if data[5] != KIND_INDEX:
        raise ContainerTampered("the object is not a version 2 index")
    (count,) = _OBJECT_LIST_HEAD.unpack_from(data, INDEX_HEADER_SIZE)
    start = INDEX_HEADER_SIZE + _OBJECT_LIST_HEAD.size
    end = start + count * _OBJECT_ITEM.size
    if end > len(data) or end - INDEX_HEADER_SIZE > MAX_INDEX_BYTES:
        raise ContainerTampered("the index's object list runs past its end")
    objects = tuple(
        IndexObject(digest.hex(), size)
        for size, digest in (
            _OBJECT_ITEM.unpack_from(data, at) for at in range(start, end, _OBJECT_ITEM.size)
        )
    )
    return objects, end


def open_index(data: bytes, content_key: bytes) -> DeltaIndex:
    """Authenticate and parse a version 2 index; raise a ``ContainerError`` rather than half-trust it."""
    check_key(content_key)
    version = format_version(data[:5])
    if version != FORMAT_VERSION_2:
        raise UnsupportedVersion(f"container format version {version} is not supported", version=version)
    if len(data) > INDEX_HEADER_SIZE + _GCM_NONCE_SIZE + TAG_SIZE + 2 * MAX_INDEX_BYTES:
        raise ContainerTampered("the index is larger than the format allows")
    if len(data) < INDEX_HEADER_SIZE:
        raise ContainerTruncated("the index is shorter than its header")
    _, _, kind, salt = _INDEX_PREFIX.unpack_from(data)
    if kind != KIND_INDEX:
        raise ContainerTampered("the object is not a version 2 index")
    key, expected = _index_keys(content_key, bytes(data[: _INDEX_PREFIX.size]), salt)
    header = bytes(data[:INDEX_HEADER_SIZE])
    if not hmac.compare_digest(expected, header[_INDEX_PREFIX.size :]):
        raise ContainerKeyMismatch("the key does not match the index's key commitment")
    objects, at = _split_objects(data)
    if len(data) < at + _GCM_NONCE_SIZE + TAG_SIZE:
        raise ContainerTruncated("the index ends before its sealed entries")
    nonce = data[at : at + _GCM_NONCE_SIZE]
    try:
        plaintext = AESGCM(key).decrypt(nonce, data[at + _GCM_NONCE_SIZE :], bytes(data[:at]))
    except InvalidTag:
        raise ContainerTampered("the index failed authentication") from None
    index = _decode_index(plaintext)
    if {(e.object_sha256, e.object_size) for e in index.entries} != {(o.sha256, o.size) for o in objects}:
        raise ContainerTampered("the index's object list does not match its entries")
    return index


def _encode_index(entries: list[ObjectEntry], segment_size: int) -> bytes:
    parts = [_INDEX_HEAD.pack(segment_size, len(entries))]
    seen: set[str] = set()
    for entry in entries:
        problem = path_problem(entry.path)
        if problem is not None or entry.path in seen:
            raise InvalidContainerInput(
                f"{problem or 'the path is given twice'}: {entry.path!r}", path=entry.path
            )
        seen.add(entry.path)
        check_key(entry.file_key)
        encoded = entry.path.encode("utf-8")
        parts.append(_PATH_LEN.pack(len(encoded)) + encoded)
        parts.append(
            _ENTRY.pack(
                entry.length,
                _sha256_bytes(entry.sha256),
                entry.file_key,
                entry.object_size,
                _sha256_bytes(entry.object_sha256),
            )
        )
    return b"".join(parts)


def _decode_index(data: bytes) -> DeltaIndex:
    try:
        segment_size, count = _INDEX_HEAD.unpack_from(data, 0)
        position = _INDEX_HEAD.size
        entries: list[ObjectEntry] = []
        seen: set[str] = set()
        for _ in range(count):
            (path_length,) = _PATH_LEN.unpack_from(data, position)
            position += _PATH_LEN.size
            raw = data[position : position + path_length]
            if len(raw) != path_length:
                raise struct.error("path runs past the end of the index")
            position += path_length
            length, digest, file_key, object_size, object_digest = _ENTRY.unpack_from(data, position)
            position += _ENTRY.size
            path = raw.decode("utf-8")
            if path_problem(path) is not None or path in seen:
                raise ContainerTampered("the index holds an invalid or duplicate path")
            seen.add(path)
            entries.append(
                ObjectEntry(path, length, digest.hex(), file_key, object_size, object_digest.hex())
            )
        if position != len(data):
            raise struct.error("trailing bytes after the last index entry")
    except (struct.error, UnicodeDecodeError) as error:
        raise ContainerTampered("the index is malformed") from error
    if not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
        raise ContainerTampered("the index's segment size is out of range")
    return DeltaIndex(segment_size, tuple(entries))


#: Opens the (already downloaded and hash-checked) file object of an index entry.
OpenObject = Callable[[ObjectEntry], BinaryIO]


class DeltaPackageReader:
    """A version 2 package opened for reading: its index and one ``ObjectReader`` per file, lazily.

    It answers like ``ContainerReader`` (``files``, ``entry``, ``open``, ``read_range``,
    ``read_file``, ``verify``) so a device mounts either version the same way. ``close`` closes
    the object files it opened.
    """

    def __init__(self, index: DeltaIndex, open_object: OpenObject) -> None:
        self._index = index
        self._open_object = open_object
        self._entries = tuple(entry.as_index_entry() for entry in index.entries)
        self._by_path = {entry.path: entry for entry in index.entries}
        self._readers: dict[str, ObjectReader] = {}
        self._handles: list[BinaryIO] = []

    @property
    def format_version(self) -> int:
        return FORMAT_VERSION_2

    @property
    def index(self) -> DeltaIndex:
        return self._index

    def files(self) -> tuple[IndexEntry, ...]:
        return self._entries

    def entry(self, path: str) -> IndexEntry:
        return self._object_entry(path).as_index_entry()

    def _object_entry(self, path: str) -> ObjectEntry:
        try:
            return self._by_path[path]
        except KeyError:
            raise ContainerPathNotFound(f"the container holds no file {path!r}", path=path) from None

    def _reader(self, entry: ObjectEntry) -> ObjectReader:
        reader = self._readers.get(entry.path)
        if reader is None:
            handle = self._open_object(entry)
            self._handles.append(handle)
            reader = ObjectReader(handle, entry.file_key, size=entry.object_size, length=entry.length)
            self._readers[entry.path] = reader
        return reader

    def open(self, path: str) -> ContainerFile:
        entry = self._object_entry(path)
        return ContainerFile(self._reader(entry).segments, entry.as_index_entry())

    def read_range(self, path: str, start: int, length: int) -> bytes:
        entry = self._object_entry(path)
        return read_entry_range(self._reader(entry).segments, entry.as_index_entry(), start, length)

    def read_file(self, path: str) -> bytes:
        return self.read_range(path, 0, self._object_entry(path).length)

    def verify(self) -> None:
        """Authenticate every segment of every object and check every file's SHA-256."""
        for entry in self._index.entries:
            with self._open_object(entry) as handle:
                ObjectReader(handle, entry.file_key, size=entry.object_size, length=entry.length).verify(
                    entry.sha256, entry.path
                )

    def close(self) -> None:
        handles, self._handles, self._readers = self._handles, [], {}
        for handle in handles:
            handle.close()
