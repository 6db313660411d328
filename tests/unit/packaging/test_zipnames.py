"""Entry name rules: what is refused, with which code, and what ordinary packages keep."""

from __future__ import annotations

import pytest

from content_service.packaging.limits import ImportLimits
from content_service.packaging.zipnames import (
    UTF8_FLAG,
    decode_name,
    encoding_problem,
    name_problems,
    printable,
)

LIMITS = ImportLimits()


def _codes(name: str) -> list[str]:
    return [problem.code for problem in name_problems(name.encode("utf-8"), name, LIMITS)]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("../x.html", "zip.path_traversal"),
        ("a/../../x.html", "zip.path_traversal"),
        ("/etc/passwd", "zip.absolute_path"),
        ("//host/share/x", "zip.absolute_path"),
        ("C:/x.html", "zip.drive_letter"),
        ("c:x.html", "zip.drive_letter"),
        ("a/C:/x.html", "zip.drive_letter"),
        ("a\\b.html", "zip.backslash_in_name"),
        ("\\\\host\\share\\x", "zip.backslash_in_name"),
        ("a//b.html", "zip.unnormalised_path"),
        ("./a.html", "zip.unnormalised_path"),
        ("a\x00.html", "zip.nul_in_name"),
        ("a\x07.html", "zip.control_char_in_name"),
        ("a\u200b.html", "zip.control_char_in_name"),
        ("con", "zip.unportable_name"),
        ("lpt1.txt", "zip.unportable_name"),
        ("dir./a.html", "zip.unportable_name"),
        ("a?.html", "zip.unportable_name"),
        ("x.PhP", "zip.server_executable"),
        ("x.php.png", "zip.server_executable"),
        ("bin/tool.exe", "zip.server_executable"),
        ("a/.htaccess", "zip.server_config"),
        ("WEB.CONFIG", "zip.server_config"),
        ("", "zip.empty_name"),
    ],
)
def test_dangerous_names_are_refused_with_their_code(name: str, code: str) -> None:
    assert code in _codes(name)


@pytest.mark.parametrize(
    "name",
    [
        "index.html",
        "js/jquery.min.js",
        "strings/index.pl.html",
        "leçon/été.html",
        "a b/c d.html",
        ".DS_Store",
        "__MACOSX/._index.html",
        "shared/scormfunctions.js",
        "media/clip.v2.mp4",
        "python-notes.txt",
    ],
)
def test_ordinary_names_pass(name: str) -> None:
    assert _codes(name) == []


def test_names_flagged_utf8_must_be_utf8() -> None:
    assert decode_name("é".encode(), UTF8_FLAG) == "é"
    assert decode_name(b"\xe9", UTF8_FLAG) is None


def test_unflagged_names_are_utf8_when_valid_and_cp437_otherwise() -> None:
    assert decode_name("été".encode(), 0) == "été"
    assert decode_name(b"\x82t\x82", 0) == "étè".replace("è", "é")


def test_printable_escapes_control_characters_only() -> None:
    assert printable("a\x1b[31mb") == "a\\x1b[31mb"
    assert printable("leçon") == "leçon"
    assert printable("a\u202eb\u200b") == "a\\u202eb\\u200b"


@pytest.mark.parametrize(
    "name",
    [
        "\u2024\u2024/x.html",  # ONE DOT LEADER twice folds to ".."
        "\u2025/x.html",  # TWO DOT LEADER folds to ".."
        "a/\uff0e\uff0e/x.html",  # FULLWIDTH FULL STOP
        "\ufe52/x.html",  # SMALL FULL STOP folds to "."
        "a\uff0fb.html",  # FULLWIDTH SOLIDUS adds a separator
        "a\u2215b.html",  # DIVISION SLASH, which best-fit conversions turn into "/"
        "a\uff3cb.html",  # FULLWIDTH REVERSE SOLIDUS
        "\uff0fetc/passwd",  # becomes absolute
        "x\uff0ephp",
        "x.\uff50\uff48\uff50",
        ".\uff48\uff54\uff41\uff43\uff43\uff45\uff53\uff53",  # .htaccess in fullwidth letters
    ],
)
def test_names_that_become_dangerous_once_lookalikes_are_folded_are_refused(name: str) -> None:
    assert "zip.lookalike_name" in _codes(name)


@pytest.mark.parametrize(
    "name", ["\uff4c\uff45\uff53\uff53\uff4f\uff4e\uff11.html", "第1章：はじめに.html", "ﬁle.html"]
)
def test_lookalikes_that_fold_to_nothing_dangerous_are_accepted(name: str) -> None:
    assert _codes(name) == []


@pytest.mark.parametrize(
    "raw",
    [
        b"\xc0\xae\xc0\xae/x",
        b"a\xc0\xafb",
        b"\xe0\x80\xae/x",
        b"\xf0\x80\x80\xae/x",
        b"a\xed\xa0\x80b",
        b"\xf4\x90\x80\x80",
    ],
)
@pytest.mark.parametrize("flags", [0, UTF8_FLAG])
def test_overlong_and_surrogate_utf8_is_never_decoded(raw: bytes, flags: int) -> None:
    assert decode_name(raw, flags) is None
    problem = encoding_problem(raw, flags)
    assert problem is not None and problem.code == "zip.bad_name_encoding"


def test_other_unflagged_bytes_are_still_read_as_cp437() -> None:
    assert decode_name(b"caf\x82.html", 0) == "café.html"
    assert encoding_problem(b"caf\x82.html", 0) is None


def test_length_limits_are_inclusive_for_the_path_and_each_segment() -> None:
    limits = ImportLimits(max_path_length=300, max_path_depth=3)

    def codes(name: str) -> list[str]:
        return [problem.code for problem in name_problems(name.encode(), name, limits)]

    assert codes("a" * 255 + "/" + "b" * 44) == []  # 300 bytes, a 255-byte segment
    assert codes("a" * 255 + "/" + "b" * 45) == ["zip.path_too_long"]  # 301 bytes
    assert codes("a" * 256) == ["zip.path_too_long"]  # one segment of 256 bytes
    assert codes("é" * 128) == ["zip.path_too_long"]  # 256 bytes in UTF-8, 128 characters
    assert codes("é" * 100 + "/" + "é" * 51) == ["zip.path_too_long"]  # 152 characters, 303 bytes
    assert codes("a/b/c") == []
    assert codes("a/b/c/d") == ["zip.path_too_deep"]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("shell.php ", "zip.server_executable"),
        ("shell.php. .", "zip.server_executable"),
        ("dir /x.html", "zip.unportable_name"),
        ("x.html ", "zip.unportable_name"),
        (".htaccess ", "zip.server_config"),
        ("web.config. ", "zip.server_config"),
    ],
)
def test_trailing_spaces_are_dropped_as_windows_drops_them(name: str, code: str) -> None:
    assert code in _codes(name)


def test_a_name_already_refused_is_not_also_called_a_lookalike_for_the_same_danger() -> None:
    assert _codes("../\uff41.html") == ["zip.path_traversal"]
    assert _codes("shell.php/\uff41.php") == ["zip.server_executable"]
