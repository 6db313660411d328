"""imsmanifest.xml: tell SCORM 1.2 from SCORM 2004 (and its edition), then parse it.

The version comes from the evidence in this order, because real manifests disagree with
themselves: ``<schemaversion>`` when it is one we know ("1.2", "CAM 1.3", "2004 3rd
Edition", "2004 4th Edition", ...); then the namespaces the document binds (adlcp_rootv1p2
means 1.2; adlcp_v1p3, imsss, adlseq or adlnav mean 2004); then the content packaging
namespace (imscp_v1p1 means 2004); otherwise 1.2, the most common version.

A 2004 manifest without a schemaversion is read as the 2nd edition: the 3rd and 4th
editions require ``<schemaversion>``, so a manifest without one can only conform to the 2nd.
"""

from __future__ import annotations

import re
from typing import Any

from content_service.domain.package import Standard
from content_service.packaging.model import Descriptor, DescriptorSource
from content_service.standards import scorm12, scorm2004
from content_service.standards.imscp import parse_manifest
from content_service.standards.xml import XmlDocument, child, local, text

_CP_2004 = "http://www.imsglobal.org/xsd/imscp_v1p1"
_EDITION = re.compile(r"(2nd|3rd|4th)", re.IGNORECASE)


def scorm_version(document: XmlDocument) -> tuple[Standard, str | None, str]:
    """The SCORM version, the 2004 edition (or None) and what decided it."""
    schemaversion = _schemaversion(document)
    normalized = schemaversion.lower().replace(" ", "")
    if normalized in ("1.2", "scorm1.2"):
        return Standard.SCORM12, None, "schemaversion"
    if normalized in ("cam1.3", "1.3", "scorm2004", "2004", "scorm20042ndedition"):
        return Standard.SCORM2004, "2nd", "schemaversion"
    edition = _EDITION.search(schemaversion)
    if edition and "2004" in schemaversion:
        return Standard.SCORM2004, edition.group(1).lower(), "schemaversion"
    uris = " ".join(document.prefixes).lower()
    if "adlcp_rootv1p2" in uris:
        return Standard.SCORM12, None, "namespaces"
    if any(marker in uris for marker in ("adlcp_v1p3", "imsss", "adlseq", "adlnav")) or _CP_2004 in (
        document.root.tag
    ):
        return Standard.SCORM2004, "2nd" if not schemaversion else None, "namespaces"
    return Standard.SCORM12, None, "default"


def _schemaversion(document: XmlDocument) -> str:
    metadata = child(document.root, "metadata")
    return text(child(metadata, "schemaversion")) if metadata is not None else ""


def _language(document: XmlDocument) -> str | None:
    metadata = child(document.root, "metadata")
    if metadata is None:
        return None
    for element in metadata.iter():
        if isinstance(element.tag, str) and local(element.tag) == "language" and text(element):
            return text(element)
    return None


def parse(source: DescriptorSource, document: XmlDocument) -> Descriptor:
    """Read a safely parsed imsmanifest.xml as SCORM 1.2 or 2004."""
    standard, edition, evidence = scorm_version(document)
    dialect = scorm12.DIALECT if standard is Standard.SCORM12 else scorm2004.DIALECT
    parsed = parse_manifest(document, source.names, dialect)
    metadata = child(document.root, "metadata")
    header: dict[str, Any] = {
        "version": "1.2" if standard is Standard.SCORM12 else "2004",
        "edition": edition,
        "version_evidence": evidence,
        "schema": text(child(metadata, "schema")) if metadata is not None else "",
        "schemaversion": _schemaversion(document) or None,
    }
    if standard is Standard.SCORM2004:
        header["sequencing_collection"] = scorm2004.sequencing_collection(document.root, document)
    return Descriptor(
        standard=standard,
        title=parsed.title,
        language=_language(document),
        launches=parsed.launches,
        metadata={**header, **parsed.metadata},
    )
