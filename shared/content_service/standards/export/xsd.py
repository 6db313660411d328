"""Every exported descriptor is validated against its standard's official XSD before the zip is written.

The schemas are the package data in ``schemas/`` (the files SCORM exports ship, plus cmi5's
CourseStructure.xsd), so validation runs the same on a laptop and in Lambda, with no network:
only local files are read, and location hints in the document are ignored. Two facts from
loading these schemas with xmlschema shape the code: SCORM 1.2's metadata schema is only valid
as XSD 1.1 (under 1.0 an optional element followed by ``xs:any`` breaks Unique Particle
Attribution), and the imports of ``ims_xml.xsd`` (1.2) and of the W3C ``xml.xsd`` (2004) are
mapped to the ``xml.xsd`` that xmlschema bundles: the 1.2 file binds the reserved XML
namespace, and the 2004 one imports from the web and carries a DOCTYPE. xAPI has no official
schema for tincan.xml; its export relies on the checks in ``checks.py`` alone.

Each schema is built once per process (about 0.2 s) and reused by later exports.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import xmlschema

from content_service.standards.export.options import ExportFormat

SCHEMAS = Path(__file__).parent / "schemas"
_BUNDLED_XML_XSD = Path(xmlschema.__file__).parent / "schemas" / "XML" / "xml.xsd"
_MAX_REPORTED = 10


def _uri_mapper(uri: str) -> str:
    if uri.endswith(("ims_xml.xsd", "/xml.xsd")) or uri == "http://www.w3.org/2001/xml.xsd":
        return _BUNDLED_XML_XSD.as_uri()
    return uri


def _scorm12() -> xmlschema.XMLSchemaBase:
    folder = SCHEMAS / "scorm12"
    return xmlschema.XMLSchema11(
        str(folder / "imscp_rootv1p1p2.xsd"),
        locations=[
            ("http://www.adlnet.org/xsd/adlcp_rootv1p2", str(folder / "adlcp_rootv1p2.xsd")),
            ("http://www.imsglobal.org/xsd/imsmd_rootv1p2p1", str(folder / "imsmd_rootv1p2p1.xsd")),
        ],
        uri_mapper=_uri_mapper,
        allow="local",
    )


def _scorm2004() -> xmlschema.XMLSchemaBase:
    folder = SCHEMAS / "scorm2004"
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


def _cmi5() -> xmlschema.XMLSchemaBase:
    return xmlschema.XMLSchema10(str(SCHEMAS / "cmi5" / "CourseStructure.xsd"), allow="local")


_BUILDERS = {ExportFormat.SCORM12: _scorm12, ExportFormat.SCORM2004: _scorm2004, ExportFormat.CMI5: _cmi5}


@cache
def schema_for(fmt: ExportFormat) -> xmlschema.XMLSchemaBase | None:
    """The official XSD of a format's descriptor, built once; None for xAPI (it has none)."""
    builder = _BUILDERS.get(fmt)
    return None if builder is None else builder()


def xsd_failures(fmt: ExportFormat, descriptor: bytes) -> list[str]:
    """Each way ``descriptor`` breaks its format's XSD (the first few, with where); empty when valid."""
    schema = schema_for(fmt)
    if schema is None:
        return []
    failures: list[str] = []
    try:
        for error in schema.iter_errors(descriptor.decode("utf-8"), use_location_hints=False):
            where = f" (at {error.path})" if error.path else ""
            failures.append(f"XSD: {error.reason or error.message}{where}")
            if len(failures) == _MAX_REPORTED:
                break
    except (UnicodeDecodeError, SyntaxError, xmlschema.XMLResourceError) as unreadable:
        failures.append(f"XSD: the descriptor cannot be read as XML: {unreadable}")
    return failures
