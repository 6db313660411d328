"""The import sandbox: a zip archive is hostile until its central directory has been checked.

``SafeZip.open`` reads the archive's structure with our own parser (``zipformat``, because
``zipfile`` hides NUL bytes and backslashes in names), checks every entry and the layout of
the whole file, and refuses with every problem it found before a single byte of content is
inflated. Afterwards entries can only be read as verified streams: output stops one byte past
the declared size, and the CRC-32 is checked at the end, so sizes that lie are caught while
memory stays at one chunk.

The reader is our own code rather than ``zipfile.ZipExtFile`` because that class trusts the
declared sizes only loosely, reads names it has already mangled, and would have us open the
archive a second time through a parser that saw a different archive than ours did.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from content_service.domain.package import Problem, path_key
from content_service.packaging.inflate import FASTEST, Inflater
from content_service.packaging.limits import ImportLimits
from content_service.packaging.model import PackageRejected
from content_service.packaging.zipformat import (
    LOCAL_SIGNATURE,
    UNICODE_COMMENT_EXTRA_ID,
    ArchiveFile,
    CentralEntry,
    Directory,
    LocalHeader,
    find_directory,
    find_signature,
    iter_central,
    printable,
    read_descriptors,
    read_local,
    reject,
    shown_raw,
)
from content_service.packaging.zipnames import (
    encoding_problem,
    entry_name,
    entry_name_problems,
    local_unicode_problems,
    max_raw_name_bytes,
    unicode_extra_problems,
)

CHUNK_SIZE = 1024 * 1024
STORED = 0
DEFLATED = 8
SUPPORTED_METHODS = frozenset({STORED, DEFLATED})
_METHOD_NAMES = {
    1: "shrink",
    6: "implode",
    9: "deflate64",
    12: "bzip2",
    14: "lzma",
    93: "zstd",
    95: "xz",
    98: "ppmd",
}
_AES_METHOD = 99

_ENCRYPTED = 0x0001
_DATA_DESCRIPTOR = 0x0008
_STRONG_ENCRYPTION = 0x0040
_MASKED_HEADERS = 0x2000
_UTF8 = 0x0800
# A tool reading only local headers must see the entry as we do: encrypted or not, with a
# descriptor or not, and with its name decoded the same way.
_FLAGS_THAT_MUST_AGREE = _ENCRYPTED | _DATA_DESCRIPTOR | _UTF8

_UNIX_HOSTS = frozenset({3, 19})
_DOS_DIRECTORY = 0x10
_DOS_REPARSE_POINT = 0x400

# Java's ZipOutputStream deflates directory entries too: the empty deflate stream is these two
# bytes. They hide nothing, so a directory entry may hold exactly them and nothing else.
_EMPTY_DEFLATE = b"\x03\x00"

# Small entries cannot make a dangerous bomb on their own, and tiny text files legitimately
# compress far beyond any sane ratio, so the ratio is only judged above this size.
RATIO_FLOOR_BYTES = 1024 * 1024


@dataclass(frozen=True)
class SafeEntry:
    """An entry that passed every central-directory check."""

    name: str
    is_dir: bool
    method: int
    crc32: int
    compressed_size: int
    size: int
    local_offset: int
    data_offset: int = -1


@dataclass
class _Candidate:
    central: CentralEntry
    entry: SafeEntry | None


class SafeZip:
    """A checked archive whose files can be streamed one at a time.

    Use ``SafeZip.open(path, limits)`` as a context manager; it raises ``PackageRejected``
    with every problem found in the central directory and local headers.
    """

    def __init__(self, stream: BinaryIO, files: tuple[SafeEntry, ...]) -> None:
        self._stream = stream
        self.files = files
        self._by_name = {entry.name: entry for entry in files}
        # Parsers consult the names once per href, so the set is built once.
        self._names = frozenset(self._by_name)

    @classmethod
    def open(cls, path: Path, limits: ImportLimits) -> SafeZip:
        """Open and check an archive; nothing in it is inflated before every check passed."""
        stream = path.open("rb")
        try:
            files = _check_archive(ArchiveFile(stream), limits)
        except BaseException:
            stream.close()
            raise
        return cls(stream, files)

    def __enter__(self) -> SafeZip:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._stream.close()

    @property
    def names(self) -> frozenset[str]:
        """Every file path in the archive (directory entries excluded)."""
        return self._names

    @property
    def total_bytes(self) -> int:
        return sum(entry.size for entry in self.files)

    def entry(self, name: str) -> SafeEntry:
        """The file called ``name``; ``zip.missing_entry`` if there is none."""
        try:
            return self._by_name[name]
        except KeyError:
            raise reject("zip.missing_entry", "the package has no such file", printable(name)) from None

    def iter_chunks(self, entry: SafeEntry) -> Iterator[bytes]:
        """The entry's content in chunks of at most ``CHUNK_SIZE``, verified as it streams."""
        return stream_entry(self._stream, entry)

    def iter_chunks_concurrently(self, entry: SafeEntry) -> Iterator[bytes]:
        """``iter_chunks`` that may run in several threads at once, one entry each.

        Each call reads through its own position (``os.pread`` on the archive's descriptor),
        so streams in different threads never move each other's file position.
        """
        return stream_entry(_PositionalReader(self._stream.fileno()), entry)  # type: ignore[arg-type]

    def read_bounded(self, name: str, max_bytes: int) -> bytes:
        """A whole small file (a descriptor), refused if it declares more than ``max_bytes``."""
        entry = self.entry(name)
        if entry.size > max_bytes:
            detail = f"the file is {entry.size} bytes; descriptors may be at most {max_bytes}"
            raise reject("zip.descriptor_too_large", detail, printable(name))
        return b"".join(self.iter_chunks(entry))


class ChunkReader(io.RawIOBase):
    """A read-only stream over an iterator of byte chunks (one zip entry, inflated and checked).

    The seal and the export read it in small pieces (the seal in 64 KiB segments) while chunks
    are up to 1 MiB, so the current chunk is served through a moving memoryview, never
    re-sliced: a copy of the rest on every read would cost a chunk's size per segment.
    """

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            try:
                self._pending = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


class _PositionalReader:
    """``seek`` and ``read`` over a shared file descriptor, with a position of its own."""

    def __init__(self, descriptor: int) -> None:
        self._descriptor = descriptor
        self._position = 0

    def seek(self, position: int) -> int:
        self._position = position
        return position

    def read(self, size: int) -> bytes:
        data = os.pread(self._descriptor, size, self._position)
        self._position += len(data)
        return data


def stream_entry(stream: BinaryIO, entry: SafeEntry, implementation: Inflater = FASTEST) -> Iterator[bytes]:
    """Inflate an entry incrementally, refusing output past the declared size and a bad CRC.

    The inflater is never asked for more than one byte beyond what the entry declared, so a
    lying size costs at most that byte, not a bomb's worth of memory. ``implementation`` is
    isal's when installed (``inflate``); zlib gives the same bytes and the same problems.
    """
    shown = printable(entry.name)
    # A deflated entry with no compressed bytes at all is an empty file written as APPNOTE
    # 4.3.8 asks ("zero-byte files ... MUST NOT include file data"): there is nothing to inflate.
    deflated = entry.method == DEFLATED and entry.compressed_size > 0
    inflater = implementation.decompressor() if deflated else None
    produced = 0
    crc = 0
    for compressed in _raw_chunks(stream, entry, shown):
        for piece in _inflate(inflater, implementation.errors, compressed, entry.size - produced, shown):
            produced += len(piece)
            if produced > entry.size:
                raise reject(
                    "zip.size_mismatch", f"the content is larger than the declared {entry.size} bytes", shown
                )
            crc = implementation.crc32(piece, crc)
            yield piece
    if inflater is not None and (not inflater.eof or inflater.unused_data):
        raise reject("zip.corrupt_data", "the compressed data does not end where the entry ends", shown)
    if produced != entry.size:
        raise reject(
            "zip.size_mismatch", f"the content is {produced} bytes, not the declared {entry.size}", shown
        )
    if crc != entry.crc32:
        raise reject("zip.crc_mismatch", "the content does not match its CRC-32", shown)


def _raw_chunks(stream: BinaryIO, entry: SafeEntry, shown: str) -> Iterator[bytes]:
    position = entry.data_offset
    remaining = entry.compressed_size
    while remaining:
        # Seek every time: the descriptor reader and the file streams may interleave.
        stream.seek(position)
        chunk = stream.read(min(CHUNK_SIZE, remaining))
        if not chunk:
            raise reject("zip.truncated", "the archive ends inside the entry's data", shown)
        position += len(chunk)
        remaining -= len(chunk)
        yield chunk


def _inflate(
    inflater: Any, errors: tuple[type[BaseException], ...], data: bytes, allowed: int, shown: str
) -> Iterator[bytes]:
    if inflater is None:
        yield data
        return
    try:
        # Ask for at most one byte more than is still allowed (and never 0, which means unlimited).
        requested = min(CHUNK_SIZE, allowed + 1)
        piece = inflater.decompress(data, requested)
        while True:
            if piece:
                yield piece
                allowed -= len(piece)
            # A full piece may leave output pending inside zlib even when all input was consumed.
            if inflater.eof or (not inflater.unconsumed_tail and len(piece) < requested):
                return
            requested = min(CHUNK_SIZE, max(allowed, 0) + 1)
            piece = inflater.decompress(inflater.unconsumed_tail, requested)
    except errors:
        # The inflaters word their errors differently; the problem is the same whichever ran.
        raise reject(
            "zip.corrupt_data", "the compressed data is damaged (not a valid deflate stream)", shown
        ) from None


def _check_archive(archive: ArchiveFile, limits: ImportLimits) -> tuple[SafeEntry, ...]:
    """Every structural, per-entry and cross-entry check; raises with all problems found."""
    file_size = archive.size
    if file_size > limits.max_upload_bytes:
        detail = f"the archive is {file_size} bytes; the limit is {limits.max_upload_bytes}"
        raise reject("zip.upload_too_large", detail)
    directory = find_directory(archive)
    # Directory entries do not count as files, but an archive cannot need more than twice
    # the file limit in records; refusing here keeps a forged count from costing time.
    if directory.entries > 2 * limits.max_files:
        detail = f"the archive has {directory.entries} entries; the limit is {limits.max_files} files"
        raise reject("zip.too_many_files", detail)
    if directory.entries == 0:
        raise reject("zip.empty", "the archive has no entries")
    problems: list[Problem] = []
    candidates: list[_Candidate] = []
    for central in iter_central(archive, directory, max_raw_name_bytes(limits)):
        name = entry_name(central)  # decoded once: the checks and the entry read the same name
        problems.extend(candidate_problems(central, name, limits))
        # Checked: the comment and its Unicode block (up to 128 KiB a record) need not be held.
        candidates.append(_candidate(_without_comment(central), name))
    entries = [candidate.entry for candidate in candidates if candidate.entry is not None]
    problems.extend(_collection_problems(entries, limits, file_size))
    located, layout_problems = _check_layout(archive, candidates, directory)
    problems.extend(layout_problems)
    if problems:
        raise PackageRejected(problems)
    return tuple(entry for entry in located if not entry.is_dir)


def _without_comment(central: CentralEntry) -> CentralEntry:
    if UNICODE_COMMENT_EXTRA_ID not in central.extras:
        return central
    extras = {
        block: payload for block, payload in central.extras.items() if block != UNICODE_COMMENT_EXTRA_ID
    }
    return replace(central, extras=extras, comment=b"")


def _candidate(central: CentralEntry, name: str | None) -> _Candidate:
    """The entry ``central`` describes, under its ``entry_name`` (None: it has no usable name)."""
    if name is None:
        return _Candidate(central, None)
    is_dir = name.endswith("/")
    entry = SafeEntry(
        name=name[:-1] if is_dir else name,
        is_dir=is_dir or _attributes_say_directory(central),
        method=central.method,
        crc32=central.crc32,
        compressed_size=central.compressed_size,
        size=central.uncompressed_size,
        local_offset=central.local_offset,
    )
    return _Candidate(central, entry)


def _attributes_say_directory(central: CentralEntry) -> bool:
    mode = central.external_attr >> 16
    if central.version_made_by >> 8 in _UNIX_HOSTS and mode:
        return stat.S_ISDIR(mode)
    return bool(central.external_attr & _DOS_DIRECTORY)


def candidate_problems(central: CentralEntry, name: str | None, limits: ImportLimits) -> list[Problem]:
    """Everything wrong with one central directory record taken on its own; ``name`` is its ``entry_name``."""
    encoding = encoding_problem(central.raw_name, central.flags)
    if encoding is not None or name is None:
        return [encoding or Problem("zip.bad_name_encoding", "the name cannot be decoded", None)]
    is_dir = name.endswith("/")
    bare = name[:-1] if is_dir else name
    shown = printable(bare)
    problems = entry_name_problems(central.raw_name, name, limits)
    problems.extend(unicode_extra_problems(central, name, limits))
    problems.extend(_kind_problems(central, is_dir, shown))
    problems.extend(_method_problems(central, shown))
    problems.extend(_size_problems(central, is_dir, shown, limits))
    return problems


def _kind_problems(central: CentralEntry, named_dir: bool, shown: str) -> list[Problem]:
    """Links, devices, pipes and sockets are refused; only regular files and directories pass."""
    mode = central.external_attr >> 16
    unix = central.version_made_by >> 8 in _UNIX_HOSTS
    if stat.S_ISLNK(mode) or central.external_attr & _DOS_REPARSE_POINT:
        return [Problem("zip.symlink", "links are not accepted", shown)]
    # Some writers (zipfile.writestr among them) store permission bits without a file type.
    if unix and stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
        return [Problem("zip.special_file", "only regular files and directories are accepted", shown)]
    if _attributes_say_directory(central) and not named_dir:
        return [Problem("zip.bad_directory_entry", "a directory entry's name must end with '/'", shown)]
    if named_dir and not _directory_holds_nothing(central):
        detail = (
            f"a directory entry carries data ({central.compressed_size} stored bytes, "
            f"{central.uncompressed_size} declared, CRC {central.crc32:08x}); it must be empty"
        )
        return [Problem("zip.bad_directory_entry", detail, shown)]
    return []


def _directory_holds_nothing(central: CentralEntry) -> bool:
    """Sizes and CRC zero, or (for a deflated entry) only the two bytes of an empty deflate stream."""
    if central.uncompressed_size or central.crc32:
        return False
    allowed = (0, len(_EMPTY_DEFLATE)) if central.method == DEFLATED else (0,)
    return central.compressed_size in allowed


def _method_problems(central: CentralEntry, shown: str) -> list[Problem]:
    if central.flags & (_ENCRYPTED | _STRONG_ENCRYPTION | _MASKED_HEADERS) or central.method == _AES_METHOD:
        return [Problem("zip.encrypted", "encrypted entries are not accepted", shown)]
    if central.method not in SUPPORTED_METHODS:
        method = _METHOD_NAMES.get(central.method, f"method {central.method}")
        detail = f"{method} compression is not supported; use stored or deflate"
        return [Problem("zip.unsupported_compression", detail, shown)]
    if central.disk != 0:
        return [Problem("zip.multi_disk", "the entry lives on another disk of a split archive", shown)]
    return []


def _size_problems(central: CentralEntry, is_dir: bool, shown: str, limits: ImportLimits) -> list[Problem]:
    problems: list[Problem] = []
    size = central.uncompressed_size
    if size > limits.max_file_bytes:
        detail = f"the file is {size} bytes; the limit is {limits.max_file_bytes}"
        problems.append(Problem("zip.file_too_large", detail, shown))
    if central.method == STORED and central.compressed_size != size:
        problems.append(Problem("zip.size_mismatch", "a stored entry's two sizes differ", shown))
    if size > RATIO_FLOOR_BYTES and size > central.compressed_size * limits.max_compression_ratio:
        ratio = size / max(central.compressed_size, 1)
        detail = f"the file expands {ratio:.0f} times; the limit is {limits.max_compression_ratio:g}"
        problems.append(Problem("zip.compression_ratio", detail, shown))
    return problems


def _collection_problems(entries: list[SafeEntry], limits: ImportLimits, archive_size: int) -> list[Problem]:
    """Duplicates, collisions and the totals, judged over the whole archive."""
    problems = _name_clashes(entries)
    files = [entry for entry in entries if not entry.is_dir]
    if len(files) > limits.max_files:
        detail = f"the archive has {len(files)} files; the limit is {limits.max_files}"
        problems.append(Problem("zip.too_many_files", detail))
    total = sum(entry.size for entry in files)
    if total > limits.max_total_bytes:
        detail = f"the files add up to {total} bytes; the limit is {limits.max_total_bytes}"
        problems.append(Problem("zip.too_large", detail))
    if total > RATIO_FLOOR_BYTES and total > archive_size * limits.max_compression_ratio:
        ratio = total / archive_size
        detail = f"the archive expands {ratio:.0f} times; the limit is {limits.max_compression_ratio:g}"
        problems.append(Problem("zip.compression_ratio", detail))
    return problems


def _name_clashes(entries: list[SafeEntry]) -> list[Problem]:
    """Exact duplicates, case or NFC collisions, and a file that is also used as a directory."""
    problems: list[Problem] = []
    exact: set[tuple[str, bool]] = set()
    keys: dict[str, str] = {}
    for entry in entries:
        shown = printable(entry.name)
        if (entry.name, entry.is_dir) in exact:
            problems.append(Problem("zip.duplicate_name", "two entries have this name", shown))
            continue
        exact.add((entry.name, entry.is_dir))
        if entry.is_dir:
            continue
        key = path_key(entry.name)
        if key in keys:
            detail = f"collides with {printable(keys[key])!r} under case folding or Unicode NFC"
            problems.append(Problem("zip.name_collision", detail, shown))
        keys[key] = entry.name
    problems.extend(_file_directory_clashes(entries, keys))
    return problems


def _file_directory_clashes(entries: list[SafeEntry], file_keys: dict[str, str]) -> list[Problem]:
    directories = {path_key(entry.name) for entry in entries if entry.is_dir}
    for entry in entries:
        segments = entry.name.split("/")
        directories.update(path_key("/".join(segments[:depth])) for depth in range(1, len(segments)))
    return [
        Problem("zip.name_collision", "a file has the same name as a directory", printable(file_keys[key]))
        for key in sorted(directories & file_keys.keys())
    ]


@dataclass(frozen=True)
class _Span:
    """The bytes one entry owns: its local header, its data and its data descriptor."""

    start: int
    end: int
    shown: str


def _check_layout(
    archive: ArchiveFile, candidates: list[_Candidate], directory: Directory
) -> tuple[list[SafeEntry], list[Problem]]:
    """Compare each local header with its central record, then check that entries tile the file.

    From byte 0 to the central directory every byte must belong to exactly one entry's local
    header, data or data descriptor: no prefix (self-extractor stubs, polyglots), no gap
    between entries (where a hidden local header would be honoured by a tool that scans for
    signatures), no overlap (the overlap zip bomb reuses one compressed stream for many
    entries) and nothing left before the central directory. The archive comment may hold
    text, but no local header either.
    """
    problems: list[Problem] = []
    located: list[SafeEntry] = []
    spans: list[_Span] = []
    for candidate in candidates:
        shown = printable(candidate.entry.name) if candidate.entry else shown_raw(candidate.central.raw_name)
        try:
            # A directory as read (a Windows writer's "content\\", an entry of "./" segments) or as
            # its attributes say; a record with no usable name by its raw "/".
            is_dir = candidate.entry.is_dir if candidate.entry else candidate.central.raw_name.endswith(b"/")
            span, data_offset = _locate(archive, candidate.central, directory, shown, is_dir)
        except PackageRejected as rejected:
            problems.extend(rejected.problems)
            continue
        spans.append(span)
        if candidate.entry is not None:
            located.append(replace(candidate.entry, data_offset=data_offset))
    if not problems:
        # An entry that could not be located owns an unknown range, so gaps would only repeat it.
        problems.extend(_tiling_problems(archive, spans, directory))
    if find_signature(archive, directory.comment_offset, archive.size, LOCAL_SIGNATURE):
        # The comment is the one other range no entry owns; a signature scanner would extract this too.
        detail = "the archive comment holds a local file header no central record lists"
        problems.append(Problem("zip.hidden_entry", detail))
    return located, problems


def _locate(
    archive: ArchiveFile, central: CentralEntry, directory: Directory, shown: str, is_dir: bool
) -> tuple[_Span, int]:
    """The entry's span and where its data starts; every bound is checked before it is read."""
    limit = directory.offset
    if central.local_offset >= limit or central.compressed_size > limit:
        detail = (
            f"the entry's offset ({central.local_offset}) or compressed size ({central.compressed_size}) "
            f"lies outside the {limit} bytes of entries"
        )
        raise reject("zip.bad_offset", detail, shown)
    try:
        local = read_local(archive, central.local_offset, limit)
    except PackageRejected as rejected:
        raise PackageRejected([Problem(p.code, p.detail, shown) for p in rejected.problems]) from None
    mismatch = _header_mismatch(central, local)
    if mismatch:
        raise reject(
            "zip.header_mismatch",
            f"the local header disagrees with the central directory ({mismatch})",
            shown,
        )
    unicode_problems = local_unicode_problems(central, local, shown)
    if unicode_problems:
        raise PackageRejected(unicode_problems)
    end = local.data_offset + central.compressed_size
    if end > limit:
        raise reject("zip.overlapping_entries", "the entry's data runs into the central directory", shown)
    # A file's data is judged when it is inflated; a directory's is never read, so its two
    # allowed bytes are compared here.
    if is_dir and central.compressed_size == len(_EMPTY_DEFLATE):
        _require_empty_deflate(archive, local.data_offset, central, shown)
    if central.flags & _DATA_DESCRIPTOR:
        end += _descriptor_length(archive, end, limit, central, local, shown)
    return _Span(central.local_offset, end, shown), local.data_offset


def _require_empty_deflate(archive: ArchiveFile, offset: int, central: CentralEntry, shown: str) -> None:
    """A directory entry may hold two bytes only if they are the empty deflate stream."""
    if archive.read(offset, len(_EMPTY_DEFLATE)) != _EMPTY_DEFLATE:
        detail = "a directory entry carries bytes that are not an empty deflate stream"
        raise reject("zip.bad_directory_entry", detail, shown)


def _descriptor_length(
    archive: ArchiveFile, offset: int, limit: int, central: CentralEntry, local: LocalHeader, shown: str
) -> int:
    """The length of the data descriptor at ``offset``, which must repeat the central values."""
    declared = (central.crc32, central.compressed_size, central.uncompressed_size)
    for descriptor in read_descriptors(archive, offset, limit, local.zip64):
        if (descriptor.crc32, descriptor.compressed_size, descriptor.uncompressed_size) == declared:
            return descriptor.length
    detail = "the entry is flagged with a data descriptor, but none that repeats its CRC and sizes follows its data"
    raise reject("zip.bad_data_descriptor", detail, shown)


def _header_mismatch(central: CentralEntry, local: LocalHeader) -> str:
    """What differs between the two headers of an entry, or "" if they agree."""
    if local.raw_name != central.raw_name:
        return "name"
    if local.method != central.method or (local.flags ^ central.flags) & _FLAGS_THAT_MUST_AGREE:
        return "method, or the encryption, data descriptor or UTF-8 flag"
    declared = (central.crc32, central.compressed_size, central.uncompressed_size)
    in_local = (local.crc32, local.compressed_size, local.uncompressed_size)
    # With a data descriptor (flag bit 3) the local header may leave any of the three values
    # zero (writers differ in which ones they know up front); a non-zero value must still agree.
    deferred = bool(local.flags & _DATA_DESCRIPTOR)
    pairs = zip(in_local, declared, strict=True)
    if any(mine != theirs and not (deferred and mine == 0) for mine, theirs in pairs):
        return "sizes or CRC"
    return ""


def _tiling_problems(archive: ArchiveFile, spans: list[_Span], directory: Directory) -> list[Problem]:
    problems: list[Problem] = []
    covered = 0
    for span in sorted(spans, key=lambda span: (span.start, span.end)):
        if span.start < covered:
            detail = "the entry overlaps another entry's header or data"
            problems.append(Problem("zip.overlapping_entries", detail, span.shown))
        elif span.start > covered:
            problems.append(_gap_problem(archive, covered, span.start))
        covered = max(covered, span.end)
    if covered < directory.offset:
        problems.append(_gap_problem(archive, covered, directory.offset))
    return problems


def _gap_problem(archive: ArchiveFile, start: int, end: int) -> Problem:
    """Bytes no entry owns: a hidden entry if a local header is among them, else unexplained data."""
    where = f"bytes {start} to {end}"
    if find_signature(archive, start, end, LOCAL_SIGNATURE):
        detail = f"a local file header no central record lists is hidden in {where}"
        return Problem("zip.hidden_entry", detail)
    if start == 0:
        return Problem("zip.unexpected_data", f"{end} bytes precede the first entry of the archive")
    return Problem("zip.hidden_data", f"{where} belong to no entry")
