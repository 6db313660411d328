"""Removing or breaking a required part of an exported descriptor is caught: by the XSD or by checks.py.

Each case edits a real export's descriptor the way a bug in a writer would, then asserts
that validation (the official XSDs plus the exporter's own checks) refuses it. The checks
the XSDs cannot make are asserted on ``check_export`` alone.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

import content_service.standards.export as export_module
from content_service.domain.package import PackageManifest
from content_service.standards.export import ExportCheckFailed, ExportOptions, export_package, zip_reader
from content_service.standards.export.checks import DESCRIPTORS, check_export
from content_service.standards.export.options import ExportFormat
from content_service.standards.export.xsd import xsd_failures
from tests.export.conftest import Exporter
from tests.export.schemas import xsd_errors

OPTIONS = ExportOptions(mastery_score=0.8, completion_threshold=0.5)

# (format, what is removed or broken, regex, replacement, caught by the XSD too?)
MUTATIONS = [
    ("scorm12", "organizations", r"(?s)<organizations.*?</organizations>", "", True),
    ("scorm12", "organization title", r"(?s)(<organization [^>]*>)\s*<title>[^<]*</title>", r"\1", False),
    ("scorm12", "item identifier", r'(<item) identifier="[^"]*"', r"\1", True),
    ("scorm12", "resource identifier", r'(<resource) identifier="[^"]*"', r"\1", True),
    ("scorm12", "adlcp:scormtype", r' adlcp:scormtype="[^"]*"', "", False),
    ("scorm12", "scormtype cased as 2004", r"adlcp:scormtype=", "adlcp:scormType=", True),
    (
        "scorm12",
        "schemaversion",
        r"<schemaversion>1.2</schemaversion>",
        "<schemaversion>1.2.0</schemaversion>",
        False,
    ),
    ("scorm12", "resources", r"(?s)<resources>.*</resources>", "", True),
    ("scorm12", "file listing", r'\s*<file href="style.css"/>', "", False),
    ("scorm12", "masteryscore as a number", r"<adlcp:masteryscore>80<", "<adlcp:masteryscore>eighty<", False),
    ("scorm2004", "adlcp:scormType", r' adlcp:scormType="sco"', "", False),
    ("scorm2004", "scormType lower-cased", r"adlcp:scormType=", "adlcp:scormtype=", True),
    ("scorm2004", "schemaversion", r"2004 4th Edition", "CAM 1.3", False),
    (
        "scorm2004",
        "item identifierref target",
        r'identifierref="RES-welcome"',
        'identifierref="RES-nothing"',
        False,
    ),
    ("scorm2004", "organization identifier", r'(<organization) identifier="[^"]*"', r"\1", True),
    ("scorm2004", "default organization", r'(<organizations) default="[^"]*"', r'\1 default="nope"', False),
    (
        "scorm2004",
        "minNormalizedMeasure range",
        r">0.8</imsss:minNormalizedMeasure>",
        ">1.8</imsss:minNormalizedMeasure>",
        True,
    ),
    ("cmi5", "course", r"(?s)<course .*?</course>", "", True),
    ("cmi5", "au url", r"\s*<url>index.html</url>", "", True),
    ("cmi5", "au url relative", r"<url>index.html</url>", "<url>https://example.com/index.html</url>", False),
    ("cmi5", "au id an IRI", r'au id="[^"]*/au/welcome"', 'au id="welcome"', False),
    ("cmi5", "au ids unique", r'/au/how-it-works"', '/au/welcome"', False),
    ("cmi5", "au title", r"(?s)(<au [^>]*>)\s*<title>.*?</title>", r"\1", True),
    ("xapi", "activity id an IRI", r'activity id="[^"]*/activity/welcome"', 'activity id="welcome"', False),
    ("xapi", "course launch", r"\s*<launch[^>]*>content-launcher.html</launch>", "", False),
    (
        "xapi",
        "parts launch nothing",
        r'(<description lang="en">Welcome</description>)',
        r'\1<launch lang="en">index.html</launch>',
        False,
    ),
    (
        "xapi",
        "course type",
        r'type="http://adlnet.gov/expapi/activities/course"',
        'type="urn:x:other"',
        False,
    ),
]


def _mutated(path: Path, fmt: str, pattern: str, replacement: str) -> tuple[bytes, frozenset[str]]:
    with zipfile.ZipFile(path) as archive:
        original = archive.read(DESCRIPTORS[ExportFormat(fmt)]).decode()
        names = frozenset(archive.namelist())
    mutated, count = re.subn(pattern, replacement, original, count=1)
    assert count == 1, f"the pattern {pattern!r} no longer matches the export: update this test"
    return mutated.encode(), names


@pytest.mark.parametrize(
    ("fmt", "what", "pattern", "replacement", "xsd_catches"),
    MUTATIONS,
    ids=[m[1] + "-" + m[0] for m in MUTATIONS],
)
def test_a_broken_descriptor_is_refused(
    fmt: str, what: str, pattern: str, replacement: str, xsd_catches: bool, export: Exporter, sample_zip: Path
) -> None:
    data, names = _mutated(export(sample_zip, fmt, OPTIONS), fmt, pattern, replacement)
    schema_errors = xsd_errors(fmt, data)
    own = check_export(ExportFormat(fmt), data, names)
    assert schema_errors or own, f"removing/breaking {what} went unnoticed"
    # The exporter's own XSD validation (package data) agrees with the tests' copy of the XSDs.
    assert bool(xsd_failures(ExportFormat(fmt), data)) is bool(schema_errors), (what, schema_errors)
    if not xsd_catches:
        assert own, f"checks.py must catch {what}: the XSD does not"


def test_the_exporter_refuses_to_return_an_export_that_breaks_its_own_checks(
    sample_zip: Path, manifest_of, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    manifest: PackageManifest = manifest_of(sample_zip)

    def writer_with_a_bug(plan, options):  # type: ignore[no-untyped-def]
        from content_service.standards.export.scorm import scorm2004_manifest

        return scorm2004_manifest(plan, options).replace(b'adlcp:scormType="sco"', b'adlcp:scormtype="sco"')

    monkeypatch.setitem(export_module._WRITERS, ExportFormat.SCORM2004, writer_with_a_bug)
    with zip_reader(sample_zip) as read_file, pytest.raises(ExportCheckFailed) as refused:
        export_package(manifest, read_file, "scorm2004", out=tmp_path / "never.zip")
    assert "scormType" in str(refused.value)
    assert not (tmp_path / "never.zip").exists()


def test_an_export_that_only_the_xsd_refuses_is_never_written(
    sample_zip: Path, manifest_of, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    manifest: PackageManifest = manifest_of(sample_zip)

    def writer_with_a_bug(plan, options):  # type: ignore[no-untyped-def]
        from content_service.standards.export.cmi5 import cmi5_xml

        # The course's description before its title: the XSD's sequence forbids it; checks.py does not look.
        return re.sub(
            rb"(?s)(<course [^>]*>\s*)(<title>.*?</title>)(\s*)(<description>.*?</description>)",
            rb"\1\4\3\2",
            cmi5_xml(plan, options),
            count=1,
        )

    own_findings: list[list[str]] = []

    def recording_checks(fmt, descriptor, names):  # type: ignore[no-untyped-def]
        own_findings.append(check_export(fmt, descriptor, names))
        return own_findings[-1]

    monkeypatch.setitem(export_module._WRITERS, ExportFormat.CMI5, writer_with_a_bug)
    monkeypatch.setattr(export_module, "check_export", recording_checks)
    with zip_reader(sample_zip) as read_file, pytest.raises(ExportCheckFailed) as refused:
        export_package(manifest, read_file, "cmi5", out=tmp_path / "never.zip")
    assert own_findings == [[]], "the exporter's own checks must not be what refuses this export"
    assert refused.value.failures and all(failure.startswith("XSD: ") for failure in refused.value.failures)
    assert not (tmp_path / "never.zip").exists()


def test_xsd_validation_reports_a_descriptor_that_is_not_xml_as_a_finding() -> None:
    assert xsd_failures(ExportFormat.SCORM2004, b"<manifest") != []
    assert xsd_failures(ExportFormat.CMI5, b"\xff\xfe") != []
    assert xsd_failures(ExportFormat.XAPI, b"<tincan/>") == []


def test_a_file_that_does_not_match_the_manifest_is_refused(
    sample_zip: Path, manifest_of, tmp_path: Path
) -> None:
    import io

    from content_service.standards.export import ExportError

    manifest: PackageManifest = manifest_of(sample_zip)
    with zipfile.ZipFile(sample_zip) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    files["style.css"] = b"body { color: red }"
    with pytest.raises(ExportError, match="style.css"):
        export_package(manifest, lambda path: io.BytesIO(files[path]), "cmi5", out=tmp_path / "x.zip")
