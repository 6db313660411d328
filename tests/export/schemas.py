"""Validators for exported descriptors, built from the tests' conformance copy (never from the package's).

The XSDs come from tests/data/conformance (vendored from the project's conformance material),
not from the schema files the exporter ships, so a change to those cannot pass unnoticed.
Facts from the conformance README: SCORM 1.2 needs the XSD 1.1 validator; imports of
ims_xml.xsd or the W3C xml.xsd are mapped to the xml.xsd xmlschema bundles; only local files
are read and location hints in documents are ignored.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import xmlschema

from tests.conformance_data import CONFORMANCE, XAPI_SCHEMAS, XSD

__all__ = ["CONFORMANCE", "XAPI_SCHEMAS", "XSD", "statement_validator", "validator", "xsd_errors"]

BUNDLED_XML_XSD = Path(xmlschema.__file__).parent / "schemas" / "XML" / "xml.xsd"


def _uri_mapper(uri: str) -> str:
    if uri.endswith(("ims_xml.xsd", "/xml.xsd")) or uri == "http://www.w3.org/2001/xml.xsd":
        return BUNDLED_XML_XSD.as_uri()
    return uri


@cache
def scorm12() -> xmlschema.XMLSchema11:
    folder = XSD / "scorm12"
    return xmlschema.XMLSchema11(
        str(folder / "imscp_rootv1p1p2.xsd"),
        locations=[
            ("http://www.adlnet.org/xsd/adlcp_rootv1p2", str(folder / "adlcp_rootv1p2.xsd")),
            ("http://www.imsglobal.org/xsd/imsmd_rootv1p2p1", str(folder / "imsmd_rootv1p2p1.xsd")),
        ],
        uri_mapper=_uri_mapper,
        allow="local",
    )


@cache
def scorm2004() -> xmlschema.XMLSchema10:
    folder = XSD / "scorm2004_4th"
    return xmlschema.XMLSchema10(
        str(folder / "imscp_v1p1.xsd"),
        locations=[
            ("http://www.adlnet.org/xsd/adlcp_v1p3", str(folder / "adlcp_v1p3.xsd")),
            ("http://www.adlnet.org/xsd/adlseq_v1p3", str(folder / "adlseq_v1p3.xsd")),
            ("http://www.adlnet.org/xsd/adlnav_v1p3", str(folder / "adlnav_v1p3.xsd")),
            ("http://www.imsglobal.org/xsd/imsss", str(folder / "imsss_v1p0.xsd")),
            ("http://ltsc.ieee.org/xsd/LOM", str(folder / "lom.xsd")),
        ],
        uri_mapper=_uri_mapper,
        allow="local",
    )


@cache
def cmi5() -> xmlschema.XMLSchema10:
    return xmlschema.XMLSchema10(str(XSD / "cmi5" / "CourseStructure.xsd"), allow="local")


def validator(fmt: str) -> xmlschema.XMLSchemaBase | None:
    """The XSD for a format's descriptor; xAPI's tincan.xml has no official schema in conformance."""
    return {"scorm12": scorm12, "scorm2004": scorm2004, "cmi5": cmi5}.get(fmt, lambda: None)()


def xsd_errors(fmt: str, document: bytes) -> list[str]:
    schema = validator(fmt)
    if schema is None:
        return []
    return [
        str(error.reason or error)
        for error in schema.iter_errors(document.decode(), use_location_hints=False)
    ]


@cache
def statement_validator():  # type: ignore[no-untyped-def]
    """A jsonschema validator for one xAPI statement, from the TinCanSchema 1.0.1 parts.

    Each part has a fragment id (``"id": "#statement"``), so the parts are put side by side
    in one document, where draft 4 resolves those ids as anchors; the regex formats come
    from formats/formats.json.
    """
    import jsonschema

    parts = {path.stem: json.loads(path.read_text()) for path in sorted(XAPI_SCHEMAS.glob("*.json"))}
    combined = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "definitions": parts,
        "$ref": "#statement",
    }
    formats = json.loads((XAPI_SCHEMAS / "formats" / "formats.json").read_text())
    checker = jsonschema.FormatChecker(formats=())
    for name, pattern in formats.items():
        _add_format(checker, name, pattern)
    return jsonschema.Draft4Validator(combined, format_checker=checker)


def _add_format(checker, name: str, pattern: str) -> None:  # type: ignore[no-untyped-def]
    import re

    compiled = re.compile(pattern)

    @checker.checks(name)
    def _check(value: object) -> bool:
        return not isinstance(value, str) or bool(compiled.search(value))
