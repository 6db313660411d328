"""The schema files the exporter ships are the official ones, byte for byte."""

from __future__ import annotations

import pytest

from content_service.standards.export.schemas import schema_files
from tests.export.schemas import XSD

COPIES = {"scorm12": XSD / "scorm12", "scorm2004": XSD / "scorm2004_4th"}

pytestmark = pytest.mark.skipif(not XSD.is_dir(), reason="../shared/conformance is not checked out")


@pytest.mark.parametrize("fmt", sorted(COPIES))
def test_every_vendored_schema_is_byte_identical_to_the_conformance_copy(fmt: str) -> None:
    vendored = schema_files(fmt)
    assert vendored, f"no schema files vendored for {fmt}"
    for name, content in vendored.items():
        official = COPIES[fmt] / name
        assert official.is_file(), f"{fmt}/{name} has no copy under ../shared/conformance/xsd"
        assert content == official.read_bytes(), f"{fmt}/{name} differs from the official file"


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
