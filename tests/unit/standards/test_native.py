"""playpackage.json: the native descriptor, validated strictly."""

from __future__ import annotations

import json

import pytest

from content_service.domain.package import Standard
from content_service.packaging.model import PackageRejected
from content_service.standards import detect_and_parse
from content_service.standards.native import MAX_DESCRIPTOR_BYTES
from tests.memory_source import MemorySource

MINIMAL = {"title": "Welcome", "language": "en", "entry": "index.html"}


def parse(descriptor: dict | str | bytes, *files: str):
    data = json.dumps(descriptor) if isinstance(descriptor, dict) else descriptor
    return detect_and_parse(
        MemorySource({"playpackage.json": data, **dict.fromkeys(files or ("index.html",), "")})
    )


def codes(descriptor: dict | str | bytes, *files: str) -> list[str]:
    with pytest.raises(PackageRejected) as refused:
        parse(descriptor, *files)
    return [problem.code for problem in refused.value.problems]


def test_a_minimal_descriptor_has_one_launch() -> None:
    descriptor = parse(MINIMAL)
    assert (descriptor.standard, descriptor.title, descriptor.language) == (Standard.NATIVE, "Welcome", "en")
    [launch] = descriptor.launches
    assert (launch.id, launch.href, launch.kind) == ("main", "index.html", "entry")
    assert descriptor.metadata["format"] == "playpackage/1"


def test_listed_launches_are_used_and_the_entry_is_marked_default() -> None:
    descriptor = parse(
        {
            **MINIMAL,
            "entry": "pages/b.html",
            "version": "2.1",
            "description": "Two pages",
            "launches": [
                {"id": "a", "title": "A", "entry": "pages/a.html?x=1"},
                {"id": "b", "title": "B", "entry": "pages/b.html"},
            ],
        },
        "pages/a.html",
        "pages/b.html",
    )
    assert [
        (launch.id, launch.href, launch.parameters, launch.attributes["default"])
        for launch in descriptor.launches
    ] == [
        ("a", "pages/a.html", "?x=1", False),
        ("b", "pages/b.html", "", True),
    ]
    assert descriptor.metadata["version"] == "2.1"


def test_a_byte_order_mark_is_tolerated() -> None:
    assert parse(b"\xef\xbb\xbf" + json.dumps(MINIMAL).encode()).title == "Welcome"


@pytest.mark.parametrize(
    ("descriptor", "code"),
    [
        ("{not json", "native.invalid_json"),
        ('{"title": "a", "title": "b", "language": "en", "entry": "index.html"}', "native.invalid_json"),
        (b'{"title": "\xff"}', "native.invalid_json"),
        ('{"title": NaN, "language": "en", "entry": "index.html"}', "native.invalid_json"),
        ("[]", "native.invalid_descriptor"),
        ({"title": "T", "entry": "index.html"}, "native.invalid_descriptor"),
        ({**MINIMAL, "title": "   "}, "native.invalid_descriptor"),
        ({**MINIMAL, "language": "english!"}, "native.invalid_descriptor"),
        ({**MINIMAL, "format": "playpackage/2"}, "native.invalid_descriptor"),
        ({**MINIMAL, "unknown": 1}, "native.invalid_descriptor"),
        ({**MINIMAL, "launches": []}, "native.invalid_descriptor"),
        (
            {**MINIMAL, "launches": [{"id": "a", "title": "A", "entry": "other.html"}]},
            "native.invalid_descriptor",
        ),
        (
            {**MINIMAL, "launches": [{"id": "a", "title": "A", "entry": "index.html"}] * 2},
            "native.invalid_descriptor",
        ),
        ({**MINIMAL, "entry": "missing.html"}, "launch.missing_file"),
        ({**MINIMAL, "entry": "../index.html"}, "launch.outside_package"),
        ({**MINIMAL, "entry": "https://example.com/"}, "launch.external_url"),
        ({**MINIMAL, "description": "x" * (MAX_DESCRIPTOR_BYTES + 1)}, "native.descriptor_too_large"),
        # Within the size limit, but deeper than json's recursion limit (a RecursionError before).
        ("[" * 30_000 + "]" * 30_000, "native.invalid_json"),
        ('{"a":' * 10_000 + "1" + "}" * 10_000, "native.invalid_json"),
    ],
)
def test_invalid_descriptors_are_refused(descriptor: dict | str | bytes, code: str) -> None:
    assert codes(descriptor)[0] == code


def test_validation_problems_name_the_field() -> None:
    with pytest.raises(PackageRejected) as refused:
        parse({"title": "T", "entry": "index.html"})
    assert "language" in refused.value.problems[0].detail
