"""Exports keep the source's structure: SCORM item trees and settings, cmi5 blocks, an xAPI course.

Each test exports a structured source (tests/export/courses.py, or a real sequencing package
from the conformance material), imports the export again with our own importer, and compares
the structure it reads back with the source's. Every export also passes the official XSDs
(the tests' copy) and the exporter's own checks.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from defusedxml.ElementTree import fromstring

from content_service.domain.package import PackageManifest
from content_service.standards.export import ExportError, ExportOptions, export_package, zip_reader
from content_service.standards.export.checks import DESCRIPTORS, check_export
from content_service.standards.export.options import ExportFormat
from tests.conformance_data import PACKAGES
from tests.export.conftest import FORMATS, Exporter
from tests.export.courses import SCORM12_PARTS, SCORM2004_PARTS, scorm12_course, scorm2004_course
from tests.export.schemas import xsd_errors

GOLF_REMEDIATION = PACKAGES / "scorm2004" / "golf_SequencingSimpleRemediation_SCORM20043rdEdition.zip"
IMSSS = "{http://www.imsglobal.org/xsd/imsss}"
CP2004 = "{http://www.imsglobal.org/xsd/imscp_v1p1}"

ManifestOf = Callable[[Path], PackageManifest]

# What an item of the import's organization tree holds that the export must give back as it was.
KEPT_12 = ("identifier", "title", "isvisible", "prerequisites", "masteryscore", "maxtimeallowed",
           "timelimitaction", "datafromlms")  # fmt: skip
KEPT_2004 = ("identifier", "title", "isvisible", "sequencing", "presentation", "dataFromLMS",
             "timeLimitAction", "completionThreshold", "data")  # fmt: skip


@pytest.fixture(scope="module")
def course12(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scorm12_course(tmp_path_factory.mktemp("courses") / "structured12.zip")


@pytest.fixture(scope="module")
def course2004(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scorm2004_course(tmp_path_factory.mktemp("courses") / "structured2004.zip")


def _tree(items: list[dict[str, Any]], kept: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {**{key: item.get(key) for key in kept}, "children": _tree(item["children"], kept)} for item in items
    ]


def _organization(manifest: PackageManifest) -> dict[str, Any]:
    wanted = manifest.metadata["default_organization"]
    return next(org for org in manifest.metadata["organizations"] if org["identifier"] == wanted)


def _descriptor(path: Path, fmt: str) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read(DESCRIPTORS[ExportFormat(fmt)])


def _assert_conforms(path: Path, fmt: str) -> None:
    with zipfile.ZipFile(path) as archive:
        names = frozenset(archive.namelist())
    document = _descriptor(path, fmt)
    assert xsd_errors(fmt, document) == []
    assert check_export(ExportFormat(fmt), document, names) == []


@pytest.mark.parametrize("source", ["crafted", "golf-remediation"])
def test_scorm2004_to_2004_keeps_the_tree_and_every_sequencing_fragment_verbatim(
    source: str, course2004: Path, export: Exporter, manifest_of: ManifestOf
) -> None:
    source_zip = course2004 if source == "crafted" else GOLF_REMEDIATION
    original = manifest_of(source_zip)
    exported = export(source_zip, "scorm2004")
    _assert_conforms(exported, "scorm2004")
    again = manifest_of(exported)

    before, after = _organization(original), _organization(again)
    assert _tree(after["items"], KEPT_2004) == _tree(before["items"], KEPT_2004)
    assert after["identifier"] == before["identifier"]
    assert after["sequencing"] == before["sequencing"]
    assert after["attributes"] == before["attributes"]
    assert again.metadata["sequencing_collection"] == original.metadata["sequencing_collection"]
    assert again.metadata["manifest_identifier"] == original.metadata["manifest_identifier"]
    assert [(launch.id, launch.href, launch.parameters) for launch in again.launches] == [
        (launch.id, launch.href, launch.parameters) for launch in original.launches
    ]


def test_the_crafted_2004_course_really_carries_what_the_comparison_checks(
    course2004: Path, manifest_of: ManifestOf
) -> None:
    # Guards the test above against comparing empty trees with empty trees.
    organization = _organization(manifest_of(course2004))
    topics = organization["items"][1]
    assert topics["isvisible"] is False and "controlMode" in topics["sequencing"]
    assert 'IDRef="content_rules"' in topics["children"][0]["sequencing"]
    assert organization["items"][0]["presentation"] and organization["items"][0]["completionThreshold"]
    assert 'ID="content_rules"' in manifest_of(course2004).metadata["sequencing_collection"]


def test_scorm12_to_12_keeps_prerequisites_masteryscore_datafromlms_and_the_tree(
    course12: Path, export: Exporter, manifest_of: ManifestOf
) -> None:
    original = manifest_of(course12)
    exported = export(course12, "scorm12")
    _assert_conforms(exported, "scorm12")
    again = manifest_of(exported)

    assert _tree(_organization(again)["items"], KEPT_12) == _tree(_organization(original)["items"], KEPT_12)
    lesson2 = _organization(again)["items"][1]["children"][1]
    assert lesson2["prerequisites"] == {"type": "aicc_script", "value": "intro & lesson1"}
    assert lesson2["datafromlms"] == "level=2"
    by_id = {launch.id: launch for launch in again.launches}
    assert by_id["intro"].attributes["masteryscore"] == "70"
    assert by_id["quiz"].attributes["masteryscore"] == "80"
    assert [launch.id for launch in again.launches] == list(SCORM12_PARTS)


def test_an_explicit_mastery_score_fills_only_the_items_that_have_none(
    course12: Path, export: Exporter, manifest_of: ManifestOf
) -> None:
    again = manifest_of(export(course12, "scorm12", ExportOptions(mastery_score=0.5)))
    scores = {launch.id: launch.attributes.get("masteryscore") for launch in again.launches}
    assert scores == {"intro": "70", "lesson1": "50", "lesson2": "50", "quiz": "80", "review": "50"}


def test_scorm12_to_2004_keeps_the_tree_and_gives_a_launching_parent_its_own_leaf(
    course12: Path, export: Exporter, manifest_of: ManifestOf
) -> None:
    exported = export(course12, "scorm2004")
    _assert_conforms(exported, "scorm2004")
    organization = _organization(manifest_of(exported))
    assert [item["identifier"] for item in organization["items"]] == ["intro", "unit1", "quiz"]
    assert [child["identifier"] for child in organization["items"][1]["children"]] == ["lesson1", "lesson2"]
    quiz = organization["items"][2]
    # 2004 lets only leaves reference a resource: the quiz's own part is its first child.
    assert quiz["identifierref"] is None
    assert [child["identifier"] for child in quiz["children"]] == ["quiz_content", "review"]
    assert quiz["children"][1]["isvisible"] is False
    intro = organization["items"][0]
    assert intro["dataFromLMS"] == "mode=intro" and intro["timeLimitAction"] == "exit,message"
    root = fromstring(_descriptor(exported, "scorm2004"))
    measures = {
        item.get("identifier"): item.findtext(f".//{IMSSS}minNormalizedMeasure")
        for item in root.iter(f"{CP2004}item")
    }
    # 1.2's masteryscore (0..100) becomes the primary objective's measure (0..1).
    assert measures["intro"] == "0.7" and measures["quiz_content"] == "0.8"
    assert measures["lesson1"] is None


def test_scorm2004_to_12_keeps_the_tree_and_maps_the_measure_to_masteryscore(
    course2004: Path, export: Exporter, manifest_of: ManifestOf
) -> None:
    exported = export(course2004, "scorm12")
    _assert_conforms(exported, "scorm12")
    again = manifest_of(exported)
    organization = _organization(again)
    assert [item["identifier"] for item in organization["items"]] == ["start", "topics", "exam"]
    assert organization["items"][1]["isvisible"] is False
    assert [child["identifier"] for child in organization["items"][1]["children"]] == ["topic_a", "topic_b"]
    by_id = {launch.id: launch for launch in again.launches}
    assert by_id["exam"].attributes["masteryscore"] == "75"
    assert by_id["start"].attributes["datafromlms"] == "welcome=1"
    assert by_id["topic_a"].attributes["timelimitaction"] == "continue,message"
    assert b"imsss" not in _descriptor(exported, "scorm12"), "1.2 has no sequencing"


@pytest.mark.parametrize("source", ["crafted12", "crafted2004"])
def test_cmi5_export_turns_aggregations_into_blocks(
    source: str, course12: Path, course2004: Path, export: Exporter, manifest_of: ManifestOf
) -> None:
    exported = export(course12 if source == "crafted12" else course2004, "cmi5")
    _assert_conforms(exported, "cmi5")
    structure = manifest_of(exported).metadata["structure"]

    def shape(nodes: list[dict[str, Any]]) -> list[Any]:
        return [
            node["title"][0]["value"]
            if node["type"] == "au"
            else {node["title"][0]["value"]: shape(node["children"])}
            for node in nodes
        ]

    if source == "crafted12":
        assert shape(structure) == [
            "Introduction",
            {"Unit 1": ["Lesson 1", "Lesson 2"]},
            {"Quiz": ["Quiz", "Review"]},
        ]
    else:
        assert shape(structure) == ["Start", {"Topics": ["Topic A", "Topic B"]}, "Exam"]


def test_cmi5_to_cmi5_keeps_the_course_id_and_each_au_s_move_on(
    export: Exporter, manifest_of: ManifestOf
) -> None:
    source = PACKAGES / "cmi5" / "catapult_multi_au_framed.zip"
    original = manifest_of(source)
    again = manifest_of(export(source, "cmi5"))
    assert again.metadata["course"]["id"] == original.metadata["course"]["id"]
    assert [(launch.id, launch.attributes["moveOn"]) for launch in again.launches] == [
        (launch.id, launch.attributes["moveOn"]) for launch in original.launches
    ]


def test_an_xapi_course_of_several_parts_launches_a_page_that_links_every_part(
    course12: Path, export: Exporter, manifest_of: ManifestOf
) -> None:
    exported = export(course12, "xapi")
    _assert_conforms(exported, "xapi")
    root = fromstring(_descriptor(exported, "xapi"))
    ns = "{http://projecttincan.com/tincan.xsd}"
    activities = root.findall(f"{ns}activities/{ns}activity")
    course, parts = activities[0], activities[1:]
    assert course.get("type") == "http://adlnet.gov/expapi/activities/course"
    assert course.findtext(f"{ns}launch") == "content-launcher.html"
    assert all(part.find(f"{ns}launch") is None for part in parts)
    assert [part.findtext(f"{ns}name") for part in parts] == list(SCORM12_PARTS.values())

    with zipfile.ZipFile(exported) as archive:
        launcher = archive.read("content-launcher.html").decode()
        links = re.findall(r'<a href="([^"]+)" data-activity="([^"]+)">', launcher)
        # Every part is linked, by its own activity id, and its page is in the package.
        assert [activity for _, activity in links] == [part.get("id") for part in parts]
        assert all(href in archive.namelist() for href, _ in links)
        assert b'data-course="' + course.get("id").encode() + b'"' in archive.read("pages/lesson1.html")
    # The launcher shows the outline: Unit 1 holds its lessons.
    assert re.search(r"<span>Unit 1</span>\s*<ul>\s*<li><a href=\"pages/lesson1.html\"", launcher)


def test_an_xapi_export_of_one_activity_keeps_its_id_and_needs_no_launcher(
    export: Exporter, manifest_of: ManifestOf
) -> None:
    source = PACKAGES / "xapi" / "tincan_prototypes_GolfExample_TCAPI.zip"
    exported = export(source, "xapi")
    with zipfile.ZipFile(exported) as archive:
        assert "content-launcher.html" not in archive.namelist()
    assert [launch.id for launch in manifest_of(exported).launches] == [
        "http://id.tincanapi.com/activity/tincan-prototypes/golf-example"
    ]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("source", ["crafted12", "crafted2004", "golf-remediation"])
def test_every_structured_export_passes_the_official_schemas_and_reaches_every_part(
    fmt: str, source: str, course12: Path, course2004: Path, export: Exporter, manifest_of: ManifestOf
) -> None:
    source_zip = {"crafted12": course12, "crafted2004": course2004, "golf-remediation": GOLF_REMEDIATION}[
        source
    ]
    exported = export(source_zip, fmt)
    _assert_conforms(exported, fmt)
    original = manifest_of(source_zip)
    again = manifest_of(exported)
    if fmt == "xapi":
        parts = again.metadata["activities"][1:]
        assert [part["name"][0]["value"] for part in parts] == [launch.title for launch in original.launches]
    else:
        assert [(launch.href, launch.parameters) for launch in again.launches] == [
            (launch.href, launch.parameters) for launch in original.launches
        ]
    if source == "crafted2004":
        assert [launch.title for launch in original.launches] == list(SCORM2004_PARTS.values())


def _with_stub_pages(source: Path, out: Path) -> Path:
    """The ADL test-suite manifest with a stub page for every file its resources name.

    The ADL CTS ships these manifests without their content; their sequencing is the richest
    real sequencing there is, so the pages are stubbed in to make them build.
    """
    manifest = zipfile.ZipFile(source).read("imsmanifest.xml")
    xml_base = "{http://www.w3.org/XML/1998/namespace}base"
    names = set()
    for resource in fromstring(manifest).iter(f"{CP2004}resource"):
        base = resource.get(xml_base) or ""
        for node in [resource, *resource]:
            if node.get("href"):
                names.add(base + node.get("href").split("?")[0].split("#")[0])
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("imsmanifest.xml", manifest)
        for name in sorted(names):
            archive.writestr(name, "<html><head><title>stub</title></head><body>stub</body></html>")
    return out


@pytest.mark.parametrize(
    "name", sorted(path.stem for path in (PACKAGES / "scorm2004" / "adl_cts").glob("*.zip"))
)
def test_the_adl_test_suite_s_sequencing_survives_a_2004_export_verbatim(
    name: str, tmp_path: Path, export: Exporter, manifest_of: ManifestOf
) -> None:
    source = _with_stub_pages(PACKAGES / "scorm2004" / "adl_cts" / f"{name}.zip", tmp_path / f"{name}.zip")
    original = manifest_of(source)
    exported = export(source, "scorm2004")
    _assert_conforms(exported, "scorm2004")
    again = manifest_of(exported)
    assert _tree(_organization(again)["items"], KEPT_2004) == _tree(
        _organization(original)["items"], KEPT_2004
    )
    assert _organization(again)["sequencing"] == _organization(original)["sequencing"]
    assert again.metadata["sequencing_collection"] == original.metadata["sequencing_collection"]
    assert (
        any(item.get("sequencing") for item in _organization(original)["items"])
        or _organization(original)["sequencing"]
    ), "the test needs a manifest with sequencing"


def test_a_source_whose_own_sequencing_breaks_the_schema_is_refused_not_a_crash(
    course2004: Path, tmp_path: Path, manifest_of: ManifestOf
) -> None:
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(course2004) as source, zipfile.ZipFile(broken, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "imsmanifest.xml":
                data = data.replace(
                    b'<imsss:controlMode choice="true" flow="true"/>', b'<imsss:controlMode choice="maybe"/>'
                )
            target.writestr(info, data)
    manifest = manifest_of(broken)
    with zip_reader(broken) as read_file, pytest.raises(ExportError) as refused:
        export_package(manifest, read_file, "scorm2004", out=tmp_path / "out.zip")
    assert refused.value.status == 422
    assert "scorm2004 settings" in refused.value.detail and "choice" in refused.value.detail
    assert not (tmp_path / "out.zip").exists()
    # The same package still exports to 1.2, which does not carry 2004 sequencing.
    with zip_reader(broken) as read_file:
        export_package(manifest, read_file, "scorm12", out=tmp_path / "out12.zip")


def test_an_asset_item_beside_scos_stays_an_item_that_opens_its_asset(
    course2004: Path, tmp_path: Path, export: Exporter, manifest_of: ManifestOf
) -> None:
    with_asset = tmp_path / "with-asset.zip"
    handout_item = (
        b'<item identifier="handout" identifierref="r_handout"><title>Handout</title></item>\n      '
    )
    handout_resource = (
        b'<resource identifier="r_handout" type="webcontent" adlcp:scormType="asset" href="docs/handout.pdf">'
        b'<file href="docs/handout.pdf"/></resource>\n  </resources>'
    )
    with zipfile.ZipFile(course2004) as source, zipfile.ZipFile(with_asset, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "imsmanifest.xml":
                data = data.replace(b'<item identifier="exam"', handout_item + b'<item identifier="exam"', 1)
                data = data.replace(b"</resources>", handout_resource, 1)
            target.writestr(info, data)
        target.writestr("docs/handout.pdf", b"%PDF-1.4 handout")
    # The handout is no launch (the package has SCOs), but the exported tree still opens it.
    assert [launch.id for launch in manifest_of(with_asset).launches] == list(SCORM2004_PARTS)
    for fmt in ("scorm2004", "scorm12"):
        exported = export(with_asset, fmt)
        _assert_conforms(exported, fmt)
        cp = CP2004 if fmt == "scorm2004" else "{http://www.imsproject.org/xsd/imscp_rootv1p1p2}"
        root = fromstring(_descriptor(exported, fmt))
        item = next(node for node in root.iter(f"{cp}item") if node.get("identifier") == "handout")
        resource = next(
            node for node in root.iter(f"{cp}resource") if node.get("identifier") == item.get("identifierref")
        )
        assert resource.get("href") == "docs/handout.pdf"
        assert [value for key, value in resource.attrib.items() if key.lower().endswith("scormtype")] == [
            "asset"
        ]
