"""Every package under tests/data/conformance/packages gets the verdict its name and README give.

Valid packages parse with the right standard, title and launches; known-invalid ones are
refused with a specific code. Decisions the data leaves open, and why:

- Manifest-only fixtures. Several edge cases (ComplexNestedOrganization, MissingRequiredFields,
  AdlAttributes, ContentPackagingNoSchemaVersion, MinimalValid) and the ADL CTS packages hold
  an imsmanifest.xml and nothing else. Their manifests are valid, but a launch href naming a
  file the zip lacks is refused (DESIGN.md, import sandbox), so as uploaded they are
  ``launch.missing_file``. Each is also checked with its launch files supplied, which is how
  its manifest is shown to be read correctly.
- PrerequisitesTest uses ``adlcp:dataFromLMS``, which SCORM 1.2 spells ``datafromlms``; the ADL
  1.2 schema rejects it, so it is refused (``scorm.unknown_element``) rather than silently
  launching a SCO without its launch data.
- CATAPULT's LMS test-suite structures are bare cmi5.xml files, each fed with the files its
  test means it to have: ``index.html`` (and ``path/1/index.html``) for the valid ones; nothing
  but cmi5.xml for 202-* ("relative URL, no zip": the AU files are not there); only
  ``index.html`` for 203 (its ``not-found.html`` is the point of the test).
- 005-1/005-2 "invalid-au" test an AU that misbehaves at run time (it sends invalid
  statements); their course structure is valid, so the import accepts them.
- 101 (a thousand AUs at http://example.com) is valid cmi5, but this service only launches
  content from the package, so it is refused as ``launch.external_url``.
- 209-1-not-a-zip.zip is not a zip at all: only the sandbox can judge it.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass

import pytest

from content_service.domain.package import Standard
from content_service.packaging.inspect import validate_zip
from content_service.packaging.limits import ImportLimits
from content_service.packaging.model import Descriptor, PackageRejected
from content_service.standards import detect_and_parse
from tests.conformance_data import PACKAGES
from tests.memory_source import MemorySource

LTS = PACKAGES / "cmi5" / "course_structures" / "catapult_lts"
CTS_MANIFESTS = PACKAGES / "scorm2004" / "adl_cts_4th_lms_test_manifests.zip"


@dataclass(frozen=True)
class Valid:
    standard: Standard
    title: str
    launches: int
    first_launch: str
    edition: str | None = None


@dataclass(frozen=True)
class Refused:
    code: str
    # Set for manifest-only fixtures: what the manifest gives once its launch files exist.
    with_files: Valid | None = None


S12, S2004, XAPI, CMI5 = Standard.SCORM12, Standard.SCORM2004, Standard.XAPI, Standard.CMI5
GOLF_LAUNCH = "shared/launchpage.html"

ZIPS: dict[str, Valid | Refused] = {
    "scorm12/golf_ContentPackagingOneFilePerSCO_SCORM12.zip": Valid(
        S12, "Golf Explained - CP One File Per SCO", 18, "Playing/Playing.html"
    ),
    "scorm12/golf_ContentPackagingSingleSCO_SCORM12.zip": Valid(
        S12, "Golf Explained - CP Single SCO", 1, GOLF_LAUNCH
    ),
    "scorm12/golf_RuntimeBasicCalls_SCORM12.zip": Valid(
        S12, "Golf Explained - Run-time Basic Calls", 1, GOLF_LAUNCH
    ),
    "scorm12/golf_RuntimeMinimumCalls_SCORM12.zip": Valid(
        S12, "Golf Explained - Minimum Run-time Calls", 18, "Playing/Playing.html"
    ),
    "scorm12/edge/ContentPackagingWithMetadata_SCORM12.zip": Valid(
        S12, "SCORM 1.2 With Metadata", 1, "index.html"
    ),
    "scorm12/edge/LaunchUrlFromNestedItem_SCORM12.zip": Valid(
        S12, "Launch URL From Nested Item Test", 2, "content/topic1.html"
    ),
    "scorm12/edge/MultipleItemsWithIdentifierRef_SCORM12.zip": Valid(
        S12, "Multiple Items With IdentifierRef Test", 3, "content/item1.html"
    ),
    "scorm12/edge/ComplexNestedOrganization_SCORM12.zip": Refused(
        "launch.missing_file", Valid(S12, "Complex Nested Organization Test", 11, "content/module1.html")
    ),
    "scorm12/edge/MissingRequiredFields_SCORM12.zip": Refused(
        "launch.missing_file", Valid(S12, "Test Item", 1, "content/index.html")
    ),
    "scorm12/edge/InvalidFileReferences_SCORM12.zip": Refused("launch.missing_file"),
    "scorm12/edge/ItemWithNonExistentResourceId_SCORM12.zip": Refused("scorm.resource_not_found"),
    "scorm12/edge/MissingLaunchUrl_SCORM12.zip": Refused("scorm.missing_launch_href"),
    "scorm12/edge/MalformedXml_SCORM12.zip": Refused("xml.malformed"),
    "scorm12/edge/PrerequisitesTest_SCORM12.zip": Refused("scorm.unknown_element"),
    "scorm2004/golf_ContentPackagingMetadata_SCORM20043rdEdition.zip": Valid(
        S2004, "Golf Explained - Metadata Example", 1, GOLF_LAUNCH, "3rd"
    ),
    "scorm2004/golf_ContentPackagingSingleSCO_SCORM20042ndEdition.zip": Valid(
        S2004, "Golf Explained - CP Single SCO", 1, GOLF_LAUNCH, "2nd"
    ),
    "scorm2004/golf_RunTimeAdvancedCalls_SCORM20043rdEdition.zip": Valid(
        S2004, "Golf Explained - Run-time Advanced Calls", 1, GOLF_LAUNCH, "3rd"
    ),
    "scorm2004/golf_SequencingForcedSequential_SCORM20043rdEdition.zip": Valid(
        S2004, "Golf Explained - Sequencing Forced Order", 5, GOLF_LAUNCH, "3rd"
    ),
    "scorm2004/golf_SequencingPostTestRollup4thEd_SCORM20044thEdition.zip": Valid(
        S2004, "Golf Explained - 4th Edition Features", 5, GOLF_LAUNCH, "4th"
    ),
    "scorm2004/golf_SequencingPreOrPostTestRollup_SCORM20043rdEdition.zip": Valid(
        S2004, "Golf Explained - Sequencing Pre or Post Test Rollup", 6, GOLF_LAUNCH, "3rd"
    ),
    "scorm2004/golf_SequencingRandomTest_SCORM20043rdEdition.zip": Valid(
        S2004, "Golf Explained - Sequencing Random Test", 8, GOLF_LAUNCH, "3rd"
    ),
    "scorm2004/golf_SequencingSimpleRemediation_SCORM20043rdEdition.zip": Valid(
        S2004, "Golf Explained - Simple Remediation", 8, GOLF_LAUNCH, "3rd"
    ),
    "scorm2004/edge/AdlAttributes_SCORM20043rdEdition.zip": Refused(
        "launch.missing_file", Valid(S2004, "ADL Attributes Example", 1, "index.html", "3rd")
    ),
    "scorm2004/edge/ContentPackagingNoSchemaVersion_SCORM20042ndEdition.zip": Refused(
        "launch.missing_file", Valid(S2004, "Minimal 2nd Edition No SchemaVersion", 1, "index.html", "2nd")
    ),
    "scorm2004/edge/MinimalValid_SCORM20043rdEdition.zip": Refused(
        "launch.missing_file", Valid(S2004, "Minimal Course", 1, "index.html", "3rd")
    ),
    "scorm2004/edge/InvalidMissingOrgIdentifier_SCORM20043rdEdition.zip": Refused("scorm.missing_identifier"),
    "xapi/minimal_basic_course.zip": Valid(XAPI, "Basic xAPI Course", 1, "index.html"),
    "xapi/tincan_prototypes_GolfExample_TCAPI.zip": Valid(XAPI, "Tin Can Golf Example", 1, "index.html"),
    "xapi/tincan_prototypes_JsTetris_TCAPI.zip": Valid(XAPI, "Tin Can Tetris Example", 1, "tetris.html"),
    "xapi/tincan_prototypes_Locator_TCAPI.zip": Valid(XAPI, "Tin Can Museum Tour Example", 1, "index.html"),
    "cmi5/catapult_multi_au_framed.zip": Valid(
        CMI5, "Introduction to Geology - Multi AU at Root", 8, "index.html"
    ),
    "cmi5/catapult_pre_post_test_framed.zip": Valid(
        CMI5, "Introduction to Geology - Pre/Post Test", 6, "pre1.html"
    ),
    "cmi5/catapult_single_au_basic_responsive.zip": Valid(
        CMI5, "Introduction to Geology - Responsive Style", 1, "index.html"
    ),
}
ZIPS.update(
    {
        f"scorm2004/adl_cts/LMSTestPackage_{name}.zip": Refused("launch.missing_file", None)
        for name in ("CM-01", "CT-01", "MS-01", "OB-04", "RU-09", "SX-02", "T-01a")
    }
)

LTS_FILES = ("index.html", "path/1/index.html")
LTS_VALID = (
    "001-essentials", "002-allowed", "003-launchMethod-OwnWindow", "004-1-moveOn-Completed",
    "004-2-moveOn-CompletedOrPassed", "004-3-moveOn-Passed", "004-4-moveOn-CompletedOrPassed",
    "004-5-moveOn-NotApplicable", "005-1-invalid-au", "005-2-invalid-au", "006-launchMode",
    "007-1-multi-session", "007-2-multi-session", "008-1-abandoned", "009-1-waived", "102-zip64",
)  # fmt: skip
LTS_REFUSED: dict[str, tuple[str, tuple[str, ...]]] = {
    "101-one-thousand-aus": ("launch.external_url", LTS_FILES),
    "201-1-iris-course-id": ("cmi5.invalid_iri", LTS_FILES),
    "201-2-iris-block-id": ("cmi5.invalid_iri", LTS_FILES),
    "201-3-iris-au-id": ("cmi5.invalid_iri", LTS_FILES),
    "201-4-iris-objective-id": ("cmi5.invalid_iri", LTS_FILES),
    "202-1-relative-url-no-zip": ("launch.missing_file", ()),
    "202-2-relative-url-no-zip": ("launch.missing_file", ()),
    "202-3-relative-url-no-zip": ("launch.missing_file", ()),
    "202-4-relative-url-no-zip": ("launch.missing_file", ()),
    "202-5-relative-url-no-zip": ("launch.outside_package", ()),
    "203-1-relative-url-no-reference": ("launch.missing_file", ("index.html",)),
    "204-query-string-conflict-endpoint": ("cmi5.reserved_launch_parameter", LTS_FILES),
    "205-1-duplicated-block": ("cmi5.duplicate_id", LTS_FILES),
    "205-2-duplicated-objective": ("cmi5.duplicate_id", LTS_FILES),
    "205-3-duplicated-au": ("cmi5.duplicate_id", LTS_FILES),
    "206-1-invalid-au-url": ("cmi5.invalid_url", LTS_FILES),
    "207-1-invalid-courseStructure": ("cmi5.invalid_structure", LTS_FILES),
}


def _codes(source: MemorySource) -> list[str]:
    with pytest.raises(PackageRejected) as refused:
        detect_and_parse(source)
    return [problem.code for problem in refused.value.problems]


def _with_launch_files(source: MemorySource) -> Descriptor:
    """Parse once the files the manifest launches exist (for manifest-only fixtures)."""
    try:
        return detect_and_parse(source)
    except PackageRejected as refused:
        missing = [problem.path or "" for problem in refused.problems]
        assert {problem.code for problem in refused.problems} == {"launch.missing_file"}, refused.problems
        return detect_and_parse(source.with_files(*missing))


def _check_valid(descriptor: Descriptor, expected: Valid) -> None:
    assert descriptor.standard is expected.standard
    assert descriptor.title == expected.title
    assert len(descriptor.launches) == expected.launches
    assert descriptor.launches[0].href == expected.first_launch
    assert len({launch.id for launch in descriptor.launches}) == len(descriptor.launches)
    if expected.standard is S2004:
        assert descriptor.metadata["edition"] == expected.edition


def test_the_table_covers_every_package_under_conformance() -> None:
    on_disk = {path.relative_to(PACKAGES).as_posix() for path in PACKAGES.rglob("*.zip")}
    covered = set(ZIPS) | {CTS_MANIFESTS.relative_to(PACKAGES).as_posix()}
    covered |= {(LTS / "209-1-not-a-zip.zip").relative_to(PACKAGES).as_posix()}
    assert on_disk == covered
    assert {path.stem for path in LTS.glob("*.xml")} == set(LTS_VALID) | set(LTS_REFUSED)


@pytest.mark.parametrize("name", sorted(ZIPS))
def test_zip_packages_get_their_documented_verdict(name: str) -> None:
    expected = ZIPS[name]
    source = MemorySource.from_zip(PACKAGES / name)
    if isinstance(expected, Valid):
        _check_valid(detect_and_parse(source), expected)
        return
    assert expected.code in _codes(source)
    if expected.code == "launch.missing_file" and "Invalid" not in name:
        descriptor = _with_launch_files(source)
        if expected.with_files is not None:
            _check_valid(descriptor, expected.with_files)


@pytest.mark.parametrize("name", sorted(ZIPS))
def test_the_sandbox_gives_zip_packages_the_same_verdict(name: str) -> None:
    expected = ZIPS[name]
    report = validate_zip(PACKAGES / name, ImportLimits())
    assert report.valid is isinstance(expected, Valid), [problem.as_dict() for problem in report.problems]
    if isinstance(expected, Valid):
        assert (report.standard, report.title) == (expected.standard.value, expected.title)
    else:
        assert expected.code in {problem.code for problem in report.problems}


def test_golf_parameters_and_sequencing_survive_import() -> None:
    quiz = next(
        launch
        for launch in detect_and_parse(
            MemorySource.from_zip(PACKAGES / "scorm12/golf_RuntimeMinimumCalls_SCORM12.zip")
        ).launches
        if launch.id == "playing_quiz_item"
    )
    assert quiz.parameters == "?questions=Playing"
    descriptor = detect_and_parse(
        MemorySource.from_zip(PACKAGES / "scorm2004/golf_SequencingRandomTest_SCORM20043rdEdition.zip")
    )
    assert [launch.parameters for launch in descriptor.launches][:2] == [
        "?content=playing",
        "?content=etiquette",
    ]
    assert descriptor.launches[4].parameters == "?content=assessment1"
    assert "<imsss:randomizationControls" in descriptor.metadata["sequencing_collection"] or any(
        "randomizationControls" in str(item) for item in descriptor.metadata["organizations"]
    )


def _cts_folders() -> list[str]:
    with zipfile.ZipFile(CTS_MANIFESTS) as archive:
        return sorted(
            {name.split("/", 1)[0] + "/" for name in archive.namelist() if name.endswith("imsmanifest.xml")}
        )


def test_the_adl_cts_bundle_holds_189_manifests() -> None:
    assert len(_cts_folders()) == 189


@pytest.mark.parametrize("folder", _cts_folders())
def test_every_adl_cts_manifest_parses_as_scorm_2004_4th(folder: str) -> None:
    descriptor = _with_launch_files(MemorySource.from_zip(CTS_MANIFESTS, folder=folder))
    assert (descriptor.standard, descriptor.metadata["edition"]) == (S2004, "4th")
    assert descriptor.launches
    # SX-08a is built of assets only; every other CTS package launches its SCOs.
    assert {launch.kind for launch in descriptor.launches} == ({"asset"} if "SX-08a" in folder else {"sco"})


def _lts(name: str, files: tuple[str, ...]) -> MemorySource:
    return MemorySource({"cmi5.xml": (LTS / f"{name}.xml").read_bytes(), **dict.fromkeys(files, b"")})


@pytest.mark.parametrize("name", LTS_VALID)
def test_valid_catapult_course_structures_parse(name: str) -> None:
    descriptor = detect_and_parse(_lts(name, LTS_FILES))
    assert descriptor.standard is CMI5
    assert all(launch.kind == "au" and launch.href in LTS_FILES for launch in descriptor.launches)
    assert descriptor.metadata["course"]["id"].startswith("https://w3id.org/xapi/cmi5/catapult/lts/course/")


def test_catapult_au_settings_are_kept() -> None:
    [launch] = detect_and_parse(_lts("001-essentials", LTS_FILES)).launches
    assert (launch.parameters, launch.attributes["moveOn"], launch.attributes["masteryScore"]) == (
        "?paramA=1&paramB=2",
        "CompletedAndPassed",
        0.9,
    )
    assert launch.attributes["launchMethod"] == "AnyWindow"


@pytest.mark.parametrize("name", sorted(LTS_REFUSED))
def test_invalid_catapult_course_structures_are_refused(name: str) -> None:
    code, files = LTS_REFUSED[name]
    assert _codes(_lts(name, files))[0] == code


def test_a_file_that_is_not_a_zip_is_refused_by_the_sandbox() -> None:
    path = LTS / "209-1-not-a-zip.zip"
    assert not zipfile.is_zipfile(path)
    report = validate_zip(path, ImportLimits())
    assert not report.valid and report.problems
