"""A catalogue of hostile packages, and of valid packages that are merely awkward.

Every hostile case is a small SCORM 1.2 package that would build but for one trick, so the
refusal can only come from that trick. Most are written byte by byte (``tests.zipcraft``)
because ``zipfile`` cannot write them. A case builds its bytes from the test's root folder so
that absolute-path cases can aim at a place the test then checks is still empty.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.zipcraft import (
    DOS_FILE,
    MADE_BY_DOS,
    UNIX_DIR,
    UNIX_SYMLINK,
    Entry,
    build,
    central_record,
    data_descriptor,
    end_record,
    local_header,
)

INDEX = b"<!doctype html><title>lesson</title><p>Hello.</p>"


def manifest(
    href: str = "index.html", *, xml_base: str = "", prolog: str = "", files: tuple[str, ...] = ()
) -> bytes:
    """A SCORM 1.2 imsmanifest.xml with one SCO launching ``href``."""
    base = f' xml:base="{xml_base}"' if xml_base else ""
    file_elements = "".join(f'<file href="{name}"/>' for name in files)
    text = f"""<?xml version="1.0" encoding="UTF-8"?>{prolog}
<manifest identifier="M1" version="1.0" xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">
  <metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>
  <organizations default="O1">
    <organization identifier="O1"><title>Course</title>
      <item identifier="I1" identifierref="R1"><title>Lesson</title></item>
    </organization>
  </organizations>
  <resources>
    <resource identifier="R1" type="webcontent" adlcp:scormtype="sco"
      href="{href}"{base}>{file_elements}</resource>
  </resources>
</manifest>
"""
    return text.encode("utf-8")


def package(*extra: Entry, index: bool = True, descriptor: bytes | None = None) -> bytes:
    """A valid package plus ``extra`` entries."""
    entries = [Entry("imsmanifest.xml", descriptor if descriptor is not None else manifest())]
    if index:
        entries.append(Entry("index.html", INDEX))
    return build([*entries, *extra])


@dataclass(frozen=True)
class Case:
    """One hostile package and the problem code it must be refused with.

    ``code`` ending in "." is a prefix (the standards parser owns those codes); ``parser``
    marks cases whose refusal comes from, or happens after, the standards parser.
    """

    id: str
    make: Callable[[Path], bytes]
    code: str
    parser: bool = False

    def matches(self, codes: list[str]) -> bool:
        if self.code.endswith("."):
            return any(code.startswith(self.code) for code in codes)
        return self.code in codes


def _one(name: bytes | str, data: bytes = b"x", **fields: object) -> Callable[[Path], bytes]:
    return lambda root: package(Entry(name, data, **fields))  # type: ignore[arg-type]


def _dos(name: str) -> Callable[[Path], bytes]:
    """One entry as a Windows writer stores it (made on MS-DOS/FAT, DOS attributes)."""
    return _one(name, made_by=MADE_BY_DOS, external_attr=DOS_FILE)


def _overlapping(root: Path) -> bytes:
    """Entry B's header and data sit inside entry A's stored data: one stream, counted twice."""
    payload = zlib.compress(b"\0" * 4096)[2:-4]
    inner = Entry("b.bin", b"\0" * 4096, payload=payload)
    outer = Entry("a.bin", b"pad!" + local_header(inner, payload) + payload, method=0)
    outer_header = local_header(outer, outer.data)
    head = bytearray(outer_header + outer.data)
    records = [central_record(outer, outer.data, 0), central_record(inner, payload, len(outer_header) + 4)]
    for entry in (Entry("imsmanifest.xml", manifest()), Entry("index.html", INDEX)):
        compressed = entry.compressed()
        records.append(central_record(entry, compressed, len(head)))
        head += local_header(entry, compressed) + compressed
    directory = b"".join(records)
    return bytes(head + directory + end_record(len(records), len(directory), len(head)))


def _fake_end_in_comment(root: Path) -> bytes:
    real = package()
    fake = end_record(0, 0, 0)
    # The real end record's comment is the fake one, so both reach exactly to the end of the file.
    return real[:-2] + struct.pack("<H", len(fake)) + fake


def _local_header_in_comment(root: Path) -> bytes:
    """A whole entry in the archive comment, where a tool scanning for signatures would find it."""
    hidden = Entry("evil.sh", b"#!/bin/sh\nrm -rf ~\n")
    comment = local_header(hidden, hidden.compressed()) + hidden.compressed()
    return package()[:-2] + struct.pack("<H", len(comment)) + comment


def _count_lies(root: Path) -> bytes:
    data = bytearray(package())
    end = len(data) - 22
    struct.pack_into("<HH", data, end + 8, 5, 5)
    return bytes(data)


def _unicode_path_extra(root: Path) -> bytes:
    raw = b"index2.html"
    alternative = b"../escaped.html"
    block = struct.pack("<BI", 1, zlib.crc32(raw)) + alternative
    extra = struct.pack("<HH", 0x7075, len(block)) + block
    return package(Entry(raw, INDEX, extra=extra))


def _unicode_block(name: bytes, text: bytes, *, block_id: int = 0x7075, crc: int | None = None) -> bytes:
    """An Info-ZIP Unicode Path (or Comment) extra block: version 1, CRC of ``name``, UTF-8 ``text``."""
    block = struct.pack("<BI", 1, zlib.crc32(name) if crc is None else crc) + text
    return struct.pack("<HH", block_id, len(block)) + block


def _split_headers(local: Entry, central: Entry) -> Callable[[Path], bytes]:
    """A package whose last entry shows ``local`` in its local header and ``central`` in the directory."""

    def make(root: Path) -> bytes:
        head = bytearray()
        records = bytearray()
        pairs = [
            (Entry("imsmanifest.xml", manifest()),) * 2,
            (Entry("index.html", INDEX),) * 2,
            (local, central),
        ]
        for in_local, in_central in pairs:
            compressed = in_central.compressed()
            records += central_record(in_central, compressed, len(head))
            head += local_header(in_local, compressed) + compressed
        return bytes(head + records + end_record(len(pairs), len(records), len(head)))

    return make


def _hidden_entry(root: Path) -> bytes:
    """A complete local header and its data in the gap after an entry, listed nowhere."""
    hidden = Entry("evil.sh", b"#!/bin/sh\nrm -rf ~\n")
    trailer = local_header(hidden, hidden.compressed()) + hidden.compressed()
    return package(Entry("page.html", INDEX, trailer=trailer))


def _before_directory(root: Path) -> bytes:
    data = bytearray(package(Entry("page.html", INDEX, trailer=b"tail bytes no entry owns")))
    return bytes(data)


def _huge_zip64_offset(root: Path) -> bytes:
    """local_offset = 0xFFFFFFFF deferring to a ZIP64 extra block that holds 2**63."""
    extra = struct.pack("<HHQ", 0x0001, 8, 2**63)
    return package(Entry("page.html", INDEX, extra=extra, offset=0xFFFFFFFF))


def _huge_zip64_size(root: Path) -> bytes:
    """A compressed size of 2**63 - 1 in the central ZIP64 block, with the local header honest."""
    data = bytearray(package(Entry("page.html", INDEX, extra=struct.pack("<HHQQ", 0x0001, 16, 5, 2**63 - 1))))
    # Saturate the page's central sizes so that the ZIP64 block is what they defer to.
    record = data.rfind(b"PK\x01\x02")
    struct.pack_into("<II", data, record + 20, 0xFFFFFFFF, 0xFFFFFFFF)
    return bytes(data)


def _descriptor_missing(root: Path) -> bytes:
    return package(Entry("page.html", INDEX, flags=0x8))


def _descriptor_lies(root: Path) -> bytes:
    entry = Entry("page.html", INDEX, flags=0x8)
    entry.trailer = data_descriptor(Entry("page.html", INDEX + b"!"))
    return package(entry)


def _too_many_files(root: Path) -> bytes:
    return package(*(Entry(f"f/{number}.txt", b"", method=0) for number in range(10_001)))


def _xml_case(name: str, body: str) -> Callable[[Path], bytes]:
    return lambda root: build([Entry(name, body.encode()), Entry("index.html", INDEX)])


_XXE_PROLOG = '<!DOCTYPE manifest [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
_LAUGHS = (
    '<!DOCTYPE manifest [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
)
_CMI5_XXE = """<?xml version="1.0"?>
<!DOCTYPE courseStructure [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<courseStructure xmlns="https://w3id.org/xapi/profiles/cmi5/v1/CourseStructure.xsd">
  <course id="https://example.com/course"><title><langstring lang="en">&xxe;</langstring></title>
  <description><langstring lang="en">x</langstring></description></course>
  <au id="https://example.com/au"><title><langstring lang="en">AU</langstring></title>
  <description><langstring lang="en">x</langstring></description><url>index.html</url></au>
</courseStructure>
"""
_TINCAN_XXE = """<?xml version="1.0"?>
<!DOCTYPE tincan [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/xxe">]>
<tincan xmlns="http://projecttincan.com/tincan.xsd"><activities>
  <activity id="https://example.com/a" type="http://adlnet.gov/expapi/activities/course">
  <name>&xxe;</name><launch lang="en-us">index.html</launch></activity>
</activities></tincan>
"""


def _traversal_cases() -> list[Case]:
    return [
        Case("dotdot", _one("../../escaped.txt"), "zip.path_traversal"),
        Case("dotdot-inner", _one("content/../../../escaped.txt"), "zip.path_traversal"),
        Case("dotdot-dir-entry", _one("../escaped/", b"", external_attr=UNIX_DIR), "zip.path_traversal"),
        Case(
            "absolute", lambda root: package(Entry(str(root / "abs-escaped.txt"), b"x")), "zip.absolute_path"
        ),
        Case("drive-letter", _one("C:/Windows/escaped.txt"), "zip.drive_letter"),
        Case("drive-relative", _one("c:escaped.txt"), "zip.drive_letter"),
        Case("backslash-dotdot", _one("..\\..\\escaped.txt"), "zip.backslash_in_name"),
        Case("unc-backslash", _one("\\\\server\\share\\escaped.txt"), "zip.backslash_in_name"),
        # A Windows writer's backslashes are separators, and then the usual rules refuse these.
        Case("dos-backslash-dotdot", _dos("..\\..\\escaped.txt"), "zip.path_traversal"),
        Case("dos-unc-backslash", _dos("\\\\server\\share\\escaped.txt"), "zip.absolute_path"),
        Case("dos-drive-backslash", _dos("C:\\Windows\\escaped.txt"), "zip.drive_letter"),
        Case("dos-mixed-separators", _dos("content/a\\b.html"), "zip.backslash_in_name"),
        Case("unc-forward", _one("//server/share/escaped.txt"), "zip.absolute_path"),
        Case("dot-segment", _one("./a/./escaped.txt"), "zip.unnormalised_path"),
        Case("header-name-swap", _one("safe.txt", local_name=b"../escaped.txt"), "zip.header_mismatch"),
        Case("unicode-path-extra", _unicode_path_extra, "zip.ambiguous_name"),
        Case("windows-device", _one("aux.html"), "zip.unportable_name"),
        Case("alternate-data-stream", _one("index.html:hidden.txt"), "zip.unportable_name"),
    ]


def _dot_prefix_cases() -> list[Case]:
    """A leading ``./`` (bsdtar, Windows tar.exe) is dropped; every rule still judges what is left."""
    return [
        Case("dot-prefix-dotdot", _one("./a/../../escaped.txt"), "zip.path_traversal"),
        Case("dot-prefix-repeated-dotdot", _one("././../escaped.txt"), "zip.path_traversal"),
        Case(
            "dot-prefix-absolute",
            lambda root: package(Entry("./" + str(root / "abs-escaped.txt"), b"x")),
            "zip.absolute_path",
        ),
        Case("dot-prefix-unc", _one(".//server/share/escaped.txt"), "zip.absolute_path"),
        Case("dot-prefix-drive", _one("./C:/Windows/escaped.txt"), "zip.drive_letter"),
        Case("inner-dot-segment", _one("content/./escaped.txt"), "zip.unnormalised_path"),
        Case("dot-prefix-then-dot", _one("./."), "zip.unnormalised_path"),
        Case("dot-prefix-duplicate", _one("./index.html", INDEX), "zip.duplicate_name"),
        Case("dot-prefix-case-collision", _one("./INDEX.html", INDEX), "zip.name_collision"),
        Case(
            "dot-prefix-nfc-collision",
            lambda root: package(Entry("leçon.html", INDEX), Entry("./lec\u0327on.html", INDEX)),
            "zip.name_collision",
        ),
        Case("dot-prefix-file-is-a-directory", _one("./index.html/escaped.txt"), "zip.name_collision"),
        Case("dot-prefix-php", _one("./shell.php", b"<?php system($_GET['c']);"), "zip.server_executable"),
        Case("dot-prefix-htaccess", _one("./.htaccess", b"AddHandler php .html"), "zip.server_config"),
        Case(
            "dot-prefix-root-with-data",
            _one("./", b"hidden", external_attr=UNIX_DIR),
            "zip.bad_directory_entry",
        ),
        Case("dot-prefix-root-symlink", _one("./", b"/etc", external_attr=UNIX_SYMLINK), "zip.symlink"),
        Case(
            "dot-prefix-root-twice",
            lambda root: package(Entry("./", external_attr=UNIX_DIR), Entry("././", external_attr=UNIX_DIR)),
            "zip.duplicate_name",
        ),
        Case("dos-dot-prefix-dotdot", _dos(".\\..\\escaped.txt"), "zip.path_traversal"),
        Case("dos-dot-prefix-mixed-separators", _dos("./content\\escaped.txt"), "zip.backslash_in_name"),
        Case(
            "dot-prefix-unicode-path-differs",
            _one(b"./page.html", INDEX, extra=_unicode_block(b"./page.html", b"./../escaped.html")),
            "zip.ambiguous_name",
        ),
        Case(
            "dot-prefix-local-name-differs", _one("./safe.txt", local_name=b"safe.txt"), "zip.header_mismatch"
        ),
    ]


def _entry_kind_cases() -> list[Case]:
    return [
        Case("symlink", _one("link", b"/etc/passwd", external_attr=UNIX_SYMLINK), "zip.symlink"),
        Case(
            "symlink-dir-then-file",
            lambda root: package(
                Entry("dir", str(root).encode(), external_attr=UNIX_SYMLINK), Entry("dir/escaped.txt", b"x")
            ),
            "zip.symlink",
        ),
        Case("windows-reparse-point", _one("link", b"x", external_attr=0x400, made_by=20), "zip.symlink"),
        Case("fifo", _one("pipe", b"", external_attr=0o010644 << 16), "zip.special_file"),
        Case("block-device", _one("sda", b"", external_attr=0o060644 << 16), "zip.special_file"),
        Case("encrypted-flag", _one("secret.html", INDEX, flags=0x1), "zip.encrypted"),
        Case("encrypted-aes", _one("secret.html", INDEX, method=99), "zip.encrypted"),
        Case("bzip2", _one("index2.html", INDEX, method=12, payload=b"BZh9"), "zip.unsupported_compression"),
        Case("deflate64", _one("index2.html", INDEX, method=9, payload=b"x"), "zip.unsupported_compression"),
        Case("lzma", _one("index2.html", INDEX, method=14, payload=b"x"), "zip.unsupported_compression"),
    ]


def _bomb_cases() -> list[Case]:
    return [
        Case("bomb-ratio", _one("bomb.bin", b"\0" * (8 * 1024 * 1024)), "zip.compression_ratio"),
        Case("bomb-overlap", _overlapping, "zip.overlapping_entries"),
        Case("bomb-declared-huge", _one("big.bin", b"x", declared_size=3 * 1024**3), "zip.file_too_large"),
        Case(
            "lying-size-smaller",
            _one("lie.bin", bytes(range(256)) * 400, declared_size=1000),
            "zip.size_mismatch",
            True,
        ),
        Case(
            "lying-size-larger",
            _one("lie.bin", bytes(range(256)) * 4, declared_size=2048),
            "zip.size_mismatch",
            True,
        ),
        Case("lying-crc", _one("lie.bin", INDEX, declared_crc=1234), "zip.crc_mismatch", True),
        Case("lying-local-size", _one("lie.bin", INDEX, local_size=5), "zip.header_mismatch"),
        Case("too-many-files", _too_many_files, "zip.too_many_files"),
        Case(
            "too-many-files-declared",
            lambda root: package()[:-22] + end_record(30_000, 0, 0),
            "zip.too_many_files",
        ),
        Case("too-deep", _one("/".join(["d"] * 30) + "/x.txt"), "zip.path_too_deep"),
        Case("too-long", _one("/".join(["n" * 200] * 6) + ".txt"), "zip.path_too_long"),
    ]


def _server_cases() -> list[Case]:
    executables = [
        "shell.php", "SHELL.PHP", "img/shell.php.jpg", "x.phtml", "x.php5", "cgi-bin/run.cgi", "x.asp",
        "x.aspx", "x.jsp", "run.sh", "tool.exe", "lib.dll", "lib.so", "x.py", "x.pl", "x.rb", "x.bat",
        "x.ps1", "shell.php.",
    ]  # fmt: skip
    configs = [
        ".htaccess",
        "sub/.htaccess",
        ".HTACCESS",
        ".htpasswd",
        "web.config",
        "Web.Config",
        ".user.ini",
    ]
    cases = [
        Case(f"exec-{name}", _one(name, b"<?php system($_GET[1]);"), "zip.server_executable")
        for name in executables
    ]
    cases += [
        Case(f"config-{name}", _one(name, b"AddHandler php .jpg"), "zip.server_config") for name in configs
    ]
    return cases


def _name_cases() -> list[Case]:
    return [
        Case("duplicate", lambda root: package(Entry("index.html", b"evil")), "zip.duplicate_name"),
        Case("case-collision", _one("INDEX.html", INDEX), "zip.name_collision"),
        Case(
            "nfc-collision",
            lambda root: package(Entry("caf\u00e9.html", INDEX), Entry("cafe\u0301.html", INDEX)),
            "zip.name_collision",
        ),
        Case(
            "file-dir-collision",
            lambda root: package(Entry("a", b"x"), Entry("a/b.html", INDEX)),
            "zip.name_collision",
        ),
        Case("nul-in-name", _one(b"index2.html\x00.php", INDEX), "zip.nul_in_name"),
        Case("escape-sequence", _one("evil\x1b[2J.html", INDEX), "zip.control_char_in_name"),
        Case("bidi-override", _one("evil\u202egnp.html", INDEX), "zip.control_char_in_name"),
        Case("bad-utf8-flagged", _one(b"caf\xe9.html", INDEX, flags=0x800), "zip.bad_name_encoding"),
        Case("empty-name", _one(b"", INDEX), "zip.empty_name"),
    ]


def _layout_cases() -> list[Case]:
    """Every byte before the central directory belongs to one entry; every offset is bounded."""
    # 100 bytes of a real deflate stream, as the security review found carried by a directory entry.
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    payload = (deflater.compress(bytes(range(256)) * 8) + deflater.flush())[:100]
    assert len(payload) == 100
    return [
        Case("zip64-offset-2-63", _huge_zip64_offset, "zip.bad_offset"),
        Case("zip64-size-2-63", _huge_zip64_size, "zip.bad_offset"),
        Case("offset-past-end", _one("page.html", INDEX, offset=0xFFFFFFF0), "zip.bad_offset"),
        Case("gap-between-entries", _one("page.html", INDEX, trailer=b"\0hidden\0" * 8), "zip.hidden_data"),
        Case("hidden-local-header", _hidden_entry, "zip.hidden_entry"),
        Case("gap-before-directory", _before_directory, "zip.hidden_data"),
        Case(
            "directory-with-data",
            _one("assets/", b"", external_attr=UNIX_DIR, payload=payload),
            "zip.bad_directory_entry",
        ),
        Case(
            # A Windows writer's directory (its name read as "assets/"): its two bytes are checked as
            # any directory's, though the raw name does not end with "/".
            "windows-directory-with-two-bytes",
            _one("assets\\", b"", made_by=MADE_BY_DOS, external_attr=0x10, payload=b"\x01\x02"),
            "zip.bad_directory_entry",
        ),
        Case(
            "directory-declares-size",
            _one("assets/", b"", external_attr=UNIX_DIR, declared_size=100, method=0),
            "zip.bad_directory_entry",
        ),
        Case("descriptor-missing", _descriptor_missing, "zip.bad_data_descriptor"),
        Case("descriptor-lies", _descriptor_lies, "zip.bad_data_descriptor"),
    ]


def _unicode_cases() -> list[Case]:
    """Unicode Path / Comment fields are checked in both headers; lookalikes and overlong UTF-8."""
    evil = b"../../evil.sh"
    return [
        Case(
            "unicode-path-bad-crc",
            _one(b"page.html", INDEX, extra=_unicode_block(b"page.html", evil, crc=0x12345678)),
            "zip.bad_unicode_extra",
        ),
        Case(
            "unicode-path-local-only",
            _split_headers(
                Entry(b"page.html", INDEX, extra=_unicode_block(b"page.html", evil)),
                Entry(b"page.html", INDEX),
            ),
            "zip.header_mismatch",
        ),
        Case(
            "unicode-path-central-only",
            _split_headers(
                Entry(b"page.html", INDEX),
                Entry(b"page.html", INDEX, extra=_unicode_block(b"page.html", b"page.html")),
            ),
            "zip.header_mismatch",
        ),
        Case(
            "unicode-path-traversal",
            _one(b"page.html", INDEX, extra=_unicode_block(b"page.html", evil)),
            "zip.ambiguous_name",
        ),
        Case(
            "unicode-path-not-utf8",
            _one(b"page.html", INDEX, extra=_unicode_block(b"page.html", b"\xff\xfe.html")),
            "zip.bad_unicode_extra",
        ),
        Case(
            "unicode-path-bad-version",
            _one(
                b"page.html",
                INDEX,
                extra=b"\x75\x70\x0e\x00\x02" + struct.pack("<I", zlib.crc32(b"page.html")) + b"page.html",
            ),
            "zip.bad_unicode_extra",
        ),
        Case(
            "unicode-comment-in-local-header",
            _one(b"page.html", INDEX, extra=_unicode_block(b"", b"hi", block_id=0x6375)),
            "zip.bad_unicode_extra",
        ),
        Case(
            "unicode-comment-bad-crc",
            _one(b"page.html", INDEX, extra=_unicode_block(b"", b"a comment", block_id=0x6375, crc=7)),
            "zip.bad_unicode_extra",
        ),
        Case("one-dot-leader-dotdot", _one("\u2024\u2024/escaped.txt"), "zip.lookalike_name"),
        Case("two-dot-leader", _one("\u2025/escaped.txt"), "zip.lookalike_name"),
        Case("fullwidth-dotdot", _one("\uff0e\uff0e/escaped.txt"), "zip.lookalike_name"),
        Case("small-full-stop-dotdot", _one("a/\ufe52\ufe52/\ufe52\ufe52/escaped.txt"), "zip.lookalike_name"),
        Case("fullwidth-slash", _one("a\uff0f..\uff0f..\uff0fescaped.txt"), "zip.lookalike_name"),
        Case("division-slash", _one("a\u2215b.html", INDEX), "zip.lookalike_name"),
        Case("fullwidth-backslash", _one("a\uff3cb.html", INDEX), "zip.lookalike_name"),
        Case("fullwidth-php", _one("shell\uff0ephp"), "zip.lookalike_name"),
        Case("fullwidth-letters-php", _one("shell.\uff50\uff48\uff50"), "zip.lookalike_name"),
        Case("overlong-dotdot", _one(b"\xc0\xae\xc0\xae/escaped.txt"), "zip.bad_name_encoding"),
        Case(
            "overlong-dotdot-flagged",
            _one(b"\xc0\xae\xc0\xae/escaped.txt", flags=0x800),
            "zip.bad_name_encoding",
        ),
        Case("overlong-slash", _one(b"a\xc0\xafb.html"), "zip.bad_name_encoding"),
        Case(
            "overlong-three-byte-dot", _one(b"\xe0\x80\xae\xe0\x80\xae/escaped.txt"), "zip.bad_name_encoding"
        ),
        Case("utf8-surrogate", _one(b"a\xed\xa0\x80.html"), "zip.bad_name_encoding"),
    ]


def _zip64_end_patched(patch: Callable[[bytearray, int, int], None]) -> Callable[[Path], bytes]:
    """A ZIP64 package whose end records ``patch(data, record, locator)`` then damages."""

    def make(root: Path) -> bytes:
        data = bytearray(
            build([Entry("imsmanifest.xml", manifest()), Entry("index.html", INDEX)], zip64=True)
        )
        patch(data, data.rfind(b"PK\x06\x06"), data.rfind(b"PK\x06\x07"))
        return bytes(data)

    return make


def _eocd_in_last_file(root: Path) -> bytes:
    """The last entry's stored data ends with an End Of Central Directory whose comment reaches the end."""
    files = [Entry("imsmanifest.xml", manifest()), Entry("index.html", INDEX)]
    placeholder = build([*files, Entry("z.bin", b"PK\x05\x06" + bytes(18), method=0)])
    fake_at = placeholder.rfind(b"PK\x05\x06", 0, len(placeholder) - 22)
    fake = b"PK\x05\x06" + bytes(16) + struct.pack("<H", len(placeholder) - fake_at - 22)
    return build([*files, Entry("z.bin", fake, method=0)])


def _same_local_twice(root: Path) -> bytes:
    """Two central records for one local header: the file is listed, and stored, twice."""
    head, records = bytearray(), bytearray()
    for entry in (Entry("imsmanifest.xml", manifest()), Entry("index.html", INDEX)):
        compressed = entry.compressed()
        records += central_record(entry, compressed, len(head))
        head += local_header(entry, compressed) + compressed
    index = Entry("index.html", INDEX)
    records += central_record(
        index,
        index.compressed(),
        len(head) - len(local_header(index, index.compressed())) - len(index.compressed()),
    )
    return bytes(head + records + end_record(3, len(records), len(head)))


def _zip64_local_size_lies(root: Path) -> bytes:
    """zipfile's ZIP64 local header, its 8-byte uncompressed size changed."""
    data = bytearray(_forced_zip64())
    header = data.find(b"PK\x03\x04", 4)
    name_length = struct.unpack_from("<H", data, header + 26)[0]
    struct.pack_into("<Q", data, header + 30 + name_length + 4, 12345)
    return bytes(data)


def _descriptor_trailing(entry: Entry) -> Entry:
    entry.trailer = data_descriptor(entry)
    return entry


def _more_structure_cases() -> list[Case]:
    """ZIP64 records that lie, and local headers that disagree with their central record."""
    compressed = Entry("page.html", INDEX).compressed()
    return [
        Case("eocd-in-file-data", _eocd_in_last_file, "zip.ambiguous_structure"),
        Case(
            "sfx-offsets-not-adjusted",
            lambda root: b"MZ" + bytes(100) + package(),
            "zip.bad_central_directory",
        ),
        Case("one-local-two-records", _same_local_twice, "zip.overlapping_entries"),
        Case(
            "zip64-locator-misplaced",
            _zip64_end_patched(lambda data, record, locator: struct.pack_into("<Q", data, locator + 8, 3)),
            "zip.bad_central_directory",
        ),
        Case(
            "zip64-record-bad-signature",
            _zip64_end_patched(
                lambda data, record, locator: data.__setitem__(slice(record, record + 4), b"PK\x06\x05")
            ),
            "zip.bad_central_directory",
        ),
        Case(
            "zip64-count-2-64",
            _zip64_end_patched(
                lambda data, record, locator: struct.pack_into("<QQ", data, record + 24, 2**64 - 1, 2**64 - 1)
            ),
            "zip.too_many_files",
        ),
        Case(
            "zip64-directory-offset-2-64",
            _zip64_end_patched(
                lambda data, record, locator: struct.pack_into("<Q", data, record + 48, 2**64 - 1)
            ),
            "zip.bad_central_directory",
        ),
        Case(
            "zip64-record-size-2-63",
            _zip64_end_patched(lambda data, record, locator: struct.pack_into("<Q", data, record + 4, 2**63)),
            "zip.bad_central_directory",
        ),
        Case(
            "zip64-locator-no-disks",
            _zip64_end_patched(lambda data, record, locator: struct.pack_into("<I", data, locator + 16, 0)),
            "zip.multi_disk",
        ),
        Case(
            "zip64-local-block-short",
            _one("page.html", INDEX, extra=struct.pack("<HHQ", 1, 8, len(INDEX)), local_size=0xFFFFFFFF),
            "zip.bad_extra_field",
        ),
        Case("zip64-local-size-lies", _zip64_local_size_lies, "zip.header_mismatch"),
        Case(
            "local-only-encrypted",
            _split_headers(Entry("page.html", INDEX, flags=0x1), Entry("page.html", INDEX)),
            "zip.header_mismatch",
        ),
        Case(
            "local-method-differs",
            _split_headers(
                Entry("page.html", INDEX, method=0, payload=compressed), Entry("page.html", INDEX)
            ),
            "zip.header_mismatch",
        ),
        Case(
            "central-only-descriptor",
            _split_headers(Entry("page.html", INDEX), Entry("page.html", INDEX, flags=0x8)),
            "zip.header_mismatch",
        ),
        Case(
            "local-only-descriptor",
            _split_headers(
                _descriptor_trailing(Entry("page.html", INDEX, flags=0x8)), Entry("page.html", INDEX)
            ),
            "zip.header_mismatch",
        ),
        Case(
            "local-only-utf8-flag",
            _split_headers(Entry(b"page.html", INDEX, flags=0x800), Entry(b"page.html", INDEX)),
            "zip.header_mismatch",
        ),
        Case(
            "local-crc-differs",
            _split_headers(Entry("page.html", INDEX, declared_crc=5), Entry("page.html", INDEX)),
            "zip.header_mismatch",
        ),
        Case("stored-sizes-differ", _one("s.bin", b"abc", method=0, declared_size=2), "zip.size_mismatch"),
        Case("zstd", _one("s.bin", b"abc", method=93, payload=b"x"), "zip.unsupported_compression"),
        Case("xz", _one("s.bin", b"abc", method=95, payload=b"x"), "zip.unsupported_compression"),
        Case("unknown-method", _one("s.bin", b"abc", method=77, payload=b"x"), "zip.unsupported_compression"),
        Case("strong-encryption-flag", _one("s.bin", b"abc", flags=0x40), "zip.encrypted"),
        Case(
            "empty-file-with-data",
            _one("e.js", b"", payload=_raw_deflate(b"hello")),
            "zip.size_mismatch",
            True,
        ),
        Case(
            "cp437-name-unicode-path-bad-crc",
            _one(b"caf\x82.html", INDEX, extra=_unicode_block(b"other", "café.html".encode())),
            "zip.bad_unicode_extra",
        ),
        Case(
            "cp437-name-unicode-path-traversal",
            _one(b"caf\x82.html", INDEX, extra=_unicode_block(b"caf\x82.html", b"../escaped.html")),
            "zip.path_traversal",
        ),
    ]


def _raw_deflate(data: bytes) -> bytes:
    deflater = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return deflater.compress(data) + deflater.flush()


def _structure_cases() -> list[Case]:
    return [
        Case("not-a-zip", lambda root: b"<html>not a zip</html>\n", "zip.not_a_zip"),
        Case("empty-file", lambda root: b"", "zip.not_a_zip"),
        Case("png", lambda root: b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "zip.not_a_zip"),
        Case("truncated-half", lambda root: package()[: len(package()) // 2], "zip.truncated"),
        Case("truncated-end", lambda root: package()[:-5], "zip.truncated"),
        Case("trailing-data", lambda root: package() + b"MZ appended payload", "zip.trailing_data"),
        Case("prepended-data", lambda root: _prepended(), "zip.unexpected_data"),
        Case("two-end-records", _fake_end_in_comment, "zip.ambiguous_structure"),
        Case("local-header-in-comment", _local_header_in_comment, "zip.hidden_entry"),
        Case("count-lies", _count_lies, "zip.bad_central_directory"),
        Case("empty-archive", lambda root: end_record(0, 0, 0), "zip.empty"),
    ]


def _prepended() -> bytes:
    return build(
        [Entry("imsmanifest.xml", manifest()), Entry("index.html", INDEX)], prefix=b"MZ\x90\x00" * 64
    )


def _descriptor_cases() -> list[Case]:
    return [
        Case("xxe-imsmanifest", lambda root: package(descriptor=manifest(prolog=_XXE_PROLOG)), "xml.", True),
        Case(
            "billion-laughs-imsmanifest",
            lambda root: package(descriptor=manifest(prolog=_LAUGHS)),
            "xml.",
            True,
        ),
        Case(
            "external-dtd-imsmanifest",
            lambda root: package(
                descriptor=manifest(prolog='<!DOCTYPE manifest SYSTEM "http://127.0.0.1:9/x.dtd">')
            ),
            "xml.",
            True,
        ),
        Case("xxe-cmi5", _xml_case("cmi5.xml", _CMI5_XXE), "xml.", True),
        Case("xxe-tincan", _xml_case("tincan.xml", _TINCAN_XXE), "xml.", True),
        Case("href-dotdot", lambda root: package(descriptor=manifest("../outside.html")), "launch.", True),
        Case("href-absolute", lambda root: package(descriptor=manifest("/etc/passwd")), "launch.", True),
        Case(
            "href-file-url", lambda root: package(descriptor=manifest("file:///etc/passwd")), "launch.", True
        ),
        Case(
            "href-encoded-dotdot",
            lambda root: package(descriptor=manifest("%2e%2e/outside.html")),
            "launch.",
            True,
        ),
        Case("href-missing", lambda root: package(descriptor=manifest("missing.html")), "launch.", True),
        Case(
            "playpackage-json-nested-too-deep",
            lambda root: build(
                [Entry("playpackage.json", b"[" * 30_000 + b"]" * 30_000), Entry("index.html", INDEX)]
            ),
            "native.invalid_json",
            True,
        ),
    ]


def hostile_cases() -> list[Case]:
    """Every hostile case, each refused with a specific code."""
    return [
        *_traversal_cases(),
        *_dot_prefix_cases(),
        *_entry_kind_cases(),
        *_bomb_cases(),
        *_server_cases(),
        *_name_cases(),
        *_structure_cases(),
        *_layout_cases(),
        *_more_structure_cases(),
        *_unicode_cases(),
        *_descriptor_cases(),
    ]


def _streamed_zip() -> bytes:
    """A zip written to a pipe-like stream, so every entry has a data descriptor (flag bit 3)."""

    class Unseekable(io.RawIOBase):
        def __init__(self) -> None:
            self.buffer = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, data: bytes) -> int:  # type: ignore[override]
            self.buffer += data
            return len(data)

    sink = Unseekable()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("imsmanifest.xml", "w") as handle:
            handle.write(manifest())
        with archive.open("index.html", "w") as handle:
            handle.write(INDEX)
    return bytes(sink.buffer)


def _forced_zip64() -> bytes:
    """Local headers with ZIP64 extra fields, as zipfile writes them when told to."""
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in (("imsmanifest.xml", manifest()), ("index.html", INDEX)):
            with archive.open(name, "w", force_zip64=True) as handle:
                handle.write(data)
    return sink.getvalue()


def _descriptors_without_signature() -> bytes:
    entries = [
        Entry("imsmanifest.xml", manifest(), flags=0x8),
        Entry("index.html", INDEX, flags=0x8, local_size=0),
    ]
    for entry in entries:
        entry.trailer = data_descriptor(entry, signature=False)
    return build(entries)


def _deferred(entry: Entry, *, wide: bool = False) -> Entry:
    """``entry`` as a streaming writer leaves it: CRC and sizes zero locally, then a descriptor."""
    entry.flags |= 0x8
    entry.trailer = data_descriptor(entry, wide=wide)
    return entry


def _deferred_headers(entries: list[Entry], local_extra: bytes = b"") -> bytes:
    """Local headers with CRC and sizes 0 (Java's ZipOutputStream, macOS ditto), each entry
    followed by its descriptor; ``local_extra`` only in the local headers."""
    head, records = bytearray(), bytearray()
    for entry in entries:
        compressed = entry.compressed()
        name = entry.raw_name()
        extra = local_extra + entry.extra
        local = struct.pack(
            "<4sHHHHHIIIHH",
            b"PK\x03\x04",
            20,
            entry.all_flags(),
            entry.method,
            0,
            0x21,
            0,
            0,
            0,
            len(name),
            len(extra),
        )
        records += central_record(entry, compressed, len(head))
        head += local + name + extra + compressed + entry.trailer
    return bytes(head + records + end_record(len(entries), len(records), len(head)))


def _java_zip_output_stream() -> bytes:
    """Java's ZipOutputStream: UTF-8 flag on every entry, DOS host, descriptors, a deflated directory."""
    entries = [
        Entry("imsmanifest.xml", manifest(), flags=0x800, made_by=20, external_attr=0),
        Entry("assets/", b"", flags=0x800, made_by=20, external_attr=0, payload=b"\x03\x00"),
        Entry("index.html", INDEX, flags=0x800, made_by=20, external_attr=0),
    ]
    return _deferred_headers([_deferred(entry) for entry in entries])


def _macos_ditto() -> bytes:
    """macOS Archive Utility (ditto): descriptors, UT and ux extra blocks, __MACOSX/ AppleDouble files."""
    times = struct.pack("<HHBII", 0x5455, 9, 3, 1_700_000_000, 1_700_000_000)
    owner = struct.pack("<HHBBIBI", 0x7875, 11, 1, 4, 501, 4, 20)
    apple_double = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(60)
    entries = [
        _deferred(Entry("imsmanifest.xml", manifest(), extra=owner)),
        Entry("__MACOSX/", b"", method=0, external_attr=0o40755 << 16, extra=owner),
        _deferred(Entry("__MACOSX/._imsmanifest.xml", apple_double, extra=owner)),
        _deferred(Entry("index.html", INDEX, extra=owner)),
        _deferred(Entry("__MACOSX/._index.html", apple_double, extra=owner)),
    ]
    return _deferred_headers(entries, local_extra=times)


def _bsdtar() -> bytes:
    """``bsdtar -a -c -f pkg.zip .`` (also Windows 10's tar.exe): every name starts with ``./``.

    Laid out as libarchive's zip writer does it: a ``./`` entry for the folder itself, Unix
    host and modes, UT and ux extra blocks, and a data descriptor after each file.
    """
    times = struct.pack("<HHBI", 0x5455, 5, 1, 1_700_000_000)
    owner = struct.pack("<HHBBIBI", 0x7875, 11, 1, 4, 1000, 4, 1000)
    folder = {"method": 0, "external_attr": UNIX_DIR, "extra": times + owner}
    return build(
        [
            Entry("./", b"", **folder),  # type: ignore[arg-type]
            _deferred(Entry("./imsmanifest.xml", manifest("content/page.html"), extra=times + owner)),
            Entry("./content/", b"", **folder),  # type: ignore[arg-type]
            _deferred(Entry("./content/page.html", INDEX, extra=times + owner)),
            _deferred(Entry("./content/site.css", b"p{}", extra=times + owner)),
        ]
    )


def _windows_code_page_names() -> bytes:
    """Windows' compressed folders: DOS host, DOS attributes, the name in the OEM code page."""
    raw = "leçon.html".encode("cp437")
    return package(
        Entry(raw, INDEX, made_by=20, external_attr=0x20),
        Entry(b"dir/", b"", method=0, made_by=20, external_attr=0x10),
        descriptor=manifest("le%C3%A7on.html"),
    )


def _seven_zip() -> bytes:
    """7-Zip: NTFS host version 6.3, archive attribute, an NTFS timestamps extra block."""
    ntfs = struct.pack("<HHIHHQQQ", 0x000A, 32, 0, 1, 24, 1, 2, 3)
    return build(
        [
            Entry(name, data, made_by=0x3F, external_attr=0x20, extra=ntfs)
            for name, data in (("imsmanifest.xml", manifest()), ("index.html", INDEX))
        ]
    )


def _russian_windows_names() -> bytes:
    """A Russian Windows tool: cp866 bytes in the header, the real name in a Unicode Path block."""
    name = "урок.html"
    raw = name.encode("cp866")
    return package(Entry(raw, INDEX, extra=_unicode_block(raw, name.encode())), descriptor=manifest(name))


def _prefixed_namespace() -> bytes:
    text = (
        manifest()
        .decode()
        .replace(
            'xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"',
            'xmlns:ims="http://www.imsproject.org/xsd/imscp_rootv1p1p2"',
        )
    )
    elements = r"manifest|metadata|schema|schemaversion|organizations|organization|title|item|resources|resource|file"
    return package(descriptor=re.sub(rf"<(/?)({elements})\b", r"<\1ims:\2", text).encode())


_TINCAN = b"""<?xml version="1.0"?><tincan xmlns="http://projecttincan.com/tincan.xsd"><activities>
<activity id="https://example.com/a" type="http://adlnet.gov/expapi/activities/course"><name>A</name>
<launch lang="en-us">index.html?x=1</launch></activity></activities></tincan>"""


def awkward_cases() -> dict[str, bytes]:
    """Valid packages that are merely unusual; every one must build."""
    nested = build([Entry("../../evil.txt", b"inside a nested zip this is just bytes")])
    lecon = "leçon.html".encode()
    return {
        "unicode-path-agrees": package(
            Entry(lecon, INDEX, flags=0x800, extra=_unicode_block(lecon, lecon)),
            descriptor=manifest("leçon.html"),
        ),
        "unicode-path-for-cp437-name": package(
            Entry(b"caf\x82.html", INDEX, extra=_unicode_block(b"caf\x82.html", "café.html".encode()))
        ),
        "unicode-comment-agrees": _split_headers(
            Entry("page.html", INDEX),
            Entry("page.html", INDEX, extra=_unicode_block(b"", b"", block_id=0x6375)),
        )(Path(".")),
        "java-deflated-directory": package(
            Entry("assets/", b"", external_attr=UNIX_DIR, payload=b"\x03\x00"), Entry("assets/a.css", b"p{}")
        ),
        "zip64-local-extras": _forced_zip64(),
        "zip64-end-records": build(
            [Entry("imsmanifest.xml", manifest()), Entry("index.html", INDEX)], zip64=True
        ),
        "descriptors-without-signature": _descriptors_without_signature(),
        "harmless-lookalikes": package(
            Entry("ｌｅｓｓｏｎ１.html", INDEX), Entry("第1章：はじめに.html", INDEX)
        ),
        "utf8-bom": package(descriptor=b"\xef\xbb\xbf" + manifest()),
        "shift-jis-manifest": package(
            descriptor=manifest()
            .decode()
            .replace("UTF-8", "Shift_JIS")
            .replace("Course", "講座")
            .encode("shift_jis")
        ),
        "utf8-manifest-labelled-utf16": package(descriptor=manifest().replace(b'"UTF-8"', b'"utf-16"')),
        "directory-entries": package(
            Entry("assets/", b"", external_attr=UNIX_DIR), Entry("assets/a.css", b"p{}")
        ),
        "empty-files": package(
            Entry("empty.txt", b""),
            Entry("stored-empty.js", b"", method=0),
            Entry("no-data.css", b"", payload=b""),
        ),
        "percent-encoded-href": package(
            Entry("my page.html", INDEX), index=True, descriptor=manifest("my%20page.html")
        ),
        "xml-base": package(
            Entry("content/page.html", INDEX), descriptor=manifest("page.html", xml_base="content/")
        ),
        "query-string": package(descriptor=manifest("index.html?lesson=1&amp;mode=review#top")),
        "non-ascii-names": package(Entry("leçon/été.html", INDEX), descriptor=manifest("leçon/été.html")),
        "nested-zip": package(Entry("assets/inner.zip", nested, method=0)),
        "data-descriptors": _streamed_zip(),
        "java-zip-output-stream": _java_zip_output_stream(),
        "macos-ditto": _macos_ditto(),
        "windows-code-page-names": _windows_code_page_names(),
        "seven-zip": _seven_zip(),
        "russian-windows-unicode-path": _russian_windows_names(),
        "zip64-descriptors": _deferred_headers(
            [
                _deferred(Entry(name, data, extra=struct.pack("<HHQQ", 1, 16, 0, 0)), wide=True)
                for name, data in (("imsmanifest.xml", manifest()), ("index.html", INDEX))
            ]
        ),
        "stored-with-descriptor": build(
            [Entry("imsmanifest.xml", manifest()), _deferred(Entry("index.html", INDEX, method=0))]
        ),
        "utf16-manifest": package(descriptor=manifest().decode().replace("UTF-8", "UTF-16").encode("utf-16")),
        "latin1-manifest": package(
            descriptor=manifest()
            .decode()
            .replace("UTF-8", "ISO-8859-1")
            .replace("Course", "Cours é")
            .encode("latin-1")
        ),
        "manifest-without-declaration": package(descriptor=manifest().split(b"?>", 1)[1]),
        "bsdtar-dot-prefix": _bsdtar(),
        "repeated-dot-prefix": build(
            [
                Entry("././imsmanifest.xml", manifest()),
                Entry("./index.html", INDEX),
                Entry("././", external_attr=UNIX_DIR),
            ]
        ),
        "dos-dot-prefix": build(
            [
                Entry(name, data, made_by=MADE_BY_DOS, external_attr=DOS_FILE)
                for name, data in (
                    (".\\imsmanifest.xml", manifest("content/page.html")),
                    (".\\content\\page.html", INDEX),
                )
            ]
        ),
        # Some authoring tools and hand edits leave whitespace before the XML declaration.
        "whitespace-before-declaration": package(descriptor=b"\r\n  \t\n" + manifest()),
        "bom-then-whitespace-before-declaration": package(descriptor=b"\xef\xbb\xbf\n " + manifest()),
        "prefixed-namespace": _prefixed_namespace(),
        "upper-case-manifest-name": build([Entry("IMSMANIFEST.XML", manifest()), Entry("index.html", INDEX)]),
        "tincan-with-query": build([Entry("tincan.xml", _TINCAN), Entry("index.html", INDEX)]),
        # .NET Framework 4.5's ZipFile / PowerShell 5's Compress-Archive: backslash separators.
        "dotnet-backslash-separators": build(
            [
                Entry(name, data, made_by=MADE_BY_DOS, external_attr=DOS_FILE)
                for name, data in (
                    ("imsmanifest.xml", manifest("content/page.html")),
                    ("content\\page.html", INDEX),
                    ("content\\css\\site.css", b"p{}"),
                )
            ]
        ),
    }
