"""The container index: paths that cannot escape, and a malformed index is tampering, never half-read."""

from __future__ import annotations

import struct

import pytest

from content_service.crypto.errors import ContainerTampered
from content_service.crypto.index import MAX_PATH_BYTES, IndexEntry, decode_index, encode_index, path_problem

DIGEST = "ab" * 32
ENTRIES = (IndexEntry("a.html", 0, 5, DIGEST), IndexEntry("img/b.png", 5, 7, DIGEST))


def test_an_index_round_trips() -> None:
    assert decode_index(encode_index(ENTRIES), 12) == ENTRIES
    assert decode_index(encode_index(()), 0) == ()


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        (None, "non-empty string"),
        ("", "non-empty string"),
        ("a\x00b", "control characters"),
        ("a\x7fb", "control characters"),
        ("a\\b", "backslashes"),
        ("/etc/passwd", "relative"),
        ("a//b", "relative"),
        ("./a", "relative"),
        ("a/../../b", "relative"),
        ("\ud800", "valid Unicode"),
        ("x" * (MAX_PATH_BYTES + 1), f"at most {MAX_PATH_BYTES} bytes"),
    ],
)
def test_a_path_that_could_mislead_a_reader_has_a_problem(path: object, problem: str) -> None:
    assert problem in (path_problem(path) or "")


def test_a_legal_path_has_no_problem() -> None:
    assert path_problem("dir/sub/é.html") is None
    assert path_problem("x" * MAX_PATH_BYTES) is None


@pytest.mark.parametrize(
    ("data", "size", "message"),
    [
        (encode_index(ENTRIES)[:-1], 12, "malformed"),
        (encode_index(ENTRIES) + b"\x00", 12, "malformed"),
        (struct.pack(">IH", 1, 10) + b"abc", 0, "malformed"),
        (struct.pack(">IH", 1, 1) + b"\xff" + bytes(48), 0, "malformed"),
        (encode_index(ENTRIES), 13, "cover the files' bytes exactly"),
        (encode_index((IndexEntry("a", 0, 5, DIGEST), IndexEntry("b", 6, 1, DIGEST))), 7, "contiguous"),
        (encode_index((IndexEntry("a", 0, 1, DIGEST), IndexEntry("a", 1, 1, DIGEST))), 2, "duplicate"),
        (encode_index((IndexEntry("../a", 0, 1, DIGEST),)), 1, "relative"),
    ],
    ids=["short", "trailing", "path-past-end", "bad-utf8", "size", "gap", "duplicate", "escape"],
)
def test_a_malformed_or_inconsistent_index_is_tampering(data: bytes, size: int, message: str) -> None:
    with pytest.raises(ContainerTampered, match=message):
        decode_index(data, size)
