"""The schema files the exporter ships are the official ones, byte for byte.

They are compared with the tests' copy (tests/data/conformance), and, where the project's
conformance material is checked out beside the repository (../shared/conformance), the tests'
copy is compared with that too, so neither copy can drift from the source.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from content_service.standards.export import xsd
from content_service.standards.export.schemas import schema_files
from tests.conformance_data import CONFORMANCE, XSD

# Written for this repository, not copied: the vendored folder's own description and licence text.
LOCAL_FILES = {"SOURCES.md", "LICENSE-Apache-2.0.txt"}
COPIES = {"scorm12": XSD / "scorm12", "scorm2004": XSD / "scorm2004_4th"}
RUNTIME_SCHEMAS = Path(xsd.__file__).parent / "schemas"

# The project's conformance material, where a checkout has it beside the repository.
UPSTREAM = CONFORMANCE.parents[2] / ".." / "shared" / "conformance"


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


@pytest.mark.upstream_only
@pytest.mark.skipif(
    not UPSTREAM.is_dir(),
    reason="no ../shared/conformance beside this clone to compare the vendored copy with (it is complete on its own)",
)
def test_the_tests_copy_is_byte_identical_to_the_upstream_conformance_material() -> None:
    copied = sorted(
        path for path in CONFORMANCE.rglob("*") if path.is_file() and path.name not in LOCAL_FILES
    )
    assert len(copied) > 100
    for path in copied:
        relative = path.relative_to(CONFORMANCE)
        upstream = UPSTREAM / relative
        assert upstream.is_file(), f"{relative} is not in ../shared/conformance"
        assert path.read_bytes() == upstream.read_bytes(), f"{relative} differs from ../shared/conformance"
