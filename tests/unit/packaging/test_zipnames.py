"""Entry name rules: what is refused, with which code, and what ordinary packages keep."""

from __future__ import annotations

import pytest

from content_service.packaging.limits import ImportLimits
from content_service.packaging.zipnames import UTF8_FLAG, decode_name, name_problems, printable

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
