"""The zip sandbox: structure checks, entry checks, and the verified streaming reader."""

from __future__ import annotations

import io
import random
import struct
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest

from content_service.packaging import zipsafe
from content_service.packaging.limits import ImportLimits
from content_service.packaging.model import PackageRejected
from content_service.packaging.zipformat import CentralEntry
from content_service.packaging.zipsafe import CHUNK_SIZE, SafeZip
from tests.zipcraft import (
    MADE_BY_UNIX,
    UNIX_DIR,
    UNIX_FILE,
    Entry,
    build,
    central_record,
    data_descriptor,
    end_record,
    local_header,
)

LIMITS = ImportLimits()


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "package.zip"
    path.write_bytes(data)
    return path


def _codes(tmp_path: Path, data: bytes, limits: ImportLimits = LIMITS) -> list[str]:
    with pytest.raises(PackageRejected) as rejected, SafeZip.open(_write(tmp_path, data), limits) as archive:
        for entry in archive.files:
            for _ in archive.iter_chunks(entry):
                pass
    return [problem.code for problem in rejected.value.problems]


def _read_all(tmp_path: Path, data: bytes) -> dict[str, bytes]:
    with SafeZip.open(_write(tmp_path, data), LIMITS) as archive:
        return {entry.name: b"".join(archive.iter_chunks(entry)) for entry in archive.files}


def test_a_zipfile_written_archive_reads_back_identically(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.html", "<p>hi</p>" * 1000)
        archive.writestr("assets/", "")
        archive.writestr("assets/raw.bin", bytes(range(256)), compress_type=zipfile.ZIP_STORED)

    contents = _read_all(tmp_path, buffer.getvalue())

    assert contents == {"index.html": b"<p>hi</p>" * 1000, "assets/raw.bin": bytes(range(256))}


def test_directory_entries_are_accepted_and_not_listed_as_files(tmp_path: Path) -> None:
    data = build([Entry("dir/", b"", external_attr=UNIX_DIR), Entry("dir/a.txt", b"a")])

    with SafeZip.open(_write(tmp_path, data), LIMITS) as archive:
        assert archive.names == frozenset({"dir/a.txt"})


def test_a_zip64_end_record_is_followed(tmp_path: Path) -> None:
    data = build([Entry("a.txt", b"alpha"), Entry("b.txt", b"beta")], zip64=True)

    assert _read_all(tmp_path, data) == {"a.txt": b"alpha", "b.txt": b"beta"}


def test_large_entries_stream_in_bounded_chunks(tmp_path: Path) -> None:
    content = random.Random(7).randbytes(3 * CHUNK_SIZE + 1234)
    data = build([Entry("big.bin", content)])

    with SafeZip.open(_write(tmp_path, data), LIMITS) as archive:
        sizes = [len(chunk) for chunk in archive.iter_chunks(archive.entry("big.bin"))]

    assert max(sizes) <= CHUNK_SIZE
    assert sum(sizes) == len(content)


def test_inflation_stops_one_byte_past_a_declared_size_that_lies(tmp_path: Path) -> None:
    data = build([Entry("lie.bin", b"\0" * (4 * CHUNK_SIZE), declared_size=10)])
    produced = 0

    with SafeZip.open(_write(tmp_path, data), LIMITS) as archive, pytest.raises(PackageRejected) as rejected:
        for chunk in archive.iter_chunks(archive.entry("lie.bin")):
            produced += len(chunk)

    assert rejected.value.problems[0].code == "zip.size_mismatch"
    assert produced <= 10


def test_content_shorter_than_declared_is_a_size_mismatch(tmp_path: Path) -> None:
    assert _codes(tmp_path, build([Entry("a.bin", b"abc", declared_size=4)])) == ["zip.size_mismatch"]


def test_a_wrong_crc_is_refused_at_the_end_of_the_stream(tmp_path: Path) -> None:
    assert _codes(tmp_path, build([Entry("a.bin", b"abc", declared_crc=1)])) == ["zip.crc_mismatch"]


def test_damaged_deflate_data_is_corrupt(tmp_path: Path) -> None:
    data = build([Entry("a.bin", b"abc" * 100, payload=b"\xff\xff\xff\xff garbage")])

    assert _codes(tmp_path, data) == ["zip.corrupt_data"]


def test_compressed_data_that_ends_early_is_corrupt(tmp_path: Path) -> None:
    deflater = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    unfinished = deflater.compress(b"abc" * 1000) + deflater.flush(zlib.Z_SYNC_FLUSH)

    assert _codes(tmp_path, build([Entry("a.bin", b"abc" * 1000, payload=unfinished)])) == [
        "zip.corrupt_data"
    ]


def test_every_central_directory_problem_is_reported_at_once(tmp_path: Path) -> None:
    data = build(
        [Entry("../a.txt", b"a"), Entry("b.php", b"b"), Entry("link", b"/", external_attr=0o120777 << 16)]
    )

    assert _codes(tmp_path, data) == ["zip.path_traversal", "zip.server_executable", "zip.symlink"]


def test_nothing_is_inflated_when_the_central_directory_is_refused(tmp_path: Path) -> None:
    # The second entry's data is garbage; a sandbox that inflated before checking would say so.
    data = build([Entry("../a.txt", b"a"), Entry("b.bin", b"b", payload=b"\xff\xff")])

    assert _codes(tmp_path, data) == ["zip.path_traversal"]


@pytest.mark.parametrize(
    ("limits", "entries", "code"),
    [
        (ImportLimits(max_files=2), [Entry(f"{n}.txt", b"") for n in range(3)], "zip.too_many_files"),
        (ImportLimits(max_file_bytes=10), [Entry("a.txt", b"x" * 11)], "zip.file_too_large"),
        (
            ImportLimits(max_total_bytes=10),
            [Entry("a.txt", b"x" * 6), Entry("b.txt", b"y" * 6)],
            "zip.too_large",
        ),
        (ImportLimits(max_path_depth=2), [Entry("a/b/c.txt", b"")], "zip.path_too_deep"),
        (ImportLimits(max_path_length=8), [Entry("abcd/efgh.txt", b"")], "zip.path_too_long"),
        (
            ImportLimits(max_compression_ratio=2),
            [Entry("z.bin", b"\0" * (2 * 1024 * 1024))],
            "zip.compression_ratio",
        ),
    ],
)
def test_limits_are_settings(tmp_path: Path, limits: ImportLimits, entries: list[Entry], code: str) -> None:
    assert code in _codes(tmp_path, build(entries), limits)


def test_an_archive_larger_than_the_upload_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    limits = ImportLimits(max_upload_bytes=10)

    assert _codes(tmp_path, b"not even a zip, but too big", limits) == ["zip.upload_too_large"]


def test_a_descriptor_read_is_bounded(tmp_path: Path) -> None:
    data = build([Entry("imsmanifest.xml", b"<x/>" * 100)])

    with SafeZip.open(_write(tmp_path, data), LIMITS) as archive:
        assert archive.read_bounded("imsmanifest.xml", 400) == b"<x/>" * 100
        with pytest.raises(PackageRejected) as rejected:
            archive.read_bounded("imsmanifest.xml", 399)

    assert rejected.value.problems[0].code == "zip.descriptor_too_large"


def test_reading_a_missing_file_is_a_rejection_not_a_key_error(tmp_path: Path) -> None:
    path = _write(tmp_path, build([Entry("a.txt", b"a")]))
    with SafeZip.open(path, LIMITS) as archive, pytest.raises(PackageRejected) as rejected:
        archive.read_bounded("b.txt", 100)

    assert rejected.value.problems[0].code == "zip.missing_entry"


@pytest.mark.parametrize("signature", [True, False])
def test_local_headers_with_deferred_sizes_and_a_descriptor_are_accepted(
    tmp_path: Path, signature: bool
) -> None:
    entry = Entry("a.txt", b"abc", flags=0x8, local_size=0)
    entry.trailer = data_descriptor(entry, signature=signature)

    assert _read_all(tmp_path, build([entry, Entry("b.txt", b"b")])) == {"a.txt": b"abc", "b.txt": b"b"}


def test_a_deferred_entry_without_its_descriptor_is_refused(tmp_path: Path) -> None:
    data = build([Entry("a.txt", b"abc", flags=0x8, local_size=0), Entry("b.txt", b"b")])

    assert _codes(tmp_path, data) == ["zip.bad_data_descriptor"]


def test_a_descriptor_that_disagrees_with_the_central_record_is_refused(tmp_path: Path) -> None:
    entry = Entry("a.txt", b"abc", flags=0x8, local_size=0)
    entry.trailer = data_descriptor(Entry("a.txt", b"abd"))

    assert _codes(tmp_path, build([entry])) == ["zip.bad_data_descriptor"]


def test_a_local_header_that_disagrees_is_refused(tmp_path: Path) -> None:
    assert _codes(tmp_path, build([Entry("a.txt", b"abc", local_size=2)])) == ["zip.header_mismatch"]


def test_highly_compressed_content_is_read_back_exactly(tmp_path: Path) -> None:
    # Deflate output this dense fills every requested piece, which is where pending output hides.
    content = b"\0" * (5 * CHUNK_SIZE + 3)
    path = _write(tmp_path, build([Entry("zeros.bin", content)]))

    with SafeZip.open(path, ImportLimits(max_compression_ratio=5000)) as archive:
        assert b"".join(archive.iter_chunks(archive.entry("zeros.bin"))) == content


def test_classic_and_zip64_end_records_must_agree(tmp_path: Path) -> None:
    data = bytearray(build([Entry("a.txt", b"alpha")], zip64=True))
    # Make the classic record claim a real (non-deferring) entry count that differs.
    data[-22 + 8 : -22 + 12] = (7).to_bytes(2, "little") * 2

    assert _codes(tmp_path, bytes(data)) == ["zip.ambiguous_structure"]


def test_a_dos_directory_attribute_needs_a_trailing_slash(tmp_path: Path) -> None:
    data = build([Entry("folder", b"", external_attr=0x10, made_by=20)])

    assert _codes(tmp_path, data) == ["zip.bad_directory_entry"]


def test_an_overlong_name_stops_the_parse_before_the_rest_is_held(tmp_path: Path) -> None:
    entries = [Entry("n" * 5000, b""), *(Entry(f"{n}.txt", b"") for n in range(3))]

    assert _codes(tmp_path, build(entries)) == ["zip.path_too_long"]


def test_a_repeated_zip64_block_is_refused_but_padding_is_not(tmp_path: Path) -> None:
    block = (1).to_bytes(2, "little") + (8).to_bytes(2, "little") + (3).to_bytes(8, "little")

    assert _read_all(tmp_path, build([Entry("a.txt", b"abc", extra=b"\0\0")])) == {"a.txt": b"abc"}
    assert _codes(tmp_path, build([Entry("a.txt", b"abc", extra=block + block)])) == ["zip.bad_extra_field"]


def test_a_directory_may_hold_only_the_empty_deflate_stream_java_writes(tmp_path: Path) -> None:
    java = Entry("assets/", b"", external_attr=UNIX_DIR, payload=b"\x03\x00")
    hiding = Entry("assets/", b"", external_attr=UNIX_DIR, payload=b"\x03\x01")

    assert _read_all(tmp_path, build([java, Entry("assets/a.txt", b"a")])) == {"assets/a.txt": b"a"}
    assert _codes(tmp_path, build([hiding, Entry("assets/a.txt", b"a")])) == ["zip.bad_directory_entry"]


def test_a_deflated_file_with_no_compressed_bytes_is_empty_but_must_declare_so(tmp_path: Path) -> None:
    # APPNOTE 4.3.8: zero-byte files must not include file data, whatever their method.
    empty = Entry("empty.js", b"", payload=b"")

    assert _read_all(tmp_path, build([empty, Entry("a.txt", b"a")])) == {"empty.js": b"", "a.txt": b"a"}
    assert _codes(tmp_path, build([Entry("lie.js", b"x", payload=b"")])) == ["zip.size_mismatch"]


def test_a_unicode_path_names_an_entry_whose_header_name_is_in_a_legacy_code_page(tmp_path: Path) -> None:
    # A Russian Windows tool: cp866 bytes in the header (no UTF-8 flag), the real name in 0x7075.
    def named(raw: bytes, unicode_name: str, crc_of: bytes | None = None) -> Entry:
        text = unicode_name.encode()
        block = struct.pack("<BI", 1, zlib.crc32(raw if crc_of is None else crc_of)) + text
        return Entry(raw, b"lesson", extra=struct.pack("<HH", 0x7075, len(block)) + block)

    lesson = "урок.html"
    assert _read_all(tmp_path, build([named(lesson.encode("cp866"), lesson)])) == {lesson: b"lesson"}
    # The block's name is judged like any name, and a block that does not verify is refused.
    assert _codes(tmp_path, build([named(b"\xe3\xe0.html", "../escaped.html")])) == ["zip.path_traversal"]
    assert _codes(tmp_path, build([named(b"\xe3\xe0.html", "a.html", b"other")])) == ["zip.bad_unicode_extra"]
    # A UTF-8 header name is not a guess: a Unicode Path that differs from it stays ambiguous.
    assert "zip.ambiguous_name" in _codes(tmp_path, build([named(b"page.html", "other.html")]))


def test_the_archive_comment_may_hold_text_but_no_local_header(tmp_path: Path) -> None:
    files = [Entry("a.txt", b"a")]
    hidden = Entry("evil.html", b"<script>")
    smuggled = local_header(hidden, hidden.compressed()) + hidden.compressed()

    assert _read_all(tmp_path, build(files, comment=b"Made by a tool. PK")) == {"a.txt": b"a"}
    assert _codes(tmp_path, build(files, comment=b"note " + smuggled)) == ["zip.hidden_entry"]


def _padded_archive(count: int, padding: int) -> bytes:
    """``count`` files whose central records carry a ZIP64 block, a comment and its Unicode
    Comment block of ``padding`` bytes each (their local headers stay small)."""
    zip64 = struct.pack("<HH", 0x0001, padding) + bytes(padding)
    comment = b"c" * padding
    unicode_comment = struct.pack("<HHBI", 0x6375, 5 + padding, 1, zlib.crc32(comment)) + comment
    body, records = bytearray(), bytearray()
    for number in range(count):
        entry = Entry(f"f/{number}.txt", b"", method=0)
        raw, extra = entry.raw_name(), zip64 + unicode_comment
        records += struct.pack(
            "<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", MADE_BY_UNIX, 20, 0, 0, 0, 0x21, 0, 0, 0,
            len(raw), len(extra), len(comment), 0, 0, UNIX_FILE, len(body),
        ) + raw + extra + comment  # fmt: skip
        body += local_header(entry, b"")
    return bytes(body + records + end_record(count, len(records), len(body)))


def test_checked_records_are_held_without_their_zip64_padding_or_comments(tmp_path: Path) -> None:
    # Every record is held until the whole directory is checked: 20 000 of them with 64 KiB
    # ZIP64 blocks and comments would otherwise hold the whole (2 GiB) directory in memory.
    path = _write(tmp_path, _padded_archive(count=80, padding=30_000))
    tracemalloc.start()
    try:
        with SafeZip.open(path, LIMITS) as archive:
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert len(archive.files) == 80
    assert peak < 2_000_000  # the records' padding alone is 7.2 MB


def _unicode_block(block_id: int, crc: int, text: bytes, version: int = 1) -> bytes:
    payload = struct.pack("<BI", version, crc) + text
    return struct.pack("<HH", block_id, len(payload)) + payload


def test_unicode_blocks_too_short_or_of_another_version_are_malformed(tmp_path: Path) -> None:
    for extra in (
        struct.pack("<HH", 0x7075, 4) + b"\x01abc",
        _unicode_block(0x7075, zlib.crc32(b"a.txt"), b"a.txt", version=2),
    ):
        assert _codes(tmp_path, build([Entry("a.txt", b"a", extra=extra)])) == ["zip.bad_unicode_extra"]


def test_a_unicode_comment_must_repeat_the_comment_and_only_the_central_record_may_carry_one(
    tmp_path: Path,
) -> None:
    def archive(local_extra: bytes, central_extra: bytes) -> bytes:
        local, central = Entry("a.txt", b"a", extra=local_extra), Entry("a.txt", b"a", extra=central_extra)
        compressed = central.compressed()
        body = local_header(local, compressed) + compressed
        record = central_record(central, compressed, 0)
        return body + record + end_record(1, len(record), len(body))

    # The header's comment is empty: a block saying "hello" with the CRC of b"" still disagrees.
    agreeing = _unicode_block(0x6375, zlib.crc32(b""), b"")
    disagreeing = _unicode_block(0x6375, zlib.crc32(b""), b"hello")

    assert _read_all(tmp_path, archive(b"", agreeing)) == {"a.txt": b"a"}
    assert _codes(tmp_path, archive(b"", disagreeing)) == ["zip.bad_unicode_extra"]
    assert _codes(tmp_path, archive(agreeing, b"")) == ["zip.bad_unicode_extra"]


def test_every_limit_is_inclusive(tmp_path: Path) -> None:
    entries = [Entry("a.txt", b"x" * 6), Entry("b/c.txt", b"y" * 4)]
    data = build(entries)
    exact = ImportLimits(max_files=2, max_file_bytes=6, max_total_bytes=10, max_upload_bytes=len(data))

    assert _read_all(tmp_path, data) == {"a.txt": b"x" * 6, "b/c.txt": b"y" * 4}
    with SafeZip.open(_write(tmp_path, data), exact) as archive:
        assert [entry.name for entry in archive.files] == ["a.txt", "b/c.txt"]
    assert _codes(tmp_path, data, exact.model_copy(update={"max_upload_bytes": len(data) - 1})) == [
        "zip.upload_too_large"
    ]


def test_the_ratio_is_judged_above_one_mebibyte_per_file_and_for_the_whole_archive(tmp_path: Path) -> None:
    mebibyte = 1024 * 1024
    assert _read_all(tmp_path, build([Entry("z.bin", bytes(mebibyte))])) == {"z.bin": bytes(mebibyte)}
    assert "zip.compression_ratio" in _codes(tmp_path, build([Entry("z.bin", bytes(mebibyte + 1))]))
    # No file on its own is judged, but together they expand far beyond the ratio.
    files = [Entry(f"z{number}.bin", bytes(mebibyte)) for number in range(3)]
    with pytest.raises(PackageRejected) as rejected:
        SafeZip.open(_write(tmp_path, build(files)), LIMITS)
    [problem] = rejected.value.problems
    assert (problem.code, problem.path) == ("zip.compression_ratio", None)


@pytest.mark.parametrize(
    ("entry", "code"),
    [
        (Entry("dirlike", b"", external_attr=0x10), "zip.bad_directory_entry"),  # Unix host, no mode
        (Entry("tty", b"", external_attr=0o020644 << 16), "zip.special_file"),
        (Entry("tty", b"", external_attr=0o020644 << 16, made_by=(19 << 8) | 20), "zip.special_file"),
        (Entry("a.txt", b"a", flags=0x2000), "zip.encrypted"),
    ],
    ids=[
        "dos-directory-bit-without-unix-mode",
        "character-device",
        "character-device-from-macos",
        "masked-headers",
    ],
)
def test_entry_kinds_and_flags(tmp_path: Path, entry: Entry, code: str) -> None:
    assert _codes(tmp_path, build([entry])) == [code]


def test_an_entry_on_another_disk_is_refused(tmp_path: Path) -> None:
    data = bytearray(build([Entry("a.txt", b"a")]))
    struct.pack_into("<H", data, data.rfind(b"PK\x01\x02") + 34, 1)

    assert _codes(tmp_path, bytes(data)) == ["zip.multi_disk"]


def test_a_stored_directory_may_not_hold_the_empty_deflate_stream(tmp_path: Path) -> None:
    directory = Entry("assets/", b"", method=0, external_attr=UNIX_DIR, payload=b"\x03\x00")

    assert _codes(tmp_path, build([directory])) == ["zip.bad_directory_entry", "zip.size_mismatch"]


def test_a_zero_in_the_local_header_is_only_deferred_with_a_descriptor(tmp_path: Path) -> None:
    assert _codes(tmp_path, build([Entry("a.txt", b"abc", local_size=0)])) == ["zip.header_mismatch"]


def test_entries_may_not_share_even_one_byte_nor_leave_one_unowned(tmp_path: Path) -> None:
    # a.txt's last data byte is the "P" that starts b.txt's local header.
    first, second = Entry("a.txt", b"xyzP", method=0), Entry("b.txt", b"b", method=0)
    first_header = local_header(first, first.data)
    second_header = local_header(second, second.data)
    body = first_header + b"xyz" + second_header + second.data
    records = central_record(first, first.data, 0) + central_record(
        second, second.data, len(first_header) + 3
    )
    overlapping = body + records + end_record(2, len(records), len(body))
    gap = build([Entry("a.txt", b"a", trailer=b"\0")])

    assert _codes(tmp_path, overlapping) == ["zip.overlapping_entries"]
    assert _codes(tmp_path, gap) == ["zip.hidden_data"]


def test_bytes_after_the_end_of_a_deflate_stream_are_corrupt(tmp_path: Path) -> None:
    deflater = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    payload = deflater.compress(b"abc") + deflater.flush() + b"junk"

    assert _codes(tmp_path, build([Entry("a.txt", b"abc", payload=payload)])) == ["zip.corrupt_data"]


def test_each_central_record_name_is_decoded_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    decoded: list[bytes] = []
    real = zipsafe.entry_name

    def counting(central: CentralEntry) -> str | None:
        decoded.append(central.raw_name)
        return real(central)

    monkeypatch.setattr(zipsafe, "entry_name", counting)
    data = build([Entry("dir/", b"", external_attr=UNIX_DIR), Entry("dir/a.txt", b"a"), Entry("b.txt", b"b")])

    assert _read_all(tmp_path, data) == {"dir/a.txt": b"a", "b.txt": b"b"}
    assert sorted(decoded) == [b"b.txt", b"dir/", b"dir/a.txt"]
