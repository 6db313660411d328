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

import stat
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from content_service.domain.package import Problem, path_key
from content_service.packaging.limits import ImportLimits
from content_service.packaging.model import PackageRejected
from content_service.packaging.zipformat import (
    CentralEntry,
    Directory,
    LocalHeader,
    find_directory,
    iter_central,
    printable,
    read_local,
    reject,
    shown_raw,
)
from content_service.packaging.zipnames import decode_name, name_problems, unicode_path_problem

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

_UNIX_HOSTS = frozenset({3, 19})
_DOS_DIRECTORY = 0x10
_DOS_REPARSE_POINT = 0x400

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
            files = _check_archive(stream, limits)
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

    def read_bounded(self, name: str, max_bytes: int) -> bytes:
        """A whole small file (a descriptor), refused if it declares more than ``max_bytes``."""
        entry = self.entry(name)
        if entry.size > max_bytes:
            detail = f"the file is {entry.size} bytes; descriptors may be at most {max_bytes}"
            raise reject("zip.descriptor_too_large", detail, printable(name))
        return b"".join(self.iter_chunks(entry))


def stream_entry(stream: BinaryIO, entry: SafeEntry) -> Iterator[bytes]:
    """Inflate an entry incrementally, refusing output past the declared size and a bad CRC.

    The inflater is never asked for more than one byte beyond what the entry declared, so a
    lying size costs at most that byte, not a bomb's worth of memory.
    """
    shown = printable(entry.name)
    inflater = zlib.decompressobj(-zlib.MAX_WBITS) if entry.method == DEFLATED else None
    produced = 0
    crc = 0
    for compressed in _raw_chunks(stream, entry, shown):
        for piece in _inflate(inflater, compressed, entry.size - produced, shown):
            produced += len(piece)
            if produced > entry.size:
                raise reject(
                    "zip.size_mismatch", f"the content is larger than the declared {entry.size} bytes", shown
                )
            crc = zlib.crc32(piece, crc)
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


def _inflate(inflater: zlib._Decompress | None, data: bytes, allowed: int, shown: str) -> Iterator[bytes]:
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
    except zlib.error as error:
        raise reject("zip.corrupt_data", f"the compressed data is damaged ({error})", shown) from None


def _check_archive(stream: BinaryIO, limits: ImportLimits) -> tuple[SafeEntry, ...]:
    """Every structural, per-entry and cross-entry check; raises with all problems found."""
    file_size = stream.seek(0, 2)
    if file_size > limits.max_upload_bytes:
        detail = f"the archive is {file_size} bytes; the limit is {limits.max_upload_bytes}"
        raise reject("zip.upload_too_large", detail)
    directory = find_directory(stream, file_size)
    # Directory entries do not count as files, but an archive cannot need more than twice
    # the file limit in records; refusing here keeps a forged count from costing time.
    if directory.entries > 2 * limits.max_files:
        detail = f"the archive has {directory.entries} entries; the limit is {limits.max_files} files"
        raise reject("zip.too_many_files", detail)
    if directory.entries == 0:
        raise reject("zip.empty", "the archive has no entries")
    central_entries = iter_central(stream, directory, limits.max_path_length + 1)
    candidates = [_candidate(central) for central in central_entries]
    problems = [
        problem for candidate in candidates for problem in candidate_problems(candidate.central, limits)
    ]
    entries = [candidate.entry for candidate in candidates if candidate.entry is not None]
    problems.extend(_collection_problems(entries, limits, file_size))
    located, layout_problems = _check_layout(stream, candidates, directory)
    problems.extend(layout_problems)
    if problems:
        raise PackageRejected(problems)
    return tuple(entry for entry in located if not entry.is_dir)


def _candidate(central: CentralEntry) -> _Candidate:
    name = decode_name(central.raw_name, central.flags)
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


def candidate_problems(central: CentralEntry, limits: ImportLimits) -> list[Problem]:
    """Everything wrong with one central directory record taken on its own."""
    name = decode_name(central.raw_name, central.flags)
    if name is None:
        shown = shown_raw(central.raw_name)
        return [Problem("zip.bad_name_encoding", "the name is flagged UTF-8 but is not valid UTF-8", shown)]
    is_dir = name.endswith("/")
    bare = name[:-1] if is_dir else name
    shown = printable(bare)
    problems = name_problems(central.raw_name, bare, limits)
    ambiguous = unicode_path_problem(central.raw_name, name, central.extras)
    if ambiguous is not None:
        problems.append(ambiguous)
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
    if named_dir and central.uncompressed_size:
        return [Problem("zip.bad_directory_entry", "a directory entry has content", shown)]
    return []


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


def _check_layout(
    stream: BinaryIO, candidates: list[_Candidate], directory: Directory
) -> tuple[list[SafeEntry], list[Problem]]:
    """Compare each local header with its central record, then check that entries tile the file.

    Entries may not overlap each other or the central directory (the overlap zip bomb reuses
    one compressed stream for many entries), and nothing may precede the first entry.
    """
    problems: list[Problem] = []
    located: list[SafeEntry] = []
    for candidate in candidates:
        if candidate.entry is None:
            continue
        try:
            entry = _locate(stream, candidate.central, candidate.entry)
        except PackageRejected as rejected:
            problems.extend(rejected.problems)
            continue
        located.append(entry)
    problems.extend(_overlap_problems(located, directory))
    return located, problems


def _locate(stream: BinaryIO, central: CentralEntry, entry: SafeEntry) -> SafeEntry:
    shown = printable(entry.name)
    try:
        local = read_local(stream, central.local_offset)
    except PackageRejected as rejected:
        raise PackageRejected([Problem(p.code, p.detail, shown) for p in rejected.problems]) from None
    mismatch = _header_mismatch(central, local)
    if mismatch:
        raise reject(
            "zip.header_mismatch",
            f"the local header disagrees with the central directory ({mismatch})",
            shown,
        )
    return SafeEntry(
        name=entry.name,
        is_dir=entry.is_dir,
        method=entry.method,
        crc32=entry.crc32,
        compressed_size=entry.compressed_size,
        size=entry.size,
        local_offset=entry.local_offset,
        data_offset=local.data_offset,
    )


def _header_mismatch(central: CentralEntry, local: LocalHeader) -> str:
    """What differs between the two headers of an entry, or "" if they agree."""
    if local.raw_name != central.raw_name:
        return "name"
    if local.method != central.method or (local.flags ^ central.flags) & _ENCRYPTED:
        return "method or encryption"
    declared = (central.crc32, central.compressed_size, central.uncompressed_size)
    in_local = (local.crc32, local.compressed_size, local.uncompressed_size)
    # With a data descriptor (flag bit 3) the local header may leave any of the three values
    # zero (writers differ in which ones they know up front); a non-zero value must still agree.
    deferred = bool(local.flags & _DATA_DESCRIPTOR)
    pairs = zip(in_local, declared, strict=True)
    if any(mine != theirs and not (deferred and mine == 0) for mine, theirs in pairs):
        return "sizes or CRC"
    return ""


def _overlap_problems(located: list[SafeEntry], directory: Directory) -> list[Problem]:
    problems: list[Problem] = []
    ordered = sorted(located, key=lambda entry: entry.local_offset)
    if ordered and ordered[0].local_offset != 0:
        problems.append(Problem("zip.unexpected_data", "bytes precede the first entry of the archive"))
    previous_end = 0
    for entry in ordered:
        end = entry.data_offset + entry.compressed_size
        if entry.local_offset < previous_end:
            detail = "the entry overlaps another entry's data"
            problems.append(Problem("zip.overlapping_entries", detail, printable(entry.name)))
        if end > directory.offset:
            detail = "the entry's data runs into the central directory"
            problems.append(Problem("zip.overlapping_entries", detail, printable(entry.name)))
        previous_end = max(previous_end, end)
    return problems
