"""The zip structure parser: every field it reads, every bound it checks, each with its code."""

from __future__ import annotations

import io
import struct
import zlib

import pytest

from content_service.packaging import zipformat
from content_service.packaging.model import PackageRejected
from content_service.packaging.zipformat import (
    ArchiveFile,
    DataDescriptor,
    Directory,
    find_directory,
    find_signature,
    iter_central,
    parse_extras,
    printable,
    read_descriptors,
    read_local,
    shown_raw,
)
from tests.zipcraft import Entry, build, central_record, end_record, local_header

MAX = 0xFFFFFFFF


def _archive(data: bytes) -> ArchiveFile:
    return ArchiveFile(io.BytesIO(data))


def _code(call, *args) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(PackageRejected) as rejected:
        result = call(*args)
        if not isinstance(result, (Directory, DataDescriptor, zipformat.LocalHeader)):
            list(result)
    [problem] = rejected.value.problems
    return problem.code


def _entries(data: bytes, max_name: int = 1025) -> list[zipformat.CentralEntry]:
    archive = _archive(data)
    return list(iter_central(archive, find_directory(archive), max_name))


TWO = build([Entry("a.txt", b"alpha"), Entry("b/c.txt", b"gamma", method=0)])


def test_archive_reads_refuse_what_lies_outside_the_file() -> None:
    archive = _archive(b"0123456789")

    assert archive.size == 10
    assert archive.read(2, 3) == b"234"
    assert archive.read(0, 10) == b"0123456789"
    for offset, length in ((-1, 2), (0, -1), (8, 3), (2**63, 1)):
        assert _code(archive.read, offset, length) == "zip.truncated"


def test_the_directory_is_found_from_the_end_record() -> None:
    archive = _archive(TWO)
    directory = find_directory(archive)
    records = TWO.rfind(b"PK\x05\x06")

    assert directory == Directory(
        offset=TWO.find(b"PK\x01\x02"),
        size=records - TWO.find(b"PK\x01\x02"),
        entries=2,
        end=records,
        comment_offset=records + 22,
    )


def test_an_archive_comment_is_allowed_and_the_comment_offset_points_at_it() -> None:
    data = build([Entry("a.txt", b"alpha")], comment=b"hello")

    assert data[find_directory(_archive(data)).comment_offset :] == b"hello"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "zip.not_a_zip"),
        (b"<html>" * 10, "zip.not_a_zip"),
        (b"PK\x03\x04" + bytes(40), "zip.truncated"),
        (TWO + b"\0", "zip.trailing_data"),
        (TWO + b"trailing bytes", "zip.trailing_data"),
        (TWO[:-3], "zip.truncated"),
        (TWO[:-2] + b"\x05\x00abc", "zip.truncated"),
        (TWO[:-2] + struct.pack("<H", 22) + end_record(0, 0, 0), "zip.ambiguous_structure"),
    ],
    ids=[
        "empty",
        "html",
        "local-signature-only",
        "one-byte-after",
        "bytes-after",
        "cut",
        "comment-cut",
        "two-ends",
    ],
)
def test_a_missing_or_doubtful_end_record_is_refused(data: bytes, code: str) -> None:
    assert _code(find_directory, _archive(data)) == code


def _patched_end(offset: int, fmt: str, *values: int) -> bytes:
    data = bytearray(TWO)
    struct.pack_into(fmt, data, len(data) - 22 + offset, *values)
    return bytes(data)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (_patched_end(4, "<H", 1), "zip.multi_disk"),
        (_patched_end(6, "<H", 1), "zip.multi_disk"),
        (_patched_end(8, "<H", 1), "zip.multi_disk"),
        (_patched_end(10, "<H", 0xFFFF), "zip.multi_disk"),
        (_patched_end(8, "<HH", 0xFFFF, 0xFFFF), "zip.bad_central_directory"),
        (_patched_end(12, "<I", MAX), "zip.bad_central_directory"),
        (_patched_end(16, "<I", MAX), "zip.bad_central_directory"),
    ],
    ids=[
        "disk",
        "directory-disk",
        "disk-entries",
        "entries-differ",
        "saturated-count",
        "saturated-size",
        "saturated-offset",
    ],
)
def test_classic_end_records_that_need_zip64_or_other_disks_are_refused(data: bytes, code: str) -> None:
    assert _code(find_directory, _archive(data)) == code


def _zip64(count: int = 1) -> bytes:
    files = [Entry(f"f{number}.txt", b"x") for number in range(count)]
    return build(files, zip64=True)


def test_a_zip64_end_record_describes_the_directory() -> None:
    data = _zip64(2)
    record = data.rfind(b"PK\x06\x06")
    directory = find_directory(_archive(data))

    assert (directory.entries, directory.end, directory.offset + directory.size) == (2, record, record)
    assert directory.comment_offset == len(data)
    assert [entry.raw_name for entry in _entries(data)] == [b"f0.txt", b"f1.txt"]


def _patched_zip64(target: bytes, offset: int, fmt: str, *values: int) -> bytes:
    data = bytearray(_zip64(2))
    struct.pack_into(fmt, data, data.rfind(target) + offset, *values)
    return bytes(data)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (_patched_zip64(b"PK\x06\x07", 4, "<I", 1), "zip.multi_disk"),
        (_patched_zip64(b"PK\x06\x07", 16, "<I", 2), "zip.multi_disk"),
        (_patched_zip64(b"PK\x06\x07", 8, "<Q", 2**40), "zip.bad_central_directory"),
        (_patched_zip64(b"PK\x06\x07", 8, "<Q", 1), "zip.bad_central_directory"),
        (_patched_zip64(b"PK\x06\x06", 0, "<I", 0x05064B50), "zip.bad_central_directory"),
        (_patched_zip64(b"PK\x06\x06", 4, "<Q", 43), "zip.bad_central_directory"),
        (_patched_zip64(b"PK\x06\x06", 16, "<I", 1), "zip.multi_disk"),
        (_patched_zip64(b"PK\x06\x06", 20, "<I", 1), "zip.multi_disk"),
        (_patched_zip64(b"PK\x06\x06", 24, "<Q", 1), "zip.multi_disk"),
        (_patched_zip64(b"PK\x05\x06", 10, "<H", 3), "zip.ambiguous_structure"),
        (_patched_zip64(b"PK\x05\x06", 12, "<I", 5), "zip.ambiguous_structure"),
        (_patched_zip64(b"PK\x05\x06", 16, "<I", 7), "zip.ambiguous_structure"),
    ],
    ids=[
        "locator-disk", "locator-disks", "record-past-locator", "record-misplaced", "record-signature",
        "record-size", "record-disk", "record-directory-disk", "record-disk-entries", "classic-count",
        "classic-size", "classic-offset",
    ],
)  # fmt: skip
def test_zip64_end_records_that_lie_are_refused(data: bytes, code: str) -> None:
    assert _code(find_directory, _archive(data)) == code


def test_an_end_record_too_near_the_start_for_a_locator_is_read_without_one() -> None:
    data = bytes(16) + end_record(0, 0, 0)

    assert find_directory(_archive(data)) == Directory(0, 0, 0, end=16, comment_offset=38)


def test_a_zip64_record_said_to_overlap_its_locator_is_refused_before_it_is_read() -> None:
    data = bytearray(_zip64(2))
    locator = data.rfind(b"PK\x06\x07")
    struct.pack_into("<Q", data, locator + 8, locator)

    assert _code(find_directory, _archive(bytes(data))) == "zip.bad_central_directory"


def test_classic_values_that_equal_the_zip64_ones_need_not_be_saturated() -> None:
    data = bytearray(_zip64(2))
    directory = find_directory(_archive(bytes(data)))
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HII", data, end + 10, 2, directory.size, directory.offset)

    assert find_directory(_archive(bytes(data))) == directory


@pytest.mark.parametrize(
    ("count", "code"),
    [(1, "zip.bad_central_directory"), (3, "zip.bad_central_directory")],
    ids=["more-records-than-declared", "fewer-records-than-declared"],
)
def test_the_records_must_fill_the_directory_exactly(count: int, code: str) -> None:
    data = build([Entry("a.txt", b"a"), Entry("b.txt", b"b")], count=count)

    assert _code(_entries, data) == code


def test_a_directory_that_does_not_end_at_the_end_record_is_refused() -> None:
    shorter = _patched_end(12, "<I", TWO.rfind(b"PK\x05\x06") - TWO.find(b"PK\x01\x02") - 1)
    trailing = build([Entry("a.txt", b"a")], extra_central=b"junk")

    assert _code(_entries, shorter) == "zip.bad_central_directory"
    assert _code(_entries, trailing) == "zip.bad_central_directory"


def test_a_record_without_its_signature_or_running_past_the_directory_is_refused() -> None:
    unsigned = bytearray(TWO)
    unsigned[TWO.find(b"PK\x01\x02") + 3] = 0x03
    long_name = bytearray(TWO)
    struct.pack_into("<H", long_name, TWO.rfind(b"PK\x01\x02") + 28, 500)

    assert _code(_entries, bytes(unsigned)) == "zip.bad_central_directory"
    assert _code(_entries, bytes(long_name)) == "zip.bad_central_directory"


def test_names_longer_than_the_limit_stop_the_parse() -> None:
    data = build([Entry("a" * 40, b"x")])

    assert [entry.raw_name for entry in _entries(data, max_name=40)] == [b"a" * 40]
    assert _code(_entries, data, 39) == "zip.path_too_long"


def test_central_fields_are_read_as_written() -> None:
    entry = Entry("b/c.txt", b"gamma", method=0, flags=0x800, external_attr=0o100600 << 16, made_by=0x0A14)
    [read] = _entries(build([entry]))

    assert (read.raw_name, read.version_made_by, read.flags, read.method) == (b"b/c.txt", 0x0A14, 0x800, 0)
    assert (read.crc32, read.compressed_size, read.uncompressed_size) == (zlib.crc32(b"gamma"), 5, 5)
    assert (read.external_attr, read.local_offset, read.disk, read.comment) == (0o100600 << 16, 0, 0, b"")


def _zip64_record(usize: int, csize: int, offset: int, disk: int, payload: bytes) -> bytes:
    entry = Entry("z.txt", b"")
    raw = entry.raw_name()
    extra = struct.pack("<HH", 1, len(payload)) + payload
    record = struct.pack(
        "<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 45, 0, 0, 0, 0, 0, csize, usize,
        len(raw), len(extra), 0, disk, 0, 0, offset,
    ) + raw + extra  # fmt: skip
    body = local_header(entry, b"")
    return body + record + end_record(1, len(record), len(body))


@pytest.mark.parametrize(
    ("fields", "payload", "resolved"),
    [
        ((MAX, 0, 0, 0), struct.pack("<Q", 2**40), (2**40, 0, 0, 0)),
        ((0, MAX, 0, 0), struct.pack("<Q", 2**41), (0, 2**41, 0, 0)),
        ((0, 0, MAX, 0), struct.pack("<Q", 2**42), (0, 0, 2**42, 0)),
        ((0, 0, 0, 0xFFFF), struct.pack("<I", 7), (0, 0, 0, 7)),
        ((MAX, MAX, MAX, 0xFFFF), struct.pack("<QQQI", 1, 2, 3, 4), (1, 2, 3, 4)),
        ((0, MAX, 0, 0xFFFF), struct.pack("<QI", 5, 6), (0, 5, 0, 6)),
        ((5, 6, 7, 0), struct.pack("<QQQ", 1, 2, 3), (5, 6, 7, 0)),
    ],
    ids=["size", "compressed", "offset", "disk", "all", "compressed-and-disk", "none-saturated"],
)
def test_saturated_fields_take_the_zip64_values_in_the_order_the_format_fixes(
    fields: tuple[int, int, int, int], payload: bytes, resolved: tuple[int, int, int, int]
) -> None:
    [entry] = _entries(_zip64_record(*fields, payload))

    assert (entry.uncompressed_size, entry.compressed_size, entry.local_offset, entry.disk) == resolved
    assert zipformat.ZIP64_EXTRA_ID not in entry.extras


@pytest.mark.parametrize(
    ("fields", "payload"),
    [((MAX, MAX, 0, 0), struct.pack("<Q", 1)), ((0, 0, 0, 0xFFFF), b"\x01\x00"), ((MAX, 0, 0, 0), b"")],
    ids=["one-of-two", "short-disk", "empty"],
)
def test_a_zip64_block_too_short_for_the_saturated_fields_is_refused(
    fields: tuple[int, int, int, int], payload: bytes
) -> None:
    assert _code(_entries, _zip64_record(*fields, payload)) == "zip.bad_extra_field"


def test_extra_fields_are_split_into_blocks() -> None:
    extra = struct.pack("<HH", 0x5455, 3) + b"abc" + struct.pack("<HH", 0x000A, 0) + b"\0\0\0"

    assert parse_extras(extra, b"n") == {0x5455: b"abc", 0x000A: b""}
    assert parse_extras(b"", b"n") == {}


@pytest.mark.parametrize(
    "extra",
    [
        struct.pack("<HH", 0x5455, 4) + b"abc",
        struct.pack("<HH", 0x0001, 0) * 2,
        struct.pack("<HH", 0x7075, 1) + b"a" + struct.pack("<HH", 0x7075, 1) + b"b",
        struct.pack("<HH", 0x6375, 0) * 2,
    ],
    ids=["runs-past", "repeated-zip64", "repeated-unicode-path", "repeated-unicode-comment"],
)
def test_a_block_that_runs_past_the_field_or_a_repeated_read_block_is_refused(extra: bytes) -> None:
    with pytest.raises(PackageRejected) as rejected:
        parse_extras(extra, b"name\x1b")
    [problem] = rejected.value.problems
    assert (problem.code, problem.path) == ("zip.bad_extra_field", "name\\x1b")


def test_a_repeated_block_the_sandbox_does_not_read_keeps_its_first_copy() -> None:
    extra = struct.pack("<HH", 0x5455, 1) + b"a" + struct.pack("<HH", 0x5455, 1) + b"b"

    assert parse_extras(extra, b"n") == {0x5455: b"a"}


def test_a_unicode_path_block_longer_than_the_name_limit_is_refused() -> None:
    block = struct.pack("<BI", 1, zlib.crc32(b"a.txt")) + b"x" * 30
    data = build([Entry("a.txt", b"a", extra=struct.pack("<HH", 0x7075, len(block)) + block)])

    assert _code(_entries, data, 29) == "zip.path_too_long"
    assert _entries(data, 30)[0].extras[0x7075] == block


def test_the_entry_comment_is_kept_only_beside_a_unicode_comment_block() -> None:
    with_block = struct.pack("<HH", 0x6375, 0)

    def archive(record_extra: bytes) -> bytes:
        entry = Entry("a.txt", b"a", method=0, extra=record_extra)
        record = bytearray(central_record(entry, b"a", 0) + b"note")
        struct.pack_into("<H", record, 32, 4)
        body = local_header(entry, b"a") + b"a"
        return body + bytes(record) + end_record(1, len(record), len(body))

    assert _entries(archive(b""))[0].comment == b""
    assert _entries(archive(with_block))[0].comment == b"note"


def test_local_headers_are_read_and_bounded_by_the_directory() -> None:
    archive = _archive(TWO)
    limit = find_directory(archive).offset
    second = TWO.find(b"PK\x03\x04", 4)
    local = read_local(archive, second, limit)

    assert (local.raw_name, local.method, local.flags, local.crc32) == (
        b"b/c.txt",
        0,
        0,
        zlib.crc32(b"gamma"),
    )
    assert (local.compressed_size, local.uncompressed_size, local.data_offset) == (5, 5, second + 30 + 7)
    assert not local.zip64
    assert _code(read_local, archive, -1, limit) == "zip.bad_offset"
    assert _code(read_local, archive, limit - 29, limit) == "zip.bad_offset"
    assert _code(read_local, archive, second + 1, limit) == "zip.bad_local_header"
    assert _code(read_local, archive, second, second + 36) == "zip.bad_offset"
    assert read_local(archive, second, second + 37).data_offset == second + 37


def test_a_saturated_local_header_takes_both_sizes_from_its_zip64_block() -> None:
    wide = struct.pack("<HHQQ", 1, 16, 2**33, 2**34)
    entry = Entry("a.txt", b"", method=0, extra=wide, local_size=MAX)
    data = build([entry])
    local = read_local(_archive(data), 0, data.find(b"PK\x01\x02"))
    short = build([Entry("a.txt", b"", method=0, extra=struct.pack("<HHQ", 1, 8, 2**33), local_size=MAX)])

    assert (local.uncompressed_size, local.compressed_size, local.zip64) == (2**33, 2**34, True)
    assert _code(read_local, _archive(short), 0, short.find(b"PK\x01\x02")) == "zip.bad_extra_field"


def test_descriptors_are_offered_in_both_forms_with_the_width_the_local_header_fixes() -> None:
    signed = b"PK\x07\x08" + struct.pack("<III", 7, 8, 9)
    wide = b"PK\x07\x08" + struct.pack("<IQQ", 7, 2**33, 2**34)
    archive = _archive(b"....." + signed + wide)

    assert read_descriptors(archive, 5, 21, zip64=False) == [
        DataDescriptor(16, 7, 8, 9),
        DataDescriptor(12, 0x08074B50, 7, 8),
    ]
    assert read_descriptors(archive, 21, 45, zip64=True) == [
        DataDescriptor(24, 7, 2**33, 2**34),
        DataDescriptor(20, 0x08074B50, *struct.unpack_from("<QQ", wide, 4)),
    ]
    assert read_descriptors(archive, 5, 17, zip64=False) == [DataDescriptor(12, 0x08074B50, 7, 8)]
    assert read_descriptors(archive, 5, 16, zip64=False) == []
    assert read_descriptors(archive, 21, 44, zip64=True) == [
        DataDescriptor(20, 0x08074B50, *struct.unpack_from("<QQ", wide, 4))
    ]


def test_signatures_are_found_across_scan_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    # The signature starts three bytes before the second chunk: only a three-byte overlap sees it.
    monkeypatch.setattr(zipformat, "_SCAN_CHUNK", 8)
    data = b"x" * 5 + b"PK\x03\x04" + b"y" * 20
    archive = _archive(data)

    assert find_signature(archive, 0, len(data), b"PK\x03\x04")
    assert not find_signature(archive, 6, len(data), b"PK\x03\x04")
    assert not find_signature(archive, 0, 8, b"PK\x03\x04")
    assert find_signature(archive, 0, 9, b"PK\x03\x04")
    assert not find_signature(archive, 5, 5, b"PK\x03\x04")


def test_names_are_shown_with_control_characters_escaped() -> None:
    assert printable("a\x1b[2Jb\u202e") == "a\\x1b[2Jb\\u202e"
    assert shown_raw(b"caf\xe9\x07") == "caf\\xe9\\x07"


def test_bytes_after_an_end_record_at_the_very_start_are_trailing_data() -> None:
    assert _code(find_directory, _archive(end_record(0, 0, 0) + b"x")) == "zip.trailing_data"


def test_extra_block_sizes_are_unsigned() -> None:
    big = struct.pack("<HH", 0x5455, 40_000) + bytes(40_000)

    assert parse_extras(big, b"n") == {0x5455: bytes(40_000)}


def _record_without_zip64_block(usize: int, disk: int) -> bytes:
    entry = Entry("z.txt", b"")
    raw = entry.raw_name()
    record = struct.pack(
        "<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 45, 0, 0, 0, 0, 0, 0, usize, len(raw), 0, 0, disk, 0, 0, 0
    ) + raw  # fmt: skip
    body = local_header(entry, b"")
    return body + record + end_record(1, len(record), len(body))


@pytest.mark.parametrize(("usize", "disk"), [(MAX, 0), (0, 0xFFFF)], ids=["size", "disk"])
def test_a_saturated_field_without_any_zip64_block_is_refused(usize: int, disk: int) -> None:
    assert _code(_entries, _record_without_zip64_block(usize, disk)) == "zip.bad_extra_field"


def test_a_local_header_may_end_exactly_at_the_directory() -> None:
    header = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    archive = _archive(header)

    assert read_local(archive, 0, 30).data_offset == 30
    assert _code(read_local, archive, 0, 29) == "zip.bad_offset"


def test_a_malformed_extra_field_in_a_local_header_names_the_entry() -> None:
    entry = Entry("a.txt", b"", method=0, extra=struct.pack("<HH", 0x5455, 9) + b"ab")
    data = local_header(entry, b"")
    with pytest.raises(PackageRejected) as rejected:
        read_local(_archive(data), 0, len(data))
    [problem] = rejected.value.problems
    assert (problem.code, problem.path) == ("zip.bad_extra_field", "a.txt")


def test_descriptor_sizes_are_unsigned() -> None:
    descriptor = b"PK\x07\x08" + struct.pack("<III", 2**31 + 1, 2**31 + 2, 2**32 - 1)

    assert read_descriptors(_archive(descriptor), 0, 16, zip64=False)[0] == DataDescriptor(
        16, 2**31 + 1, 2**31 + 2, 2**32 - 1
    )
