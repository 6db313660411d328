"""SCORM 2004 manifests: version and edition detection, sequencing kept verbatim."""

from __future__ import annotations

import json

import pytest

from content_service.domain.package import Standard
from content_service.standards import detect_and_parse
from content_service.standards.xml import parse_descriptor
from tests.memory_source import MemorySource

NAMESPACES = (
    'xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3"'
    ' xmlns:imsss="http://www.imsglobal.org/xsd/imsss" xmlns:adlseq="http://www.adlnet.org/xsd/adlseq_v1p3"'
    ' xmlns:adlnav="http://www.adlnet.org/xsd/adlnav_v1p3"'
)
SEQUENCING = (
    '<imsss:sequencing IDRef="common"><imsss:controlMode choice="false" flow="true"/>'
    '<imsss:objectives><imsss:primaryObjective objectiveID="p" satisfiedByMeasure="true">'
    "<imsss:minNormalizedMeasure>0.8</imsss:minNormalizedMeasure></imsss:primaryObjective></imsss:objectives>"
    '<adlseq:objectives><adlseq:objective objectiveID="p"><adlseq:mapInfo targetObjectiveID="g"'
    ' readCompletionStatus="true"/></adlseq:objective></adlseq:objectives></imsss:sequencing>'
)


def manifest(
    schemaversion: str | None = "2004 4th Edition", item_extra: str = "", scorm_type: str = "adlcp:scormType"
) -> str:
    metadata = (
        f"<metadata><schema>ADL SCORM</schema><schemaversion>{schemaversion}</schemaversion></metadata>"
        if schemaversion is not None
        else ""
    )
    return (
        f'<manifest identifier="m" version="1" {NAMESPACES}>{metadata}'
        '<organizations default="o"><organization identifier="o" adlseq:objectivesGlobalToSystem="false">'
        "<title>Course</title>"
        f'<item identifier="i" identifierref="r"><title>Lesson</title>{item_extra}</item>'
        '<imsss:sequencing><imsss:controlMode flow="true"/></imsss:sequencing>'
        "</organization></organizations>"
        f'<resources><resource identifier="r" type="webcontent" {scorm_type}="sco" href="sco.html?p=1"/>'
        "</resources>"
        '<imsss:sequencingCollection><imsss:sequencing ID="common">'
        '<imsss:rollupRules rollupObjectiveSatisfied="true"/>'
        "</imsss:sequencing></imsss:sequencingCollection></manifest>"
    )


def parse(text: str):
    return detect_and_parse(MemorySource({"imsmanifest.xml": text, "sco.html": ""}))


@pytest.mark.parametrize(
    ("schemaversion", "edition"),
    [
        ("2004 4th Edition", "4th"),
        ("2004 3rd Edition", "3rd"),
        ("CAM 1.3", "2nd"),
        ("2004 2nd Edition", "2nd"),
        (None, "2nd"),
    ],
)
def test_the_edition_is_recorded(schemaversion: str | None, edition: str) -> None:
    descriptor = parse(manifest(schemaversion))
    assert descriptor.standard is Standard.SCORM2004
    assert (descriptor.metadata["version"], descriptor.metadata["edition"]) == ("2004", edition)


def test_schemaversion_1_2_wins_over_a_2004_packaging_namespace() -> None:
    text = manifest("1.2").replace("adlcp_v1p3", "adlcp_rootv1p2")
    assert parse(text).standard is Standard.SCORM12


def test_sequencing_is_kept_verbatim_and_reparses() -> None:
    metadata = parse(manifest(item_extra=SEQUENCING)).metadata
    json.dumps(metadata)
    [organization] = metadata["organizations"]
    item = organization["items"][0]
    assert item["sequencing"] == SEQUENCING.replace(
        "<imsss:sequencing ",
        '<imsss:sequencing xmlns:adlseq="http://www.adlnet.org/xsd/adlseq_v1p3"'
        ' xmlns:imsss="http://www.imsglobal.org/xsd/imsss" ',
        1,
    )
    assert parse_descriptor(item["sequencing"].encode(), "fragment").root.get("IDRef") == "common"
    assert organization["sequencing"].startswith("<imsss:sequencing")
    assert organization["attributes"] == {"adlseq:objectivesGlobalToSystem": "false"}
    assert 'rollupObjectiveSatisfied="true"' in metadata["sequencing_collection"]


def test_adlcp_item_settings_reach_the_launch() -> None:
    extra = (
        "<adlcp:dataFromLMS>level=3</adlcp:dataFromLMS><adlcp:timeLimitAction>exit,message</adlcp:timeLimitAction>"
        '<adlcp:completionThreshold completedByMeasure="true" minProgressMeasure="0.75"/>'
        '<adlcp:data><adlcp:map targetID="notes" readSharedData="true"/></adlcp:data>'
        "<adlnav:presentation><adlnav:navigationInterface><adlnav:hideLMSUI>exit</adlnav:hideLMSUI>"
        "</adlnav:navigationInterface></adlnav:presentation>"
    )
    descriptor = parse(manifest(item_extra=extra))
    [launch] = descriptor.launches
    assert (launch.href, launch.parameters, launch.kind) == ("sco.html", "?p=1", "sco")
    assert launch.attributes["dataFromLMS"] == "level=3"
    assert launch.attributes["completionThreshold"] == {
        "completedByMeasure": "true",
        "minProgressMeasure": "0.75",
    }
    item = descriptor.metadata["organizations"][0]["items"][0]
    assert item["data"] == [{"targetID": "notes", "readSharedData": "true"}]
    assert "<adlnav:hideLMSUI>exit</adlnav:hideLMSUI>" in item["presentation"]


def test_a_misspelt_scormtype_is_still_read_as_a_sco() -> None:
    [launch] = parse(manifest(scorm_type="adlcp:scormtype")).launches
    assert launch.kind == "sco"


def test_a_resource_without_scormtype_is_an_asset() -> None:
    [launch] = parse(manifest().replace(' adlcp:scormType="sco"', "")).launches
    assert launch.kind == "asset"


def test_resources_of_a_sub_manifest_can_be_referenced() -> None:
    text = (
        manifest()
        .replace(
            "</resources>",
            '</resources><manifest identifier="sub" xml:base="sub/"><resources>'
            '<resource identifier="subres" type="webcontent" adlcp:scormType="sco" href="page.html"/>'
            "</resources></manifest>",
        )
        .replace('identifierref="r"', 'identifierref="subres"')
    )
    descriptor = detect_and_parse(MemorySource({"imsmanifest.xml": text, "sub/page.html": ""}))
    assert [launch.href for launch in descriptor.launches] == ["sub/page.html"]
    assert descriptor.metadata["submanifests"] == ["sub"]
