"""Descriptors shaped like common authoring tools' exports (written for these tests).

They are not copies of any tool's output; they reproduce the shapes that matter: LOM
metadata inline, shared-asset resources without href, sequencing on every item, launch
pages with query strings, ``lang="und"``, nested resource folders and encoded spaces.
"""

from __future__ import annotations

from content_service.domain.package import Standard
from content_service.standards import detect_and_parse
from tests.memory_source import MemorySource

SCORM2004_SINGLE_SCO_WITH_SEQUENCING = """<?xml version="1.0" encoding="utf-8" standalone="no"?>
<manifest identifier="Course_ID1_ORG" version="1.0"
  xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3"
  xmlns:adlseq="http://www.adlnet.org/xsd/adlseq_v1p3"
  xmlns:adlnav="http://www.adlnet.org/xsd/adlnav_v1p3"
  xmlns:imsss="http://www.imsglobal.org/xsd/imsss"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.imsglobal.org/xsd/imscp_v1p1 imscp_v1p1.xsd">
  <metadata>
    <schema>ADL SCORM</schema>
    <schemaversion>2004 4th Edition</schemaversion>
  </metadata>
  <organizations default="Course_ID1_ORG">
    <organization identifier="Course_ID1_ORG" adlseq:objectivesGlobalToSystem="false">
      <title>Safety Basics: Ladders &amp; Lifts</title>
      <item identifier="Course_ID1_ORG_SCO" identifierref="Course_ID1_RES" isvisible="true">
        <title>Safety Basics: Ladders &amp; Lifts</title>
        <imsss:sequencing>
          <imsss:deliveryControls completionSetByContent="true" objectiveSetByContent="true"/>
        </imsss:sequencing>
      </item>
      <imsss:sequencing>
        <imsss:controlMode choice="true" flow="true"/>
      </imsss:sequencing>
    </organization>
  </organizations>
  <resources>
    <resource identifier="Course_ID1_RES" type="webcontent" href="index_lms.html" adlcp:scormType="sco">
      <file href="index_lms.html"/>
      <dependency identifierref="Course_ID1_COMMON"/>
    </resource>
    <resource identifier="Course_ID1_COMMON" type="webcontent" adlcp:scormType="asset">
      <file href="story_content/data.js"/>
    </resource>
  </resources>
</manifest>
"""

SCORM12_WITH_INLINE_LOM = """<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="MANIFEST-7A3F" version="1.3"
  xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2"
  xmlns:imsmd="http://www.imsglobal.org/xsd/imsmd_rootv1p2p1">
  <metadata>
    <schema>ADL SCORM</schema>
    <schemaversion>1.2</schemaversion>
    <imsmd:lom>
      <imsmd:general>
        <imsmd:title><imsmd:langstring xml:lang="de-DE">Einführung</imsmd:langstring></imsmd:title>
        <imsmd:language>de-DE</imsmd:language>
      </imsmd:general>
    </imsmd:lom>
  </metadata>
  <organizations default="ORG-1">
    <organization identifier="ORG-1">
      <title>Einführung in die Arbeitssicherheit</title>
      <item identifier="ITEM-1" identifierref="RES-1" isvisible="true">
        <title>Einführung in die Arbeitssicherheit</title>
        <adlcp:masteryscore>80</adlcp:masteryscore>
      </item>
    </organization>
  </organizations>
  <resources>
    <resource identifier="RES-1" type="webcontent" adlcp:scormtype="sco" href="index_scorm.html">
      <file href="index_scorm.html"/>
    </resource>
  </resources>
</manifest>
"""

SCORM12_XML_BASE_AND_SPACES = """<manifest identifier="m" xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">
  <organizations default="o"><organization identifier="o"><title>Pages</title>
    <item identifier="i" identifierref="r"><title>Page one</title></item>
  </organization></organizations>
  <resources xml:base="html5/">
    <resource identifier="r" type="webcontent" adlcp:scormtype="sco" xml:base="data/"
      href="a001%20page%20one.html"/>
  </resources>
</manifest>
"""

TINCAN_UND = """\ufeff<?xml version="1.0" encoding="utf-8" standalone="yes"?>
<tincan xmlns="http://projecttincan.com/tincan.xsd">
  <activities>
    <activity id="http://x3Abc_course_id" type="http://adlnet.gov/expapi/activities/course">
      <name>Onboarding</name>
      <description lang="und">Welcome aboard</description>
      <launch lang="und">index.html</launch>
    </activity>
    <activity id="http://x3Abc_course_id/q1" type="http://adlnet.gov/expapi/activities/cmi.interaction">
      <name>Question 1</name>
    </activity>
  </activities>
</tincan>
"""

CMI5_NESTED_FOLDER = """<?xml version="1.0" encoding="utf-8"?>
<courseStructure xmlns="https://w3id.org/xapi/profiles/cmi5/v1/CourseStructure.xsd"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <course id="https://example.org/courses/7b1d">
    <title><langstring lang="en">Data Privacy</langstring></title>
    <description><langstring lang="en">Annual refresher</langstring></description>
  </course>
  <au id="https://example.org/courses/7b1d/au/1" moveOn="CompletedOrPassed" masteryScore="0.8"
      launchMethod="AnyWindow">
    <title><langstring lang="en">Data Privacy</langstring></title>
    <description><langstring lang="en">Annual refresher</langstring></description>
    <url>res/index.html</url>
  </au>
</courseStructure>
"""


def test_a_single_sco_2004_export_with_shared_assets_and_sequencing() -> None:
    descriptor = detect_and_parse(
        MemorySource(
            {
                "imsmanifest.xml": SCORM2004_SINGLE_SCO_WITH_SEQUENCING,
                "index_lms.html": "",
                "story_content/data.js": "",
            }
        )
    )
    assert (descriptor.standard, descriptor.metadata["edition"]) == (Standard.SCORM2004, "4th")
    assert descriptor.title == "Safety Basics: Ladders & Lifts"
    [launch] = descriptor.launches
    assert (launch.href, launch.kind) == ("index_lms.html", "sco")
    item = descriptor.metadata["organizations"][0]["items"][0]
    assert "deliveryControls" in item["sequencing"]


def test_a_1_2_export_with_inline_lom_metadata() -> None:
    descriptor = detect_and_parse(
        MemorySource({"imsmanifest.xml": SCORM12_WITH_INLINE_LOM, "index_scorm.html": ""})
    )
    assert (descriptor.standard, descriptor.title, descriptor.language) == (
        Standard.SCORM12,
        "Einführung in die Arbeitssicherheit",
        "de-DE",
    )
    assert descriptor.launches[0].attributes["masteryscore"] == "80"


def test_xml_base_folders_and_encoded_spaces() -> None:
    source = MemorySource(
        {"imsmanifest.xml": SCORM12_XML_BASE_AND_SPACES, "html5/data/a001 page one.html": ""}
    )
    assert [launch.href for launch in detect_and_parse(source).launches] == ["html5/data/a001 page one.html"]


def test_a_tincan_export_with_undetermined_language_and_question_activities() -> None:
    descriptor = detect_and_parse(MemorySource({"tincan.xml": TINCAN_UND.encode(), "index.html": ""}))
    assert (descriptor.title, descriptor.language, len(descriptor.launches)) == ("Onboarding", "und", 1)


def test_a_cmi5_export_with_its_content_in_a_folder() -> None:
    descriptor = detect_and_parse(MemorySource({"cmi5.xml": CMI5_NESTED_FOLDER, "res/index.html": ""}))
    [launch] = descriptor.launches
    assert (launch.href, launch.attributes["masteryScore"], descriptor.language) == (
        "res/index.html",
        0.8,
        "en",
    )
