"""Multi-part source courses with structure, written by the tests: SCORM 1.2 and SCORM 2004.

Their pages are plain HTML that never call a runtime themselves, so the browser tests can
drive every part through the injected bridge. Each manifest uses what the exporter must keep:

- SCORM 1.2: an aggregation item, an item that launches and has a child, and every adlcp item
  setting (prerequisites, maxtimeallowed, timelimitaction, datafromlms, masteryscore).
- SCORM 2004 4th edition: nested items, a hidden aggregation, sequencing on the organization
  and on items (objectives, rules, an IDRef into the sequencingCollection), completionThreshold,
  dataFromLMS, timeLimitAction, adlnav presentation and adlcp data maps.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1><p>Part {name} of the structured course.</p></body></html>
"""

SCORM12_PARTS = {
    "intro": "Introduction",
    "lesson1": "Lesson 1",
    "lesson2": "Lesson 2",
    "quiz": "Quiz",
    "review": "Review",
}

SCORM12_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="structured12" version="1.0"
    xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
    xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">
  <metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>
  <organizations default="course12">
    <organization identifier="course12">
      <title>Structured course 1.2</title>
      <item identifier="intro" identifierref="r_intro">
        <title>Introduction</title>
        <adlcp:maxtimeallowed>00:30:00</adlcp:maxtimeallowed>
        <adlcp:timelimitaction>exit,message</adlcp:timelimitaction>
        <adlcp:datafromlms>mode=intro</adlcp:datafromlms>
        <adlcp:masteryscore>70</adlcp:masteryscore>
      </item>
      <item identifier="unit1">
        <title>Unit 1</title>
        <item identifier="lesson1" identifierref="r_lesson1">
          <title>Lesson 1</title>
          <adlcp:prerequisites type="aicc_script">intro</adlcp:prerequisites>
        </item>
        <item identifier="lesson2" identifierref="r_lesson2">
          <title>Lesson 2</title>
          <adlcp:prerequisites type="aicc_script">intro &amp; lesson1</adlcp:prerequisites>
          <adlcp:datafromlms>level=2</adlcp:datafromlms>
        </item>
      </item>
      <item identifier="quiz" identifierref="r_quiz">
        <title>Quiz</title>
        <item identifier="review" identifierref="r_review" isvisible="false">
          <title>Review</title>
        </item>
        <adlcp:prerequisites type="aicc_script">unit1</adlcp:prerequisites>
        <adlcp:masteryscore>80</adlcp:masteryscore>
      </item>
    </organization>
  </organizations>
  <resources>
{resources}
  </resources>
</manifest>
"""

SCORM2004_PARTS = {"start": "Start", "topic_a": "Topic A", "topic_b": "Topic B", "exam": "Exam"}

SCORM2004_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="structured2004" version="1"
    xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"
    xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3"
    xmlns:adlseq="http://www.adlnet.org/xsd/adlseq_v1p3"
    xmlns:adlnav="http://www.adlnet.org/xsd/adlnav_v1p3"
    xmlns:imsss="http://www.imsglobal.org/xsd/imsss">
  <metadata><schema>ADL SCORM</schema><schemaversion>2004 4th Edition</schemaversion></metadata>
  <organizations default="course2004">
    <organization identifier="course2004" adlseq:objectivesGlobalToSystem="false">
      <title>Structured course 2004</title>
      <item identifier="start" identifierref="r_start">
        <title>Start</title>
        <adlcp:dataFromLMS>welcome=1</adlcp:dataFromLMS>
        <adlcp:completionThreshold completedByMeasure="true" minProgressMeasure="0.6"/>
        <adlnav:presentation>
          <adlnav:navigationInterface><adlnav:hideLMSUI>previous</adlnav:hideLMSUI></adlnav:navigationInterface>
        </adlnav:presentation>
      </item>
      <item identifier="topics" isvisible="false">
        <title>Topics</title>
        <item identifier="topic_a" identifierref="r_topic_a">
          <title>Topic A</title>
          <adlcp:timeLimitAction>continue,message</adlcp:timeLimitAction>
          <imsss:sequencing IDRef="content_rules">
            <imsss:objectives>
              <imsss:primaryObjective objectiveID="topic_a_done">
                <imsss:mapInfo targetObjectiveID="structured2004.topic_a" readSatisfiedStatus="true"/>
              </imsss:primaryObjective>
            </imsss:objectives>
          </imsss:sequencing>
          <adlcp:data><adlcp:map targetID="structured2004.notes" readSharedData="true" writeSharedData="true"/></adlcp:data>
        </item>
        <item identifier="topic_b" identifierref="r_topic_b">
          <title>Topic B</title>
          <imsss:sequencing IDRef="content_rules"/>
        </item>
        <imsss:sequencing>
          <imsss:controlMode choice="false" flow="true"/>
          <imsss:sequencingRules>
            <imsss:postConditionRule>
              <imsss:ruleConditions><imsss:ruleCondition condition="satisfied"/></imsss:ruleConditions>
              <imsss:ruleAction action="exitParent"/>
            </imsss:postConditionRule>
          </imsss:sequencingRules>
        </imsss:sequencing>
      </item>
      <item identifier="exam" identifierref="r_exam">
        <title>Exam</title>
        <imsss:sequencing>
          <imsss:limitConditions attemptLimit="2"/>
          <imsss:objectives>
            <imsss:primaryObjective objectiveID="exam_passed" satisfiedByMeasure="true">
              <imsss:minNormalizedMeasure>0.75</imsss:minNormalizedMeasure>
            </imsss:primaryObjective>
          </imsss:objectives>
          <imsss:deliveryControls completionSetByContent="true" objectiveSetByContent="true"/>
        </imsss:sequencing>
      </item>
      <imsss:sequencing>
        <imsss:controlMode choice="true" flow="true"/>
      </imsss:sequencing>
    </organization>
  </organizations>
  <resources>
{resources}
  </resources>
  <imsss:sequencingCollection>
    <imsss:sequencing ID="content_rules">
      <imsss:deliveryControls tracked="true" completionSetByContent="true"/>
    </imsss:sequencing>
  </imsss:sequencingCollection>
</manifest>
"""


def _write(path: Path, manifest: str, parts: dict[str, str], type_attribute: str) -> Path:
    resources = "\n".join(
        f'    <resource identifier="r_{name}" type="webcontent" adlcp:{type_attribute}="sco"'
        f' href="pages/{name}.html"><file href="pages/{name}.html"/></resource>'
        for name in parts
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("imsmanifest.xml", manifest.replace("{resources}", resources))
        for name, title in parts.items():
            archive.writestr(f"pages/{name}.html", PAGE.format(title=title, name=name))
        archive.writestr("pages/style.css", "body { font-family: sans-serif; }\n")
    return path


def scorm12_course(path: Path) -> Path:
    """A structured SCORM 1.2 course with five SCOs."""
    return _write(path, SCORM12_MANIFEST, SCORM12_PARTS, "scormtype")


def scorm2004_course(path: Path) -> Path:
    """A structured SCORM 2004 4th edition course with four SCOs and sequencing."""
    return _write(path, SCORM2004_MANIFEST, SCORM2004_PARTS, "scormType")
