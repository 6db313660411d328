"""Write zip archives byte by byte, including the ones ``zipfile`` refuses to write.

Hostile archives need names with NUL bytes, headers that disagree, sizes that lie, entries
that overlap and records a well-behaved writer never emits; every field here can be forced.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

UTF8_FLAG = 0x0800
UNIX_FILE = 0o100644 << 16
UNIX_DIR = (0o040755 << 16) | 0x10
UNIX_SYMLINK = 0o120777 << 16
MADE_BY_UNIX = (3 << 8) | 20
MADE_BY_DOS = (0 << 8) | 20
DOS_FILE = 0x20


@dataclass
class Entry:
    """One entry; the ``declared_*`` and ``local_*`` fields force values that lie."""

    name: bytes | str
    data: bytes = b""
    method: int = 8
    flags: int = 0
    external_attr: int = UNIX_FILE
    made_by: int = MADE_BY_UNIX
    declared_size: int | None = None
    declared_crc: int | None = None
    local_name: bytes | None = None
    local_size: int | None = None
    extra: bytes = b""
    payload: bytes | None = None
    offset: int | None = None
    trailer: bytes = b""
    """Bytes written after the entry's data: a data descriptor, or bytes hidden between entries."""

    def raw_name(self) -> bytes:
        return self.name if isinstance(self.name, bytes) else self.name.encode("utf-8")

    def all_flags(self) -> int:
        ascii_name = isinstance(self.name, bytes) or self.name.isascii()
        return self.flags | (0 if ascii_name else UTF8_FLAG)

    def compressed(self) -> bytes:
        if self.payload is not None:
            return self.payload
        if self.method == 8:
            deflater = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
            return deflater.compress(self.data) + deflater.flush()
        return self.data


def local_header(entry: Entry, compressed: bytes) -> bytes:
    crc = entry.declared_crc if entry.declared_crc is not None else zlib.crc32(entry.data)
    size = entry.local_size if entry.local_size is not None else _size(entry)
    name = entry.local_name if entry.local_name is not None else entry.raw_name()
    fixed = struct.pack(
        "<4sHHHHHIIIHH", b"PK\x03\x04", 20, entry.all_flags(), entry.method, 0, 0x21,
        crc, len(compressed), size, len(name), len(entry.extra),
    )  # fmt: skip
    return fixed + name + entry.extra


def central_record(entry: Entry, compressed: bytes, offset: int) -> bytes:
    crc = entry.declared_crc if entry.declared_crc is not None else zlib.crc32(entry.data)
    name = entry.raw_name()
    fixed = struct.pack(
        "<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", entry.made_by, 20, entry.all_flags(), entry.method, 0, 0x21,
        crc, len(compressed), _size(entry), len(name), len(entry.extra), 0, 0, 0, entry.external_attr, offset,
    )  # fmt: skip
    return fixed + name + entry.extra


def data_descriptor(entry: Entry, *, signature: bool = True, wide: bool = False) -> bytes:
    """The descriptor a streaming writer puts after the data (flag bit 3), 8-byte sizes if ``wide``."""
    sizes = struct.pack("<QQ" if wide else "<II", len(entry.compressed()), _size(entry))
    crc = entry.declared_crc if entry.declared_crc is not None else zlib.crc32(entry.data)
    return (b"PK\x07\x08" if signature else b"") + struct.pack("<I", crc) + sizes


def end_record(count: int, cd_size: int, cd_offset: int, comment: bytes = b"") -> bytes:
    return (
        struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, cd_size, cd_offset, len(comment))
        + comment
    )


def _size(entry: Entry) -> int:
    return entry.declared_size if entry.declared_size is not None else len(entry.data)


def build(
    entries: list[Entry],
    *,
    prefix: bytes = b"",
    comment: bytes = b"",
    suffix: bytes = b"",
    extra_central: bytes = b"",
    count: int | None = None,
    zip64: bool = False,
) -> bytes:
    """An archive of ``entries``; offsets count from the start of ``prefix``, as a real file would."""
    body = bytearray(prefix)
    records = bytearray()
    for entry in entries:
        compressed = entry.compressed()
        offset = len(body)
        body += local_header(entry, compressed) + compressed + entry.trailer
        records += central_record(entry, compressed, entry.offset if entry.offset is not None else offset)
    records += extra_central
    total = count if count is not None else len(entries)
    if zip64:
        return bytes(body + records + zip64_end(total, len(records), len(body)) + suffix)
    return bytes(body + records + end_record(total, len(records), len(body), comment) + suffix)


def zip64_end(count: int, cd_size: int, cd_offset: int) -> bytes:
    """A ZIP64 end record and locator, then a classic end record whose fields all defer to them."""
    record_offset = cd_offset + cd_size
    record = struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, cd_size, cd_offset)
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, record_offset, 1)
    classic = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return record + locator + classic
