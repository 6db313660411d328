"""Rules for entry names: decoding, traversal, unportable names and server-side files.

A name is judged as a string after decoding, but NUL bytes are looked for in the raw bytes
too, because that is where ``zipfile`` would have silently cut the name.

Two decisions about names other tools read differently:

- **Overlong and surrogate UTF-8** (``C0 AE`` for ".", ``ED A0 80``): a strict decoder refuses
  them, a lenient one reads "." or "/" and so a traversal. Such a name is refused
  (``zip.bad_name_encoding``) whether or not it is flagged UTF-8; it is never read as cp437.
- **Lookalike characters**: Unicode compatibility folding (NFKC, which Windows' "best fit"
  conversion and several normalising tools apply) turns U+2024 ONE DOT LEADER and U+FF0E
  FULLWIDTH FULL STOP into ".", U+2025 into "..", U+FF0F and U+FF3C into "/" and "\", and
  fullwidth letters into ASCII. A name is checked again after that folding (and after
  mapping the division and fraction slashes to "/"): if the folded name climbs out, becomes
  absolute, gains a separator, or names a server-side executable or configuration file,
  it is refused as ``zip.lookalike_name``. Lookalikes that fold to nothing dangerous
  (a fullwidth digit, a fullwidth colon inside a segment) are accepted.

One way of writing names every extractor reads alike:

- **A leading ``./``**: bsdtar (and so Windows 10's ``tar.exe -a -c -f pkg.zip .``) and
  ``zip -r pkg.zip ./`` write ``./index.html`` and often a ``./`` entry for the folder itself;
  Info-ZIP, 7-Zip, libarchive and Python's ``zipfile`` all extract ``./index.html`` as
  ``index.html``. The sandbox reads names so too (``read_name``): the leading ``./`` segments
  are dropped, a name made only of them is the root's own directory entry
  (``ROOT_DIRECTORY``, which names nothing to judge), and every rule applies to the name as
  read: ``./a/../../x`` is traversal, ``./`` + ``/etc/x`` absolute, ``a/./b`` unnormalised
  (only a *leading* ``./`` is dropped), and ``./a`` beside ``a`` a duplicate.
"""

from __future__ import annotations

import re
import struct
import unicodedata
import zlib

from content_service.domain.package import Problem
from content_service.packaging.limits import ImportLimits
from content_service.packaging.zipformat import (
    UNICODE_COMMENT_EXTRA_ID,
    UNICODE_PATH_EXTRA_ID,
    CentralEntry,
    LocalHeader,
    printable,
    shown_raw,
)

UTF8_FLAG = 0x0800

# Files a web server could execute or obey if the content origin were ever misconfigured.
# The content origin serves static files only; refusing these keeps a package from becoming
# a foothold should that ever stop being true. Compared case-insensitively with the last
# extension of the name.
SERVER_EXECUTABLE_EXTENSIONS: frozenset[str] = frozenset(
    {
        "php", "php3", "php4", "php5", "php7", "php8", "phps", "phar", "pht", "phtml", "pgif",
        "shtml", "shtm", "stm",
        "asp", "aspx", "asa", "asax", "ascx", "ashx", "asmx", "axd", "cshtml", "vbhtml",
        "jsp", "jspx", "jspf", "jsw", "jsv", "war", "ear",
        "cfm", "cfml", "cfc",
        "cgi", "fcgi", "pl", "pm", "py", "pyc", "pyo", "rb", "erb",
        "sh", "bash", "zsh", "ksh", "csh",
        "bat", "cmd", "ps1", "psm1", "vbs", "vbe", "wsf", "wsh", "hta", "msi", "scr",
        "exe", "dll", "so", "dylib",
    }
)  # fmt: skip

# Apache's AddHandler runs ``shell.php.jpg`` as PHP, so these are refused in any position of
# the name, not only last. Language tags such as ``index.pl.html`` must stay legal, which is
# why this set is smaller than the one above.
SERVER_EXECUTABLE_INNER_EXTENSIONS: frozenset[str] = frozenset(
    {
        "php",
        "php3",
        "php4",
        "php5",
        "php7",
        "php8",
        "phtml",
        "phar",
        "pht",
        "asp",
        "aspx",
        "jsp",
        "cgi",
        "shtml",
    }
)

# Configuration files a web server reads from the directories it serves.
SERVER_CONFIG_NAMES: frozenset[str] = frozenset(
    {".htaccess", ".htpasswd", ".htgroup", ".htdigest", "web.config", ".user.ini", "php.ini", "nginx.conf"}
)

# Windows opens these device names whatever the extension; a device that extracts content
# on Windows must never see them.
_WINDOWS_DEVICES = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$", re.IGNORECASE)
_DRIVE = re.compile(r"^[A-Za-z]:")
_UNPORTABLE_CHARACTERS = frozenset('<>:"|?*')
_MAX_SEGMENT_BYTES = 255

#: How the sandbox reads an entry made only of ``./`` segments: the root directory's own entry.
ROOT_DIRECTORY = "./"
_DOT_PREFIX = re.compile(r"(?:\./)+")

# Byte sequences a strict UTF-8 decoder refuses but a lenient one reads as a character:
# overlong forms (C0/C1 leads, E0 80-9F, F0 80-8F), UTF-16 surrogates (ED A0-BF) and code
# points past U+10FFFF (F4 90-BF).
_LENIENT_UTF8 = re.compile(
    rb"[\xc0\xc1][\x80-\xbf]|\xe0[\x80-\x9f][\x80-\xbf]|\xf0[\x80-\x8f][\x80-\xbf]{2}"
    rb"|\xed[\xa0-\xbf][\x80-\xbf]|\xf4[\x90-\xbf][\x80-\xbf]{2}"
)

# Slashes NFKC leaves alone but "best fit" code page conversions turn into separators.
_SLASH_LOOKALIKES = str.maketrans(
    {"\u2215": "/", "\u2044": "/", "\u29f8": "/", "\u2216": "\\", "\u29f9": "\\"}
)

# What a folded name may not become: the rules that keep a name inside the package and
# off the server's executable list. Unportable characters are left out on purpose: a
# fullwidth colon in a title-like file name is common and harmless.
_FOLDED_DANGERS = frozenset(
    {
        "zip.path_traversal", "zip.absolute_path", "zip.drive_letter", "zip.backslash_in_name",
        "zip.unnormalised_path", "zip.server_executable", "zip.server_config", "zip.nul_in_name",
        "zip.control_char_in_name",
    }
)  # fmt: skip


def decode_name(raw: bytes, flags: int) -> str | None:
    """The entry name as text, or None if it claims UTF-8 and is not.

    With the UTF-8 flag (bit 11) the name must be valid UTF-8. Without it the format says
    cp437, but Info-ZIP and most Unix and macOS tools write UTF-8 without setting the flag,
    and the hrefs in a package's descriptor are UTF-8: so a name that is valid UTF-8 is read
    as such, and only other bytes fall back to cp437.
    """
    if _LENIENT_UTF8.search(raw):
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None if flags & UTF8_FLAG else raw.decode("cp437")


def entry_name(central: CentralEntry) -> str | None:
    """The name an entry goes by: its header name decoded, or its Unicode Path if that was a guess.

    A name neither flagged UTF-8 nor valid UTF-8 was written in some legacy code page, and
    cp437 is only our guess at which: a Russian or Greek Windows tool writes cp866 or cp737
    bytes, plus an Info-ZIP Unicode Path block with the real name (WinZip, WinRAR). When that
    block is well formed and its CRC matches the header's bytes, it is the writer's own
    statement of the name, and 7-Zip, Info-ZIP and libarchive all use it; so does the sandbox,
    and every name rule applies to it. Otherwise the decoded header name stands, and a
    Unicode Path that disagrees with it is ``zip.ambiguous_name``.
    """
    name = decode_name(central.raw_name, central.flags)
    block = central.extras.get(UNICODE_PATH_EXTRA_ID)
    if name is None or block is None or not _guessed_code_page(central.raw_name, central.flags):
        return None if name is None else read_name(name, central.version_made_by)
    alternative, problems = _unicode_block(block, central.raw_name, "Path", "")
    chosen = alternative if alternative is not None and not problems else name
    return read_name(chosen, central.version_made_by)


def read_name(name: str, version_made_by: int) -> str:
    """A decoded name as the sandbox reads it: a Windows writer's separators, then no leading ``./``.

    The separators come first, so ``.\\a`` from a Windows writer is ``a`` while ``./a\\b``
    (which mixes both) keeps its backslash and is refused.
    """
    return without_dot_prefix(windows_separators(name, version_made_by))


def without_dot_prefix(name: str) -> str:
    """``name`` without its leading ``./`` segments; ``ROOT_DIRECTORY`` if that is all it had.

    Only whole leading segments go: ``./../x`` reads as ``../x``, ``.//x`` as ``/x``, and a
    ``.`` segment anywhere else is left for the rules to refuse.
    """
    prefix = _DOT_PREFIX.match(name)
    if prefix is None:
        return name
    return name[prefix.end() :] or ROOT_DIRECTORY


def max_raw_name_bytes(limits: ImportLimits) -> int:
    """The longest raw name worth reading: a path at the limit, one ``./`` before it, a ``/`` after."""
    return limits.max_path_length + len(ROOT_DIRECTORY) + 1


#: Hosts whose writers separate folders with a backslash (APPNOTE 4.4.2.2: 0 MS-DOS and OS/2
#: FAT, 6 OS/2 HPFS, 10 Windows NTFS, 14 VFAT).
_BACKSLASH_HOSTS = frozenset({0, 6, 10, 14})


def windows_separators(name: str, version_made_by: int) -> str:
    """``name`` with a Windows writer's backslashes read as the separators they are.

    .NET Framework 4.5's ``ZipFile`` (and so PowerShell 5's ``Compress-Archive``) stores Windows
    paths as they are, ``content\\page.html``, and Info-ZIP, 7-Zip and Windows itself read the
    backslash as a separator there. So does the sandbox, but only for an entry made on a
    DOS/Windows host whose name has no ``/`` at all (a name that mixes both is ambiguous, and on
    other hosts a backslash is a character, both refused as ``zip.backslash_in_name``). Every
    name rule then applies to the name read this way: ``..\\x`` is traversal, ``\\\\host\\x``
    an absolute path, ``C:\\x`` a drive letter.
    """
    if "\\" in name and "/" not in name and version_made_by >> 8 in _BACKSLASH_HOSTS:
        return name.replace("\\", "/")
    return name


def _guessed_code_page(raw: bytes, flags: int) -> bool:
    """Whether ``decode_name`` fell back to cp437 for this name."""
    if flags & UTF8_FLAG:
        return False
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def encoding_problem(raw: bytes, flags: int) -> Problem | None:
    """Why a raw name cannot be decoded (see the module docstring), or None."""
    if _LENIENT_UTF8.search(raw):
        detail = "the name holds overlong or surrogate UTF-8, which lenient decoders read as other characters"
        return Problem("zip.bad_name_encoding", detail, shown_raw(raw))
    if decode_name(raw, flags) is None:
        return Problem(
            "zip.bad_name_encoding", "the name is flagged UTF-8 but is not valid UTF-8", shown_raw(raw)
        )
    return None


def _unicode_block(block: bytes, raw: bytes, what: str, shown: str) -> tuple[str | None, list[Problem]]:
    """The text of an Info-ZIP Unicode Path or Comment block, or the problems that make it unusable.

    APPNOTE 4.6.9: version 1, the CRC-32 of the header's raw bytes, then UTF-8. Extractors
    that honour the block would use its text instead of the header's, so a block we cannot
    verify is refused, never skipped.
    """
    if len(block) < 5 or block[0] != 1:
        return None, [Problem("zip.bad_unicode_extra", f"the Unicode {what} extra field is malformed", shown)]
    (crc,) = struct.unpack_from("<I", block, 1)
    if crc != zlib.crc32(raw):
        detail = f"the Unicode {what} extra field's CRC does not match the header's {what.lower()}"
        return None, [Problem("zip.bad_unicode_extra", detail, shown)]
    try:
        return block[5:].decode("utf-8"), []
    except UnicodeDecodeError:
        detail = f"the Unicode {what} extra field is not valid UTF-8"
        return None, [Problem("zip.bad_unicode_extra", detail, shown)]


def unicode_extra_problems(central: CentralEntry, name: str, limits: ImportLimits) -> list[Problem]:
    """Check a central record's Unicode Path and Unicode Comment blocks against its header.

    ``name`` is the entry's name (``entry_name``). The Unicode name, read the same way
    (``read_name``), must be exactly that: a package could otherwise show one name to us and
    write another through a tool that prefers the block. A differing name is
    ``zip.ambiguous_name``, reported with every rule that name breaks on its own.
    """
    shown = printable(name)
    problems: list[Problem] = []
    path_block = central.extras.get(UNICODE_PATH_EXTRA_ID)
    if path_block is not None:
        alternative, problems = _unicode_block(path_block, central.raw_name, "Path", shown)
        if alternative is not None:
            read = read_name(alternative, central.version_made_by)
            if read != name:
                detail = f"the Unicode Path extra field names it {printable(alternative)!r}"
                problems.append(Problem("zip.ambiguous_name", detail, shown))
                problems.extend(entry_name_problems(alternative.encode("utf-8"), read, limits))
    comment_block = central.extras.get(UNICODE_COMMENT_EXTRA_ID)
    if comment_block is not None:
        text, comment_problems = _unicode_block(comment_block, central.comment, "Comment", shown)
        problems.extend(comment_problems)
        decoded = decode_name(central.comment, central.flags)
        if text is not None and text != decoded:
            detail = "the Unicode Comment extra field holds a different comment than the header"
            problems.append(Problem("zip.bad_unicode_extra", detail, shown))
    return problems


def local_unicode_problems(central: CentralEntry, local: LocalHeader, shown: str) -> list[Problem]:
    """The local header's Unicode blocks: a Path block exactly as in the central record, no Comment block.

    A tool that reads local headers (streaming extractors do) would otherwise see a name we
    never checked. Local headers have no comment, so a Unicode Comment block there is refused.
    """
    problems: list[Problem] = []
    if local.extras.get(UNICODE_PATH_EXTRA_ID) != central.extras.get(UNICODE_PATH_EXTRA_ID):
        detail = "the Unicode Path extra field differs between the local header and the central directory"
        problems.append(Problem("zip.header_mismatch", detail, shown))
    if UNICODE_COMMENT_EXTRA_ID in local.extras:
        detail = "a Unicode Comment extra field in a local header, which has no comment"
        problems.append(Problem("zip.bad_unicode_extra", detail, shown))
    return problems


def entry_name_problems(raw: bytes, name: str, limits: ImportLimits) -> list[Problem]:
    """Everything wrong with an entry's name as read (``read_name``), a directory's ``/`` included.

    The root directory's own entry (``ROOT_DIRECTORY``) names nothing, so no name rule applies
    to it; what it carries is judged like any directory entry's.
    """
    if name == ROOT_DIRECTORY:
        return []
    return name_problems(raw, name[:-1] if name.endswith("/") else name, limits)


def name_problems(raw: bytes, name: str, limits: ImportLimits) -> list[Problem]:
    """Everything wrong with one entry name (without a directory entry's trailing slash)."""
    shown = printable(name)
    character = _character_problem(raw, name, shown)
    if character is not None:
        return [character]
    shape = _shape_problem(name, shown)
    if shape is not None:
        # One traversal problem says enough; its segments would only repeat it.
        return [shape, *_size_problems(name, shown, limits)]
    problems = _segment_problems(name, shown)
    problems.extend(_size_problems(name, shown, limits))
    lookalike = _lookalike_problem(name, shown, {problem.code for problem in problems})
    if lookalike is not None:
        problems.append(lookalike)
    return problems


def _lookalike_problem(name: str, shown: str, found: set[str]) -> Problem | None:
    """Refuse a name that only becomes dangerous after compatibility folding (module docstring)."""
    folded = unicodedata.normalize("NFKC", name).translate(_SLASH_LOOKALIKES)
    if folded == name:
        return None
    folded_shown = printable(folded)
    dangers = {problem.code for problem in _folded_rule_problems(folded, folded_shown)} & _FOLDED_DANGERS
    new_separator = folded.count("/") + folded.count("\\") > name.count("/") + name.count("\\")
    if dangers - found or new_separator:
        detail = f"the name reads as {folded_shown!r} once lookalike characters are folded"
        return Problem("zip.lookalike_name", detail, shown)
    return None


def _folded_rule_problems(folded: str, shown: str) -> list[Problem]:
    character = _character_problem(folded.encode("utf-8", "surrogatepass"), folded, shown)
    if character is not None:
        return [character]
    shape = _shape_problem(folded, shown)
    return [shape] if shape is not None else _segment_problems(folded, shown)


def _character_problem(raw: bytes, name: str, shown: str) -> Problem | None:
    if not name:
        return Problem("zip.empty_name", "an entry has an empty name", None)
    if b"\x00" in raw:
        return Problem("zip.nul_in_name", "the name contains a NUL byte (it would be cut short there)", shown)
    if not name.isprintable():  # the space is printable; other separators and formats are not
        return Problem(
            "zip.control_char_in_name", "the name contains control or invisible format characters", shown
        )
    return None


def _shape_problem(name: str, shown: str) -> Problem | None:
    """Traversal that does not depend on one segment: backslashes, UNC, absolute, drive paths."""
    if "\\" in name:
        return Problem(
            "zip.backslash_in_name", "the name contains a backslash (a path separator on Windows)", shown
        )
    if name.startswith("/"):
        return Problem("zip.absolute_path", "the name is an absolute path", shown)
    if _DRIVE.match(name):
        return Problem("zip.drive_letter", "the name starts with a drive letter", shown)
    return None


def _segment_problems(name: str, shown: str) -> list[Problem]:
    problems: list[Problem] = []
    segments = name.split("/")
    if any(segment == ".." for segment in segments):
        problems.append(Problem("zip.path_traversal", "the name climbs out of the package with '..'", shown))
    elif any(segment in ("", ".") for segment in segments):
        problems.append(Problem("zip.unnormalised_path", "the name has empty or '.' segments", shown))
    if any(_DRIVE.match(segment) for segment in segments[1:]):
        problems.append(Problem("zip.drive_letter", "a segment of the name is a drive letter", shown))
    elif any(_unportable(segment) for segment in segments):
        detail = (
            'the name has a segment Windows cannot hold (reserved device, trailing dot or space, <>:"|?*)'
        )
        problems.append(Problem("zip.unportable_name", detail, shown))
    server = server_file_problem(segments[-1], shown)
    if server is not None:
        problems.append(server)
    return problems


def _unportable(segment: str) -> bool:
    if segment in ("", ".", ".."):
        return False
    trailing = segment.endswith((".", " "))
    return (
        trailing
        or bool(_WINDOWS_DEVICES.match(segment))
        or any(ch in _UNPORTABLE_CHARACTERS for ch in segment)
    )


def server_file_problem(basename: str, shown: str) -> Problem | None:
    """Refuse server configuration files and anything with a server-side executable extension."""
    # Windows and some servers drop trailing dots and spaces, so "x.php." is "x.php" there.
    lowered = basename.rstrip(". ").lower()
    if lowered in SERVER_CONFIG_NAMES:
        return Problem("zip.server_config", "web server configuration files are not accepted", shown)
    extensions = [extension.strip() for extension in lowered.split(".")[1:]]
    hits = [extension for extension in extensions[:-1] if extension in SERVER_EXECUTABLE_INNER_EXTENSIONS]
    if extensions and extensions[-1] in SERVER_EXECUTABLE_EXTENSIONS:
        hits.append(extensions[-1])
    if hits:
        detail = f"server-side executable files are not accepted (.{hits[0]})"
        return Problem("zip.server_executable", detail, shown)
    return None


def _size_problems(name: str, shown: str, limits: ImportLimits) -> list[Problem]:
    problems: list[Problem] = []
    segments = name.split("/")
    if len(segments) > limits.max_path_depth:
        detail = f"the path is {len(segments)} levels deep; the limit is {limits.max_path_depth}"
        problems.append(Problem("zip.path_too_deep", detail, shown))
    encoded = len(name.encode("utf-8"))
    if encoded > limits.max_path_length or any(len(s.encode("utf-8")) > _MAX_SEGMENT_BYTES for s in segments):
        limit = limits.max_path_length
        detail = f"the path is {encoded} bytes; the limit is {limit} ({_MAX_SEGMENT_BYTES} for a segment)"
        problems.append(Problem("zip.path_too_long", detail, shown))
    return problems
