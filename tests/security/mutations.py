"""Where the fields of a zip's records are, and hypothesis strategies that mutate them.

The fuzz test needs more than random bytes: a random flip rarely lands on the one field that
matters (an offset, a size, a name length), so the records of each seed archive are mapped
here field by field, and a mutation can set any of them to a value chosen to break
assumptions (0, all ones, 2**63, the file size, off by one). Bit flips, truncations and
splices cover what the map does not.

The map is made by a small walker written for these tests (not the sandbox's parser), so a
bug in the parser cannot hide the fields it would misread.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from hypothesis import strategies as st

LOCAL_FIELDS = "<4sHHHHHIIIHH"
CENTRAL_FIELDS = "<4sHHHHHHIIIHHHHHII"
EOCD_FIELDS = "<4sHHHHIIH"
ZIP64_EOCD_FIELDS = "<4sQHHIIQQQQ"
LOCATOR_FIELDS = "<4sIQI"
DESCRIPTOR_FIELDS = "<4sIII"
_WIDTHS = {"H": 2, "I": 4, "Q": 8, "4s": 4}


@dataclass(frozen=True)
class Field:
    """One fixed-width integer field of one record: where it is and how wide."""

    record: str
    offset: int
    width: int


def _fields_of(record: str, layout: str, start: int) -> list[Field]:
    fields: list[Field] = []
    position = start
    for code in struct.Struct(layout).format.lstrip("<").replace("4s", "S"):
        width = 4 if code == "S" else _WIDTHS[code]
        if code != "S":
            fields.append(Field(record, position, width))
        position += width
    return fields


def _extra_fields(record: str, extra: bytes, start: int) -> list[Field]:
    """The id and size of every extra block, and every 4- or 8-byte word of its payload."""
    fields: list[Field] = []
    position = 0
    while position + 4 <= len(extra):
        fields += [Field(record, start + position, 2), Field(record, start + position + 2, 2)]
        (size,) = struct.unpack_from("<H", extra, position + 2)
        payload = start + position + 4
        # ZIP64 blocks hold 8-byte words; Unicode blocks a version byte, then a 4-byte CRC.
        fields += [Field(record, payload + i, 8) for i in range(0, size - 7, 8)]
        fields += [Field(record, payload + 1, 4)] if size >= 5 else []
        position += 4 + size
    return fields


def record_fields(data: bytes) -> list[Field]:
    """Every field of the EOCD, ZIP64 end records, central records, local headers and descriptors."""
    eocd = data.rfind(b"PK\x05\x06")
    fields = _fields_of("eocd", EOCD_FIELDS, eocd)
    _, _, _, _, _, cd_size, cd_offset, _ = struct.unpack_from(EOCD_FIELDS, data, eocd)
    locator = eocd - struct.calcsize(LOCATOR_FIELDS)
    if locator >= 0 and data[locator : locator + 4] == b"PK\x06\x07":
        fields += _fields_of("zip64-locator", LOCATOR_FIELDS, locator)
        record = struct.unpack_from(LOCATOR_FIELDS, data, locator)[2]
        fields += _fields_of("zip64-eocd", ZIP64_EOCD_FIELDS, record)
        cd_size, cd_offset = struct.unpack_from(ZIP64_EOCD_FIELDS, data, record)[8:10]
    position = cd_offset
    while data[position : position + 4] == b"PK\x01\x02":
        fields += _fields_of("central", CENTRAL_FIELDS, position)
        values = struct.unpack_from(CENTRAL_FIELDS, data, position)
        name_length, extra_length, comment_length = values[10:13]
        local = values[16]
        extra_start = position + 46 + name_length
        fields += _extra_fields("central-extra", data[extra_start : extra_start + extra_length], extra_start)
        fields += _local_fields(data, local, values[3], values[8])
        position = extra_start + extra_length + comment_length
    return fields


def _local_fields(data: bytes, offset: int, flags: int, compressed_size: int) -> list[Field]:
    if data[offset : offset + 4] != b"PK\x03\x04":
        return []
    fields = _fields_of("local", LOCAL_FIELDS, offset)
    name_length, extra_length = struct.unpack_from("<HH", data, offset + 26)
    extra_start = offset + 30 + name_length
    fields += _extra_fields("local-extra", data[extra_start : extra_start + extra_length], extra_start)
    descriptor = extra_start + extra_length + compressed_size
    if flags & 0x8 and data[descriptor : descriptor + 4] == b"PK\x07\x08":
        fields += _fields_of("descriptor", DESCRIPTOR_FIELDS, descriptor)
    return fields


def _interesting(width: int, size: int) -> st.SearchStrategy[int]:
    top = (1 << (8 * width)) - 1
    chosen = {0, 1, 2, top, top - 1, top >> 1, (top >> 1) + 1, size, size - 1, size + 1, 0xFFFF, 0xFFFFFFFF}
    values = sorted(value for value in chosen if 0 <= value <= top)
    # Values past what a signed 64-bit offset can hold are what the operating system refuses.
    huge = st.integers(1 << 63, top) if width == 8 else st.nothing()
    return st.one_of(st.sampled_from(values), st.integers(0, top), huge, st.integers(0, size + 64))


@st.composite
def field_mutation(draw: st.DrawFn, data: bytes, fields: list[Field]) -> bytes:
    """Set one field of one record to a value chosen to break a parser's assumptions.

    The kind of record is chosen first, so the few fields of a rare record (a ZIP64 extra
    block, a data descriptor) are hit as often as those of the many central records.
    """
    kind = draw(st.sampled_from(sorted({field.record for field in fields})))
    field = draw(st.sampled_from([field for field in fields if field.record == kind]))
    value = draw(_interesting(field.width, len(data)))
    mutated = bytearray(data)
    mutated[field.offset : field.offset + field.width] = value.to_bytes(field.width, "little")
    return bytes(mutated)


@st.composite
def bit_flips(draw: st.DrawFn, data: bytes) -> bytes:
    mutated = bytearray(data)
    for position in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=8)):
        mutated[position] ^= 1 << draw(st.integers(0, 7))
    return bytes(mutated)


@st.composite
def truncation(draw: st.DrawFn, data: bytes) -> bytes:
    """Cut the archive short, or cut a range out of its middle."""
    start = draw(st.integers(0, len(data)))
    end = draw(st.integers(start, len(data)))
    return data[:start] + (data[end:] if draw(st.booleans()) else b"")


@st.composite
def splice(draw: st.DrawFn, data: bytes, donors: list[bytes]) -> bytes:
    """Insert or overwrite with a range of this or another archive, or with random bytes."""
    donor = draw(st.sampled_from([data, *donors]))
    start = draw(st.integers(0, len(donor)))
    piece = donor[start : start + draw(st.integers(0, 256))]
    if draw(st.booleans()):
        piece = draw(st.binary(max_size=64))
    at = draw(st.integers(0, len(data)))
    overwrite = draw(st.booleans())
    return data[:at] + piece + data[at + (len(piece) if overwrite else 0) :]


def mutated_archives(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    """One to four mutations of one seed archive, of any of the kinds above."""
    mapped = [(seed, record_fields(seed)) for seed in seeds]

    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        seed, fields = draw(st.sampled_from(mapped))
        data = seed
        for _ in range(draw(st.integers(1, 4))):
            if not data:
                break
            kind = draw(st.sampled_from(["field", "field", "field", "flip", "cut", "splice"]))
            # Offsets move after a cut or a splice, so the fields are mapped again on the current bytes.
            current = fields if data == seed else _safe_fields(data)
            if kind == "field" and current:
                data = draw(field_mutation(data, current))
            elif kind in ("field", "flip"):
                data = draw(bit_flips(data))
            elif kind == "cut":
                data = draw(truncation(data))
            else:
                data = draw(splice(data, seeds))
        return data

    return mutate()


def _safe_fields(data: bytes) -> list[Field]:
    """The map of an already mutated archive, or nothing if the walker cannot follow it."""
    try:
        return [field for field in record_fields(data) if field.offset + field.width <= len(data)]
    except (struct.error, IndexError, ValueError, OverflowError):
        return []
