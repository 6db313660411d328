"""Every exported descriptor validates against the official XSDs and passes the exporter's own checks."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from defusedxml.ElementTree import fromstring

from content_service.standards.export import ExportOptions, MoveOn, Reporting
from content_service.standards.export.checks import DESCRIPTORS, check_export
from content_service.standards.export.options import ExportFormat
from tests.export.conftest import CONFORMANCE_SOURCES, FORMATS, Exporter, source_path
from tests.export.schemas import xsd_errors

OPTION_SETS = {
    "defaults": ExportOptions(),
    "passed-failed-mastery": ExportOptions(
        reporting=Reporting.PASSED_FAILED, mastery_score=0.8, completion_threshold=0.75, language="de-CH"
    ),
    "named": ExportOptions(
        identifier="https://example.org/courses/welcome course",
        title="Ein Kurs & <mehr>",
        reporting=Reporting.COMPLETED_FAILED,
        move_on=MoveOn.COMPLETED_AND_PASSED,
        mastery_score=0.655,
    ),
    "plain-identifier": ExportOptions(identifier="1 not an NCName", reporting=Reporting.PASSED_INCOMPLETE),
}


def descriptor(path: Path, fmt: str) -> tuple[bytes, frozenset[str]]:
    with zipfile.ZipFile(path) as archive:
        return archive.read(DESCRIPTORS[ExportFormat(fmt)]), frozenset(archive.namelist())


@pytest.mark.parametrize("options", sorted(OPTION_SETS))
@pytest.mark.parametrize("fmt", FORMATS)
def test_the_native_sample_exports_valid_descriptors(
    fmt: str, options: str, export: Exporter, sample_zip: Path
) -> None:
    data, names = descriptor(export(sample_zip, fmt, OPTION_SETS[options]), fmt)
    assert xsd_errors(fmt, data) == []
    assert check_export(ExportFormat(fmt), data, names) == []


@pytest.mark.parametrize("source", sorted(CONFORMANCE_SOURCES))
@pytest.mark.parametrize("fmt", FORMATS)
def test_imported_packages_export_valid_descriptors(
    fmt: str, source: str, export: Exporter, sample_zip: Path
) -> None:
    data, names = descriptor(export(source_path(source, sample_zip), fmt), fmt)
    assert xsd_errors(fmt, data) == []
    assert check_export(ExportFormat(fmt), data, names) == []


def test_the_mastery_score_is_written_where_each_standard_reads_it(
    export: Exporter, sample_zip: Path
) -> None:
    options = ExportOptions(mastery_score=0.655, completion_threshold=0.5)
    scorm12, _ = descriptor(export(sample_zip, "scorm12", options), "scorm12")
    scorm2004, _ = descriptor(export(sample_zip, "scorm2004", options), "scorm2004")
    cmi5, _ = descriptor(export(sample_zip, "cmi5", options), "cmi5")
    assert re.findall(rb"<adlcp:masteryscore>([^<]*)<", scorm12) == [b"65.5", b"65.5"]
    assert re.findall(rb"<imsss:minNormalizedMeasure>([^<]*)<", scorm2004) == [b"0.655", b"0.655"]
    assert scorm2004.count(b'satisfiedByMeasure="true"') == 2
    assert scorm2004.count(b'minProgressMeasure="0.5"') == 2
    assert re.findall(rb'masteryScore="([^"]*)"', cmi5) == [b"0.655", b"0.655"]


def test_identifiers_are_made_valid_for_each_format(export: Exporter, sample_zip: Path) -> None:
    options = OPTION_SETS["plain-identifier"]
    scorm, _ = descriptor(export(sample_zip, "scorm2004", options), "scorm2004")
    cmi5, _ = descriptor(export(sample_zip, "cmi5", options), "cmi5")
    root = fromstring(scorm)
    assert re.match(r"^[A-Za-z_][\w.-]*$", root.get("identifier"))
    course = fromstring(cmi5).find("{https://w3id.org/xapi/profiles/cmi5/v1/CourseStructure.xsd}course")
    assert course.get("id").startswith("urn:content-service:1%20not%20an%20NCName")


def test_an_iri_identifier_becomes_the_cmi5_course_id(export: Exporter, sample_zip: Path) -> None:
    cmi5, _ = descriptor(
        export(sample_zip, "cmi5", ExportOptions(identifier="https://example.org/c/1")), "cmi5"
    )
    ids = re.findall(rb' id="([^"]*)"', cmi5)
    assert ids == [
        b"https://example.org/c/1",
        b"https://example.org/c/1/au/welcome",
        b"https://example.org/c/1/au/how-it-works",
    ]
