"""The raw structure of a zip archive, parsed from its bytes by our own code.

Python's ``zipfile`` cannot be trusted to show what a hostile archive really contains: it cuts
an entry name at the first NUL byte, rewrites backslashes in names, takes the last End Of
Central Directory signature it finds and quietly tolerates data glued before or after the
archive. The sandbox has to judge the bytes exactly as they are, so this module reads the End
Of Central Directory (and its ZIP64 form), the central directory and the local headers itself.
It only parses; deciding what is acceptable is ``zipsafe``'s job.

Every offset and length read from the archive is hostile: ``ArchiveFile.read`` compares it
with the file's size before it seeks, so a field holding 2**63 is a ``zip.truncated`` or
``zip.bad_offset`` problem, never an ``OverflowError`` from the operating system.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from content_service.domain.package import Problem
from content_service.packaging.model import PackageRejected

EOCD_SIGNATURE = b"PK\x05\x06"
ZIP64_EOCD_SIGNATURE = b"PK\x06\x06"
ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
CENTRAL_SIGNATURE = b"PK\x01\x02"
LOCAL_SIGNATURE = b"PK\x03\x04"

EOCD = struct.Struct("<4sHHHHIIH")
ZIP64_LOCATOR = struct.Struct("<4sIQI")
ZIP64_EOCD = struct.Struct("<4sQHHIIQQQQ")
CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
LOCAL = struct.Struct("<4sHHHHHIIIHH")

DESCRIPTOR_SIGNATURE = b"PK\x07\x08"

ZIP64_EXTRA_ID = 0x0001
UNICODE_PATH_EXTRA_ID = 0x7075
UNICODE_COMMENT_EXTRA_ID = 0x6375
_READ_EXTRAS = frozenset({ZIP64_EXTRA_ID, UNICODE_PATH_EXTRA_ID, UNICODE_COMMENT_EXTRA_ID})
_KEPT_CENTRAL_EXTRAS = frozenset({UNICODE_PATH_EXTRA_ID, UNICODE_COMMENT_EXTRA_ID})
_MAX_U16 = 0xFFFF
_MAX_U32 = 0xFFFFFFFF
_MAX_COMMENT = 0xFFFF


def printable(name: str) -> str:
    """A name safe to show in a terminal or log: control characters become escapes."""
    if name.isprintable():
        # Nearly every name: every record's checks format it, so the per-character pass is
        # kept for the few that need it (it was half the time of opening 10 000 long names).
        return name
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in name)


def shown_raw(raw_name: bytes) -> str:
    """A raw entry name as printable text, whatever its encoding."""
    return printable(raw_name.decode("utf-8", "backslashreplace"))


def reject(code: str, detail: str, path: str | None = None) -> PackageRejected:
    """A rejection carrying a single problem."""
    return PackageRejected([Problem(code, detail, path)])


class ArchiveFile:
    """The archive's bytes and their size: every read is checked against the size before it seeks."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.size = stream.seek(0, 2)

    def read(self, offset: int, length: int) -> bytes:
        """``length`` bytes at ``offset``, or a ``zip.truncated`` rejection if they are not all there."""
        if offset < 0 or length < 0 or offset + length > self.size:
            raise reject("zip.truncated", f"a structure at byte {offset} runs past the end of the archive")
        self.stream.seek(offset)
        data = self.stream.read(length)
        if len(data) != length:
            raise reject("zip.truncated", f"the archive ends inside a structure at byte {offset}")
        return data


@dataclass(frozen=True)
class Directory:
    """Where the central directory is, where it must end (the start of the end records), and
    where the archive comment starts (it runs to the end of the file)."""

    offset: int
    size: int
    entries: int
    end: int
    comment_offset: int


@dataclass(frozen=True)
class CentralEntry:
    """One central directory record, with ZIP64 sizes and offsets already resolved."""

    raw_name: bytes
    version_made_by: int
    flags: int
    method: int
    crc32: int
    compressed_size: int
    uncompressed_size: int
    external_attr: int
    local_offset: int
    disk: int
    extras: dict[int, bytes]
    comment: bytes = b""


@dataclass(frozen=True)
class LocalHeader:
    """One local file header, and where its entry's data starts."""

    raw_name: bytes
    flags: int
    method: int
    crc32: int
    compressed_size: int
    uncompressed_size: int
    data_offset: int
    extras: dict[int, bytes]

    @property
    def zip64(self) -> bool:
        """The entry is in ZIP64 form, so its data descriptor holds 8-byte sizes (APPNOTE 4.3.9.1)."""
        return ZIP64_EXTRA_ID in self.extras


@dataclass(frozen=True)
class DataDescriptor:
    """The record after an entry's data when flag bit 3 deferred its CRC and sizes."""

    length: int
    crc32: int
    compressed_size: int
    uncompressed_size: int


def find_directory(archive: ArchiveFile) -> Directory:
    """Locate the central directory from the End Of Central Directory record (ZIP64 aware).

    Exactly one EOCD may end the file: trailing bytes, a truncated comment, or a second
    plausible EOCD hidden in the comment (two tools could then see two different archives)
    are all refused.
    """
    file_size = archive.size
    tail_length = min(file_size, EOCD.size + _MAX_COMMENT)
    tail = archive.read(file_size - tail_length, tail_length)
    exact, last_seen = _eocd_candidates(tail)
    if not exact:
        raise _no_eocd(archive, tail, last_seen)
    if len(exact) > 1:
        raise reject(
            "zip.ambiguous_structure", "the archive has more than one End Of Central Directory record"
        )
    eocd_offset = file_size - tail_length + exact[0]
    fields = EOCD.unpack_from(tail, exact[0])
    _, disk, cd_disk, disk_entries, entries, cd_size, cd_offset, _ = fields
    zip64 = _zip64_directory(archive, eocd_offset)
    if zip64 is not None:
        # The classic record may only defer to the ZIP64 one, not describe another directory.
        classic = (
            (entries, _MAX_U16, zip64.entries),
            (cd_size, _MAX_U32, zip64.size),
            (cd_offset, _MAX_U32, zip64.offset),
        )
        if any(value not in (saturated, wide) for value, saturated, wide in classic):
            raise reject("zip.ambiguous_structure", "the classic and ZIP64 end records disagree")
        return zip64
    if disk != 0 or cd_disk != 0 or disk_entries != entries:
        raise reject("zip.multi_disk", "split or multi-disk archives are not supported")
    if _MAX_U32 in (cd_size, cd_offset) or entries == _MAX_U16:
        raise reject("zip.bad_central_directory", "ZIP64 values without a ZIP64 end record")
    return Directory(cd_offset, cd_size, entries, end=eocd_offset, comment_offset=eocd_offset + EOCD.size)


def _eocd_candidates(tail: bytes) -> tuple[list[int], int]:
    """Positions of EOCD records whose comment reaches exactly to the end, and the last signature seen."""
    exact: list[int] = []
    last_seen = -1
    position = tail.rfind(EOCD_SIGNATURE)
    while position >= 0:
        last_seen = max(last_seen, position)
        if position + EOCD.size <= len(tail):
            comment_length = EOCD.unpack_from(tail, position)[7]
            if position + EOCD.size + comment_length == len(tail):
                exact.append(position)
        position = tail.rfind(EOCD_SIGNATURE, 0, position)
    return exact, last_seen


def _no_eocd(archive: ArchiveFile, tail: bytes, last_seen: int) -> PackageRejected:
    """Say why no usable EOCD was found: not a zip at all, cut short, or followed by extra bytes."""
    head = archive.read(0, min(4, archive.size))
    looks_like_zip = head in (LOCAL_SIGNATURE, EOCD_SIGNATURE) or last_seen >= 0
    if not looks_like_zip or archive.size == 0:
        return reject("zip.not_a_zip", "the file is not a zip archive")
    if last_seen >= 0 and last_seen + EOCD.size <= len(tail):
        comment_end = last_seen + EOCD.size + EOCD.unpack_from(tail, last_seen)[7]
        if comment_end < len(tail):
            return reject("zip.trailing_data", "bytes follow the end of the zip archive")
    return reject("zip.truncated", "the archive is cut short: its End Of Central Directory record is missing")


def _zip64_directory(archive: ArchiveFile, eocd_offset: int) -> Directory | None:
    """The ZIP64 end record's view of the central directory, if the archive has one."""
    locator_offset = eocd_offset - ZIP64_LOCATOR.size
    if locator_offset < 0:
        return None
    locator = ZIP64_LOCATOR.unpack(archive.read(locator_offset, ZIP64_LOCATOR.size))
    if locator[0] != ZIP64_LOCATOR_SIGNATURE:
        return None
    _, locator_disk, record_offset, disks = locator
    if locator_disk != 0 or disks != 1:
        raise reject("zip.multi_disk", "split or multi-disk archives are not supported")
    if record_offset + ZIP64_EOCD.size > locator_offset:
        raise reject("zip.bad_central_directory", "the ZIP64 end record is not where its locator says")
    record = ZIP64_EOCD.unpack(archive.read(record_offset, ZIP64_EOCD.size))
    signature, record_size, _, _, disk, cd_disk, disk_entries, entries, cd_size, cd_offset = record
    # The record's own size field counts everything after its first 12 bytes; it must end at the locator.
    if signature != ZIP64_EOCD_SIGNATURE or record_offset + 12 + record_size != locator_offset:
        raise reject("zip.bad_central_directory", "the ZIP64 end record is damaged")
    if disk != 0 or cd_disk != 0 or disk_entries != entries:
        raise reject("zip.multi_disk", "split or multi-disk archives are not supported")
    return Directory(cd_offset, cd_size, entries, end=record_offset, comment_offset=eocd_offset + EOCD.size)


def iter_central(archive: ArchiveFile, directory: Directory, max_name_bytes: int) -> Iterator[CentralEntry]:
    """Parse the central directory records one at a time, never holding the whole directory.

    The records must fill the directory exactly: a count or size that disagrees with what is
    really there means the archive is damaged or crafted. A name longer than
    ``max_name_bytes`` stops the parse at once, so that thousands of 64 KiB names cannot be
    held in memory while the rest of the directory is read.
    """
    if directory.offset + directory.size != directory.end:
        raise reject(
            "zip.bad_central_directory", "the central directory does not end where the end record begins"
        )
    position = directory.offset
    for _ in range(directory.entries):
        entry, length = _central_record(archive, position, directory.end, max_name_bytes)
        position += length
        yield entry
    if position != directory.end:
        raise reject("zip.bad_central_directory", "the central directory holds more records than it declares")


def _central_record(
    archive: ArchiveFile, position: int, end: int, max_name_bytes: int
) -> tuple[CentralEntry, int]:
    if position + CENTRAL.size > end:
        raise reject(
            "zip.bad_central_directory", "the central directory holds fewer records than it declares"
        )
    fields = CENTRAL.unpack(archive.read(position, CENTRAL.size))
    (signature, made_by, _, flags, method, _, _, crc, csize, usize,
     name_length, extra_length, comment_length, disk, _, external, offset) = fields  # fmt: skip
    if signature != CENTRAL_SIGNATURE:
        raise reject("zip.bad_central_directory", f"no central directory record at byte {position}")
    length = CENTRAL.size + name_length + extra_length + comment_length
    if position + length > end:
        raise reject("zip.bad_central_directory", "a central directory record runs past the directory")
    variable = archive.read(position + CENTRAL.size, name_length + extra_length)
    raw_name = variable[:name_length]
    if name_length > max_name_bytes:
        detail = f"the name is {name_length} bytes; the limit is {max_name_bytes}"
        raise reject("zip.path_too_long", detail, shown_raw(raw_name[:120]) + "...")
    blocks = parse_extras(variable[name_length:], raw_name)
    usize, csize, offset, disk = _apply_zip64(blocks, raw_name, (usize, csize, offset, disk))
    extras = _kept_extras(blocks, raw_name, max_name_bytes)
    # The comment is only kept when a Unicode Comment block has to be checked against it.
    comment = b""
    if UNICODE_COMMENT_EXTRA_ID in extras:
        comment = archive.read(position + CENTRAL.size + name_length + extra_length, comment_length)
    entry = CentralEntry(
        raw_name=raw_name,
        version_made_by=made_by,
        flags=flags,
        method=method,
        crc32=crc,
        compressed_size=csize,
        uncompressed_size=usize,
        external_attr=external,
        local_offset=offset,
        disk=disk,
        extras=extras,
        comment=comment,
    )
    return entry, length


def parse_extras(extra: bytes, raw_name: bytes) -> dict[int, bytes]:
    """Split an extra field into its (id → payload) blocks.

    A block that runs past the field, or a second copy of a block the sandbox reads (ZIP64
    sizes, Unicode Path), is refused: two tools could pick different copies. Fewer than four
    trailing bytes are alignment padding some writers add, and are ignored as zipfile does.
    """
    blocks: dict[int, bytes] = {}
    position = 0
    while position + 4 <= len(extra):
        block_id, size = struct.unpack_from("<HH", extra, position)
        if position + 4 + size > len(extra):
            raise _bad_extra(raw_name)
        if block_id in blocks and block_id in _READ_EXTRAS:
            raise _bad_extra(raw_name)
        blocks.setdefault(block_id, extra[position + 4 : position + 4 + size])
        position += 4 + size
    return blocks


def _kept_extras(extras: dict[int, bytes], raw_name: bytes, max_name_bytes: int) -> dict[int, bytes]:
    """Only the Unicode blocks are kept past the record's parse, to bound memory: every record
    is held until the whole directory is checked, and a ZIP64 block (already applied) may be
    padded to 64 KiB in each of 20 000 records."""
    unicode_path = extras.get(UNICODE_PATH_EXTRA_ID, b"")
    if len(unicode_path) > max_name_bytes + 5:
        detail = "the Unicode Path extra field holds a name longer than the limit"
        raise reject("zip.path_too_long", detail, shown_raw(raw_name))
    return {block: payload for block, payload in extras.items() if block in _KEPT_CENTRAL_EXTRAS}


def _bad_extra(raw_name: bytes) -> PackageRejected:
    detail = "an entry's extra field is malformed or repeats a block"
    return reject("zip.bad_extra_field", detail, shown_raw(raw_name))


def _apply_zip64(
    extras: dict[int, bytes], raw_name: bytes, values: tuple[int, int, int, int]
) -> tuple[int, int, int, int]:
    """Replace saturated 32-bit values with the ZIP64 extra block's, in the order the format fixes."""
    usize, csize, offset, disk = values
    if _MAX_U32 not in (usize, csize, offset) and disk != _MAX_U16:
        return values
    payload = extras.get(ZIP64_EXTRA_ID, b"")
    position = 0
    resolved = []
    for value, width in ((usize, 8), (csize, 8), (offset, 8), (disk, 4)):
        saturated = value == (_MAX_U16 if width == 4 else _MAX_U32)
        if saturated:
            if position + width > len(payload):
                raise _bad_extra(raw_name)
            value = int.from_bytes(payload[position : position + width], "little")
            position += width
        resolved.append(value)
    return resolved[0], resolved[1], resolved[2], resolved[3]


def read_local(archive: ArchiveFile, offset: int, limit: int) -> LocalHeader:
    """Parse the local header at ``offset``, which must end before ``limit`` (the central directory).

    A missing signature is ``zip.bad_local_header``; a header that would run past ``limit``
    is ``zip.bad_offset``, found before anything is read. The extra field is always parsed,
    so a malformed or repeated block is refused here as it is in the central directory.
    """
    if offset < 0 or offset + LOCAL.size > limit:
        raise reject("zip.bad_offset", f"the local header offset {offset} is outside the archive's entries")
    fields = LOCAL.unpack(archive.read(offset, LOCAL.size))
    signature, _, flags, method, _, _, crc, csize, usize, name_length, extra_length = fields
    if signature != LOCAL_SIGNATURE:
        raise reject("zip.bad_local_header", f"no local file header at byte {offset}")
    data_offset = offset + LOCAL.size + name_length + extra_length
    if data_offset > limit:
        raise reject("zip.bad_offset", f"the local header at byte {offset} runs into the central directory")
    variable = archive.read(offset + LOCAL.size, name_length + extra_length)
    raw_name = variable[:name_length]
    extras = {
        block: payload
        for block, payload in parse_extras(variable[name_length:], raw_name).items()
        if block in _READ_EXTRAS
    }
    if _MAX_U32 in (usize, csize):
        payload = extras.get(ZIP64_EXTRA_ID, b"")
        # Local ZIP64 blocks carry both sizes whenever either is saturated (APPNOTE 4.5.3).
        if len(payload) < 16:
            raise _bad_extra(raw_name)
        usize, csize = struct.unpack_from("<QQ", payload, 0)
    return LocalHeader(
        raw_name=raw_name,
        flags=flags,
        method=method,
        crc32=crc,
        compressed_size=csize,
        uncompressed_size=usize,
        data_offset=data_offset,
        extras=extras,
    )


def read_descriptors(archive: ArchiveFile, offset: int, limit: int, zip64: bool) -> list[DataDescriptor]:
    """The data descriptors that could start at ``offset`` and end by ``limit``, signature form first.

    The signature is optional (APPNOTE 4.3.9.3), so both readings are offered; the caller keeps
    the one that agrees with the central directory. The sizes are 8 bytes each for a ZIP64
    entry and 4 bytes otherwise; that is fixed by the local header, never guessed.
    """
    width = 8 if zip64 else 4
    found: list[DataDescriptor] = []
    available = min(4 + 4 + 2 * width, limit - offset)
    if available < 4 + 2 * width:
        return found
    raw = archive.read(offset, available)
    sizes = "<QQ" if zip64 else "<II"
    if raw.startswith(DESCRIPTOR_SIGNATURE) and len(raw) == 4 + 4 + 2 * width:
        (crc,) = struct.unpack_from("<I", raw, 4)
        csize, usize = struct.unpack_from(sizes, raw, 8)
        found.append(DataDescriptor(len(raw), crc, csize, usize))
    (crc,) = struct.unpack_from("<I", raw, 0)
    csize, usize = struct.unpack_from(sizes, raw, 4)
    found.append(DataDescriptor(4 + 2 * width, crc, csize, usize))
    return found


def find_signature(archive: ArchiveFile, start: int, end: int, signature: bytes) -> bool:
    """Whether ``signature`` occurs in the bytes from ``start`` to ``end``, read in bounded chunks."""
    overlap = len(signature) - 1
    position = start
    while position < end:
        length = min(_SCAN_CHUNK, end - position)
        window = archive.read(max(start, position - overlap), length + min(overlap, position - start))
        if signature in window:
            return True
        position += length
    return False


_SCAN_CHUNK = 1024 * 1024
