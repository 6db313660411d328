"""The schema files the exporter ships are the official ones, byte for byte.

They are compared with the tests' copy (tests/data/conformance), and that copy with the SHA-256
digests recorded when it was vendored from the upstream material (SHA256SUMS, made from the files
SOURCES.md names and checked equal to them then), so neither copy can drift; nothing outside the
repository is read.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from content_service.standards.export import xsd
from content_service.standards.export.schemas import schema_files
from tests.conformance_data import CONFORMANCE, XSD

# Written for this repository, not copied: the vendored folder's own description, licence text
# and digest list.
LOCAL_FILES = {"SOURCES.md", "LICENSE-Apache-2.0.txt", "SHA256SUMS"}
COPIES = {"scorm12": XSD / "scorm12", "scorm2004": XSD / "scorm2004_4th"}
RUNTIME_SCHEMAS = Path(xsd.__file__).parent / "schemas"

DIGESTS = CONFORMANCE / "SHA256SUMS"


@pytest.mark.parametrize("fmt", sorted(COPIES))
def test_every_vendored_schema_is_byte_identical_to_the_conformance_copy(fmt: str) -> None:
    vendored = schema_files(fmt)
    assert vendored, f"no schema files vendored for {fmt}"
    for name, content in vendored.items():
        official = COPIES[fmt] / name
        assert official.is_file(), f"{fmt}/{name} has no copy under tests/data/conformance/xsd"
        assert content == official.read_bytes(), f"{fmt}/{name} differs from the official file"


def test_the_cmi5_schema_exports_are_validated_against_is_the_official_one() -> None:
    vendored = RUNTIME_SCHEMAS / "cmi5" / "CourseStructure.xsd"
    assert vendored.read_bytes() == (XSD / "cmi5" / "CourseStructure.xsd").read_bytes()


def test_scorm2004_ships_every_schema_its_manifest_names_but_not_the_adl_test_helper() -> None:
    names = set(schema_files("scorm2004"))
    assert {
        "imscp_v1p1.xsd",
        "adlcp_v1p3.xsd",
        "adlseq_v1p3.xsd",
        "adlnav_v1p3.xsd",
        "imsss_v1p0.xsd",
        "lom.xsd",
    } <= names
    assert "bdlcp_rootv1p2.xsd" not in names
    assert set(schema_files("scorm12")) == {
        "imscp_rootv1p1p2.xsd",
        "adlcp_rootv1p2.xsd",
        "imsmd_rootv1p2p1.xsd",
        "ims_xml.xsd",
    }


def test_the_tests_copy_is_exactly_what_was_vendored() -> None:
    recorded = dict(
        reversed(line.split("  ", 1)) for line in DIGESTS.read_text(encoding="utf-8").splitlines() if line
    )
    copied = {
        path.relative_to(CONFORMANCE).as_posix(): path
        for path in CONFORMANCE.rglob("*")
        if path.is_file() and path.name not in LOCAL_FILES
    }
    assert len(copied) > 100
    assert sorted(copied) == sorted(recorded), "files were added to or removed from the vendored copy"
    for relative, path in copied.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == recorded[relative], f"{relative} changed"
