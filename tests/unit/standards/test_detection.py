"""Detection picks the descriptor at the package root and says clearly when there is none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from content_service.domain.package import Standard
from content_service.packaging.model import PackageRejected
from content_service.standards import detect_and_parse, problems
from tests.memory_source import MemorySource

NATIVE = json.dumps({"title": "Native", "language": "en", "entry": "index.html"})
TINCAN = (
    '<tincan><activities><activity id="http://example.com/a"><name>xAPI</name>'
    "<launch>index.html</launch></activity></activities></tincan>"
)
CMI5 = (
    '<courseStructure xmlns="https://w3id.org/xapi/profiles/cmi5/v1/CourseStructure.xsd">'
    '<course id="http://example.com/c"><title><langstring>cmi5</langstring></title></course>'
    '<au id="http://example.com/c/au"><title><langstring>AU</langstring></title><url>index.html</url></au>'
    "</courseStructure>"
)
SCORM = (
    '<manifest identifier="m"><organizations><organization identifier="o"><title>SCORM</title>'
    '<item identifier="i" identifierref="r"/></organization></organizations>'
    '<resources><resource identifier="r" type="webcontent" adlcp:scormtype="sco" href="index.html"'
    ' xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2"/></resources></manifest>'
)


def _refusal(files: dict[str, str]) -> tuple[str, str]:
    with pytest.raises(PackageRejected) as refused:
        detect_and_parse(MemorySource(files))
    return refused.value.problems[0].code, refused.value.problems[0].detail


def test_no_descriptor_is_refused() -> None:
    assert _refusal({"index.html": ""})[0] == "package.no_descriptor"


def test_a_descriptor_in_a_folder_is_refused_with_a_hint() -> None:
    code, detail = _refusal({"course/imsmanifest.xml": SCORM, "course/index.html": ""})
    assert code == "package.no_descriptor"
    assert "course/imsmanifest.xml" in detail


def test_a_yaml_descriptor_is_refused_with_a_hint() -> None:
    code, detail = _refusal({"playpackage.yaml": "title: x", "index.html": ""})
    assert code == "package.no_descriptor"
    assert "JSON only" in detail


@pytest.mark.parametrize(
    ("descriptors", "standard", "others"),
    [
        (
            {"playpackage.json": NATIVE, "cmi5.xml": CMI5, "imsmanifest.xml": SCORM},
            Standard.NATIVE,
            ["cmi5.xml", "imsmanifest.xml"],
        ),
        (
            {"cmi5.xml": CMI5, "tincan.xml": TINCAN, "imsmanifest.xml": SCORM},
            Standard.CMI5,
            ["tincan.xml", "imsmanifest.xml"],
        ),
        ({"tincan.xml": TINCAN, "imsmanifest.xml": SCORM}, Standard.XAPI, ["imsmanifest.xml"]),
        ({"imsmanifest.xml": SCORM}, Standard.SCORM12, []),
        ({"IMSManifest.xml": SCORM}, Standard.SCORM12, []),
    ],
)
def test_one_descriptor_wins_and_the_others_are_recorded(
    descriptors: dict[str, str], standard: Standard, others: list[str]
) -> None:
    descriptor = detect_and_parse(MemorySource({**descriptors, "index.html": ""}))
    assert descriptor.standard is standard
    assert descriptor.metadata["other_descriptors"] == others


def test_only_the_winning_descriptor_is_read() -> None:
    source = MemorySource({"cmi5.xml": CMI5, "imsmanifest.xml": "<broken", "index.html": ""})
    assert detect_and_parse(source).standard is Standard.CMI5
    assert source.reads == ["cmi5.xml"]


def test_every_problem_code_is_registered_once_and_dotted() -> None:
    constants = {value for name, value in vars(problems).items() if name.isupper() and isinstance(value, str)}
    assert constants == set(problems.CODES)
    assert all(code.count(".") == 1 and code == code.lower() for code in problems.CODES)


def test_the_package_format_document_lists_every_problem_code() -> None:
    document = (Path(__file__).parents[3] / "docs" / "package-format.md").read_text(encoding="utf-8")
    assert [code for code in problems.CODES if f"`{code}`" not in document] == []


def test_macos_resource_forks_are_not_offered_as_the_descriptor() -> None:
    code, detail = _refusal({"__MACOSX/imsmanifest.xml": "x", "__MACOSX/._index.html": "", "index.html": ""})
    assert code == "package.no_descriptor"
    assert "__MACOSX" not in detail


@pytest.mark.parametrize(
    ("path", "text", "standard"),
    [
        ("imsmanifest.xml", SCORM, Standard.SCORM12),
        ("cmi5.xml", CMI5, Standard.CMI5),
        ("tincan.xml", TINCAN, Standard.XAPI),
    ],
)
@pytest.mark.parametrize("before", [b"\r\n", b"  \t\n", b"\xef\xbb\xbf\n\n"])
def test_every_xml_descriptor_may_have_whitespace_before_its_declaration(
    path: str, text: str, standard: Standard, before: bytes
) -> None:
    declared = before + b'<?xml version="1.0" encoding="UTF-8"?>\n' + text.encode()
    descriptor = detect_and_parse(MemorySource({path: declared, "index.html": "<p>hi</p>"}))
    assert (descriptor.standard, [launch.href for launch in descriptor.launches]) == (
        standard,
        ["index.html"],
    )
