"""Every problem code a standard parser can raise, in one place.

Codes are dotted, stable and machine-readable: clients and tests match on them, never on
the human detail. A code is never reused for a different meaning; new rules get new codes.
``CODES`` maps each code to a one-line explanation that docs/package-format.md repeats.
"""

from __future__ import annotations

from typing import Final

PACKAGE_NO_DESCRIPTOR: Final = "package.no_descriptor"

XML_MALFORMED: Final = "xml.malformed"
XML_DTD_FORBIDDEN: Final = "xml.dtd_forbidden"
XML_ENTITIES_FORBIDDEN: Final = "xml.entities_forbidden"
XML_EXTERNAL_REFERENCE_FORBIDDEN: Final = "xml.external_reference_forbidden"
XML_UNEXPECTED_ROOT: Final = "xml.unexpected_root"
XML_TOO_DEEP: Final = "xml.too_deep"

LAUNCH_INVALID_HREF: Final = "launch.invalid_href"
LAUNCH_OUTSIDE_PACKAGE: Final = "launch.outside_package"
LAUNCH_EXTERNAL_URL: Final = "launch.external_url"
LAUNCH_MISSING_FILE: Final = "launch.missing_file"

SCORM_MISSING_ORGANIZATION: Final = "scorm.missing_organization"
SCORM_DEFAULT_ORGANIZATION_MISSING: Final = "scorm.default_organization_missing"
SCORM_MISSING_IDENTIFIER: Final = "scorm.missing_identifier"
SCORM_DUPLICATE_IDENTIFIER: Final = "scorm.duplicate_identifier"
SCORM_RESOURCE_NOT_FOUND: Final = "scorm.resource_not_found"
SCORM_MISSING_LAUNCH_HREF: Final = "scorm.missing_launch_href"
SCORM_NO_LAUNCHABLE_ITEM: Final = "scorm.no_launchable_item"
SCORM_UNKNOWN_ELEMENT: Final = "scorm.unknown_element"

CMI5_INVALID_STRUCTURE: Final = "cmi5.invalid_structure"
CMI5_INVALID_IRI: Final = "cmi5.invalid_iri"
CMI5_DUPLICATE_ID: Final = "cmi5.duplicate_id"
CMI5_UNKNOWN_OBJECTIVE: Final = "cmi5.unknown_objective"
CMI5_INVALID_VALUE: Final = "cmi5.invalid_value"
CMI5_INVALID_URL: Final = "cmi5.invalid_url"
CMI5_RESERVED_LAUNCH_PARAMETER: Final = "cmi5.reserved_launch_parameter"

XAPI_NO_LAUNCH: Final = "xapi.no_launch"
XAPI_INVALID_IRI: Final = "xapi.invalid_iri"

NATIVE_DESCRIPTOR_TOO_LARGE: Final = "native.descriptor_too_large"
NATIVE_INVALID_JSON: Final = "native.invalid_json"
NATIVE_INVALID_DESCRIPTOR: Final = "native.invalid_descriptor"

CODES: Final[dict[str, str]] = {
    PACKAGE_NO_DESCRIPTOR: "no playpackage.json, cmi5.xml, tincan.xml or imsmanifest.xml at the package root",
    XML_MALFORMED: "a descriptor is not well-formed XML or has an unknown encoding; detail has the line",
    XML_DTD_FORBIDDEN: "a descriptor has a DOCTYPE; descriptors must not carry DTDs",
    XML_ENTITIES_FORBIDDEN: "a descriptor declares entities (entity expansion, billion laughs)",
    XML_EXTERNAL_REFERENCE_FORBIDDEN: "a descriptor refers to an external DTD or entity (XXE)",
    XML_UNEXPECTED_ROOT: "the descriptor's root element is not the one its standard requires",
    XML_TOO_DEEP: "a descriptor nests elements deeper than any real one does (100 levels)",
    LAUNCH_INVALID_HREF: "a launch href is empty, badly percent-encoded or holds control characters",
    LAUNCH_OUTSIDE_PACKAGE: "a launch href leaves the package ('..' above root, absolute path, file: URL)",
    LAUNCH_EXTERNAL_URL: "a launch href is an http(s) URL; content must be served from the package",
    LAUNCH_MISSING_FILE: "a launch href names a file the package does not contain",
    SCORM_MISSING_ORGANIZATION: "imsmanifest.xml has no organization to launch",
    SCORM_DEFAULT_ORGANIZATION_MISSING: "organizations/@default names an organization that does not exist",
    SCORM_MISSING_IDENTIFIER: "an organization, item or resource has no identifier",
    SCORM_DUPLICATE_IDENTIFIER: "two items/organizations or two resources share an identifier",
    SCORM_RESOURCE_NOT_FOUND: "an item's identifierref names no resource (or sub-manifest)",
    SCORM_MISSING_LAUNCH_HREF: "an item references a resource that has no href to launch",
    SCORM_NO_LAUNCHABLE_ITEM: "nothing in the manifest can be launched",
    SCORM_UNKNOWN_ELEMENT: "an adlcp element SCORM 1.2 does not define (e.g. dataFromLMS for datafromlms)",
    CMI5_INVALID_STRUCTURE: "cmi5.xml breaks CourseStructure.xsd's structure (missing or misplaced elements)",
    CMI5_INVALID_IRI: "a course, block, AU or objective id is not an absolute IRI",
    CMI5_DUPLICATE_ID: "two ids in the course structure are the same",
    CMI5_UNKNOWN_OBJECTIVE: "an objective idref names no objective of the course",
    CMI5_INVALID_VALUE: "moveOn, masteryScore or launchMethod has a value the spec does not allow",
    CMI5_INVALID_URL: "an AU url is not a valid URL (e.g. contains spaces)",
    CMI5_RESERVED_LAUNCH_PARAMETER: "an AU url's query sets a name the LMS adds at launch (endpoint, fetch)",
    XAPI_NO_LAUNCH: "tincan.xml has no activity with a launch element",
    XAPI_INVALID_IRI: "a tincan.xml activity id is not an absolute IRI",
    NATIVE_DESCRIPTOR_TOO_LARGE: "playpackage.json is larger than its size bound",
    NATIVE_INVALID_JSON: "playpackage.json is not valid UTF-8 JSON (or repeats a key)",
    NATIVE_INVALID_DESCRIPTOR: "playpackage.json does not match the descriptor model",
}
