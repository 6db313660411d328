"""SCORM 1.2 manifests: structure kept, launches picked, and what an LMS refuses is refused."""

from __future__ import annotations

import json

import pytest

from content_service.domain.package import Standard
from content_service.packaging.model import PackageRejected
from content_service.standards import detect_and_parse
from tests.memory_source import MemorySource

HEAD = (
    '<manifest identifier="m1" version="1" xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"'
    ' xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">'
    "<metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>"
)


def manifest(organizations: str, resources: str, head: str = HEAD) -> str:
    return f"{head}{organizations}<resources>{resources}</resources></manifest>"


ONE_SCO = manifest(
    '<organizations default="o1"><organization identifier="o1"><title>Course</title>'
    '<item identifier="i1" identifierref="r1" parameters="?mode=review"><title>Lesson 1</title>'
    "<adlcp:masteryscore>80</adlcp:masteryscore>"
    '<adlcp:prerequisites type="aicc_script">i0</adlcp:prerequisites>'
    "<adlcp:maxtimeallowed>00:30:00</adlcp:maxtimeallowed>"
    "<adlcp:timelimitaction>exit,message</adlcp:timelimitaction>"
    "<adlcp:datafromlms>level=2</adlcp:datafromlms>"
    "</item></organization></organizations>",
    '<resource identifier="r1" type="webcontent" adlcp:scormtype="sco" href="lesson1/index.html?start=1">'
    '<file href="lesson1/index.html"/></resource>',
)


def parse(files: dict[str, str | bytes]):
    return detect_and_parse(MemorySource(files))


def refusal(files: dict[str, str | bytes]) -> list[str]:
    with pytest.raises(PackageRejected) as refused:
        parse(files)
    return [problem.code for problem in refused.value.problems]


def test_a_sco_becomes_a_launch_with_its_1_2_settings() -> None:
    descriptor = parse({"imsmanifest.xml": ONE_SCO, "lesson1/index.html": ""})
    assert descriptor.standard is Standard.SCORM12
    assert descriptor.title == "Course"
    [launch] = descriptor.launches
    assert (launch.id, launch.title, launch.href, launch.kind) == (
        "i1",
        "Lesson 1",
        "lesson1/index.html",
        "sco",
    )
    assert launch.parameters == "?start=1&mode=review"
    assert launch.attributes["masteryscore"] == "80"
    assert launch.attributes["prerequisites"] == {"type": "aicc_script", "value": "i0"}
    assert launch.attributes["datafromlms"] == "level=2"
    assert launch.attributes["item_parameters"] == "?mode=review"


def test_the_manifest_structure_is_kept_as_json() -> None:
    metadata = parse({"imsmanifest.xml": ONE_SCO, "lesson1/index.html": ""}).metadata
    json.dumps(metadata)
    assert (metadata["version"], metadata["edition"], metadata["schemaversion"]) == ("1.2", None, "1.2")
    [organization] = metadata["organizations"]
    assert organization["items"][0]["maxtimeallowed"] == "00:30:00"
    assert metadata["resources"][0]["scorm_type"] == "sco"
    assert metadata["descriptor"] == "imsmanifest.xml"


def test_any_prefix_spelling_and_uppercase_scormtype_are_read() -> None:
    text = (
        '<cp:manifest identifier="m" xmlns:cp="http://www.imsproject.org/xsd/imscp_rootv1p1p2"'
        ' xmlns:a="http://www.adlnet.org/xsd/adlcp_rootv1p2">'
        '<cp:organizations default="o"><cp:organization identifier="o"><cp:title>T</cp:title>'
        '<cp:item identifier="i" identifierref="r"><cp:title>I</cp:title>'
        "<a:masteryscore>70</a:masteryscore></cp:item></cp:organization></cp:organizations>"
        '<cp:resources><cp:resource identifier="r" type="webcontent" a:SCORMTYPE="SCO" href="x.html"/>'
        "</cp:resources></cp:manifest>"
    )
    [launch] = parse({"imsmanifest.xml": text, "x.html": ""}).launches
    assert (launch.kind, launch.attributes["masteryscore"]) == ("sco", "70")


def test_a_manifest_without_namespaces_or_schemaversion_is_read_as_1_2() -> None:
    text = (
        '<manifest identifier="m"><organizations><organization identifier="o"><title>T</title>'
        '<item identifier="i" identifierref="r"><title>I</title></item></organization></organizations>'
        '<resources><resource identifier="r" type="webcontent" scormtype="sco" href="x.html"/></resources>'
        "</manifest>"
    )
    descriptor = parse({"imsmanifest.xml": text, "x.html": ""})
    assert descriptor.standard is Standard.SCORM12
    assert descriptor.metadata["version_evidence"] == "default"


def test_xml_base_chains_apply_to_launch_hrefs() -> None:
    text = manifest(
        '<organizations default="o"><organization identifier="o"><title>T</title>'
        '<item identifier="i" identifierref="r"><title>I</title></item></organization></organizations>',
        '<resource identifier="r" type="webcontent" adlcp:scormtype="sco" xml:base="sco1/"'
        ' href="start.html"/>',
        head=HEAD.replace('version="1"', 'version="1" xml:base="course/"'),
    ).replace("<resources>", '<resources xml:base="content">')
    [launch] = parse({"imsmanifest.xml": text, "course/content/sco1/start.html": ""}).launches
    assert launch.href == "course/content/sco1/start.html"
    assert launch.attributes["href"] == "course/content/sco1/start.html"


def test_a_package_of_assets_launches_every_item_that_references_one() -> None:
    text = manifest(
        '<organizations default="o"><organization identifier="o"><title>T</title>'
        '<item identifier="part"><title>Part</title>'
        '<item identifier="a" identifierref="ra"><title>A</title></item>'
        '<item identifier="b" identifierref="rb"><title>B</title></item></item>'
        "</organization></organizations>",
        '<resource identifier="ra" type="webcontent" adlcp:scormtype="asset" href="a.html"/>'
        '<resource identifier="rb" type="webcontent" adlcp:scormtype="asset" href="b.html"/>',
    )
    launches = parse({"imsmanifest.xml": text, "a.html": "", "b.html": ""}).launches
    assert [(launch.id, launch.kind) for launch in launches] == [("a", "asset"), ("b", "asset")]


def test_only_scos_launch_when_a_package_has_scos_and_assets() -> None:
    text = manifest(
        '<organizations default="o"><organization identifier="o"><title>T</title>'
        '<item identifier="a" identifierref="ra"><title>A</title></item>'
        '<item identifier="s" identifierref="rs"><title>S</title></item></organization></organizations>',
        '<resource identifier="ra" type="webcontent" adlcp:scormtype="asset" href="a.html"/>'
        '<resource identifier="rs" type="webcontent" adlcp:scormtype="sco" href="s.html"/>',
    )
    assert [
        launch.id for launch in parse({"imsmanifest.xml": text, "a.html": "", "s.html": ""}).launches
    ] == ["s"]


def test_items_that_reference_nothing_fall_back_to_the_first_resource() -> None:
    text = manifest(
        '<organizations default="o"><organization identifier="o"><title>T</title>'
        '<item identifier="a"><title>A</title></item></organization></organizations>',
        '<resource identifier="r" type="webcontent" adlcp:scormtype="asset" href="a.html"/>',
    )
    [launch] = parse({"imsmanifest.xml": text, "a.html": ""}).launches
    assert (launch.id, launch.href) == ("r", "a.html")


def test_the_default_organization_decides_the_launches() -> None:
    text = manifest(
        '<organizations default="second">'
        '<organization identifier="first"><title>First</title>'
        '<item identifier="a" identifierref="ra"><title>A</title></item></organization>'
        '<organization identifier="second"><title>Second</title>'
        '<item identifier="b" identifierref="rb"><title>B</title></item></organization></organizations>',
        '<resource identifier="ra" type="webcontent" adlcp:scormtype="sco" href="a.html"/>'
        '<resource identifier="rb" type="webcontent" adlcp:scormtype="sco" href="b.html"/>',
    )
    descriptor = parse({"imsmanifest.xml": text, "a.html": "", "b.html": ""})
    assert (descriptor.title, [launch.id for launch in descriptor.launches]) == ("Second", ["b"])


@pytest.mark.parametrize(
    ("organizations", "resources", "code"),
    [
        ("<organizations/>", "", "scorm.missing_organization"),
        (
            '<organizations default="nope"><organization identifier="o"><title>T</title>'
            '<item identifier="i" identifierref="r"/></organization></organizations>',
            '<resource identifier="r" type="webcontent" adlcp:scormtype="sco" href="x.html"/>',
            "scorm.default_organization_missing",
        ),
        (
            '<organizations><organization><item identifier="i" identifierref="r"/>'
            "</organization></organizations>",
            '<resource identifier="r" type="webcontent" adlcp:scormtype="sco" href="x.html"/>',
            "scorm.missing_identifier",
        ),
        (
            '<organizations><organization identifier="o"><item identifier="i" identifierref="r"/>'
            '<item identifier="i" identifierref="r"/></organization></organizations>',
            '<resource identifier="r" type="webcontent" adlcp:scormtype="sco" href="x.html"/>',
            "scorm.duplicate_identifier",
        ),
        (
            '<organizations><organization identifier="o"><item identifier="i" identifierref="r"/>'
            "</organization></organizations>",
            '<resource identifier="r" type="webcontent" adlcp:scormtype="sco" href="x.html"/>'
            '<resource identifier="r" type="webcontent" adlcp:scormtype="sco" href="x.html"/>',
            "scorm.duplicate_identifier",
        ),
        (
            '<organizations><organization identifier="o"><item identifier="i" identifierref="gone"/>'
            "</organization></organizations>",
            '<resource identifier="r" type="webcontent" adlcp:scormtype="sco" href="x.html"/>',
            "scorm.resource_not_found",
        ),
        (
            '<organizations><organization identifier="o"><item identifier="i" identifierref="r"/>'
            "</organization></organizations>",
            '<resource identifier="r" type="webcontent" adlcp:scormtype="sco">'
            '<file href="x.html"/></resource>',
            "scorm.missing_launch_href",
        ),
        (
            '<organizations><organization identifier="o"><item identifier="i"/>'
            "</organization></organizations>",
            "",
            "scorm.no_launchable_item",
        ),
        (
            '<organizations><organization identifier="o"><item identifier="i" identifierref="r">'
            "<adlcp:dataFromLMS>x</adlcp:dataFromLMS></item></organization></organizations>",
            '<resource identifier="r" type="webcontent" adlcp:scormtype="sco" href="x.html"/>',
            "scorm.unknown_element",
        ),
        (
            '<organizations><organization identifier="o"><item identifier="i" identifierref="r"/>'
            "</organization></organizations>",
            '<resource identifier="r" type="webcontent" adlcp:scormtype="sco" href="../x.html"/>',
            "launch.outside_package",
        ),
        (
            '<organizations><organization identifier="o"><item identifier="i" identifierref="r"/>'
            "</organization></organizations>",
            '<resource identifier="r" type="webcontent" adlcp:scormtype="sco" href="missing.html"/>',
            "launch.missing_file",
        ),
    ],
    ids=[
        "no-organization",
        "default-missing",
        "organization-without-identifier",
        "duplicate-item",
        "duplicate-resource",
        "dangling-identifierref",
        "sco-without-href",
        "nothing-launchable",
        "2004-element-in-1.2",
        "href-outside",
        "href-missing",
    ],
)
def test_what_an_lms_refuses_is_refused(organizations: str, resources: str, code: str) -> None:
    assert refusal({"imsmanifest.xml": manifest(organizations, resources), "x.html": ""})[0] == code


def test_the_unknown_element_detail_suggests_the_1_2_spelling() -> None:
    text = manifest(
        '<organizations><organization identifier="o"><item identifier="i" identifierref="r">'
        "<adlcp:dataFromLMS>x</adlcp:dataFromLMS></item></organization></organizations>",
        '<resource identifier="r" type="webcontent" adlcp:scormtype="sco" href="x.html"/>',
    )
    with pytest.raises(PackageRejected) as refused:
        parse({"imsmanifest.xml": text, "x.html": ""})
    assert "adlcp:datafromlms" in refused.value.problems[0].detail


def test_every_missing_launch_file_is_reported_at_once() -> None:
    text = manifest(
        '<organizations><organization identifier="o"><item identifier="a" identifierref="ra"/>'
        '<item identifier="b" identifierref="rb"/></organization></organizations>',
        '<resource identifier="ra" type="webcontent" adlcp:scormtype="sco" href="a.html"/>'
        '<resource identifier="rb" type="webcontent" adlcp:scormtype="sco" href="b.html"/>',
    )
    assert refusal({"imsmanifest.xml": text}) == ["launch.missing_file", "launch.missing_file"]


def test_titles_written_over_several_lines_read_as_one_line() -> None:
    text = ONE_SCO.replace("<title>Course</title>", "<title>\n   Golf\n   Explained  </title>")
    assert parse({"imsmanifest.xml": text, "lesson1/index.html": ""}).title == "Golf Explained"
