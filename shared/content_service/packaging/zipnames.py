"""Rules for entry names: decoding, traversal, unportable names and server-side files.

A name is judged as a string after decoding, but NUL bytes are looked for in the raw bytes
too, because that is where ``zipfile`` would have silently cut the name.
"""

from __future__ import annotations

import re
import struct
import zlib

from content_service.domain.package import Problem
from content_service.packaging.limits import ImportLimits
from content_service.packaging.zipformat import UNICODE_PATH_EXTRA_ID, printable

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


def decode_name(raw: bytes, flags: int) -> str | None:
    """The entry name as text, or None if it claims UTF-8 and is not.

    With the UTF-8 flag (bit 11) the name must be valid UTF-8. Without it the format says
    cp437, but Info-ZIP and most Unix and macOS tools write UTF-8 without setting the flag,
    and the hrefs in a package's descriptor are UTF-8: so a name that is valid UTF-8 is read
    as such, and only other bytes fall back to cp437.
    """
    if flags & UTF8_FLAG:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp437")


def unicode_path_problem(raw: bytes, name: str, extras: dict[int, bytes]) -> Problem | None:
    """Refuse an Info-ZIP Unicode Path block that names the entry differently.

    Some extractors prefer that block over the header name, so a package could show one
    name to us and write another; the block only counts when its CRC matches the raw name.
    """
    block = extras.get(UNICODE_PATH_EXTRA_ID)
    if block is None or len(block) < 5:
        return None
    (name_crc,) = struct.unpack_from("<I", block, 1)
    if name_crc != zlib.crc32(raw):
        return None
    alternative = block[5:].decode("utf-8", "replace")
    if alternative != name:
        detail = f"the Unicode Path extra field names it {printable(alternative)!r}"
        return Problem("zip.ambiguous_name", detail, printable(name))
    return None


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
    return problems


def _character_problem(raw: bytes, name: str, shown: str) -> Problem | None:
    if not name:
        return Problem("zip.empty_name", "an entry has an empty name", None)
    if b"\x00" in raw:
        return Problem("zip.nul_in_name", "the name contains a NUL byte (it would be cut short there)", shown)
    if any(not ch.isprintable() and ch != " " for ch in name):
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
