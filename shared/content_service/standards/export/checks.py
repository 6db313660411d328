"""The rules an export must follow that the standards' XSDs do not check.

The exporter runs these on what it wrote, after the XSD validation (``xsd.py``) and before it
writes the zip; any failure raises ``ExportCheckFailed`` (an exporter bug must never reach an
LMS). The conformance material's README lists the gaps these close:

- SCORM: ``schema``/``schemaversion`` are exactly the version's values; every identifier is
  an xs:ID (NCName) and unique in its space; identifierrefs resolve; every resource has the
  version's scormType attribute, spelt and cased exactly (``adlcp:scormtype`` in 1.2,
  ``adlcp:scormType`` in 2004), with the value ``sco`` or ``asset``; hrefs are relative and
  name files of the package, and every package file is listed; only a leaf item may
  reference a resource in 2004, and every leaf references one; organizations and items
  have titles (1.2's XSD makes them optional, LMSs show them); 1.2 ``masteryscore`` is a
  number from 0 to 100; 2004 measures are in range.
- cmi5: the course, AU and objective ids are absolute IRIs and unique; AU urls are relative,
  carry no whitespace and name a file of the package; moveOn, masteryScore and launchMethod
  hold allowed values.
- xAPI: activity ids are absolute IRIs and unique; the first activity is the course and the
  only one with a launch (relative, naming a file); the parts follow without one.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote
from xml.etree.ElementTree import Element

from defusedxml.ElementTree import fromstring

from content_service.standards.export.identifiers import is_ncname
from content_service.standards.export.options import ExportFormat, LaunchMethod, MoveOn
from content_service.standards.hrefs import is_absolute_iri, split_parameters

DESCRIPTORS = {
    ExportFormat.SCORM12: "imsmanifest.xml",
    ExportFormat.SCORM2004: "imsmanifest.xml",
    ExportFormat.CMI5: "cmi5.xml",
    ExportFormat.XAPI: "tincan.xml",
}
_SCORM = {
    ExportFormat.SCORM12: {
        "cp": "http://www.imsproject.org/xsd/imscp_rootv1p1p2",
        "adlcp": "http://www.adlnet.org/xsd/adlcp_rootv1p2",
        "type": "scormtype",
        "schemaversion": "1.2",
    },
    ExportFormat.SCORM2004: {
        "cp": "http://www.imsglobal.org/xsd/imscp_v1p1",
        "adlcp": "http://www.adlnet.org/xsd/adlcp_v1p3",
        "type": "scormType",
        "schemaversion": "2004 4th Edition",
    },
}
IMSSS = "http://www.imsglobal.org/xsd/imsss"
CMI5 = "https://w3id.org/xapi/profiles/cmi5/v1/CourseStructure.xsd"
TINCAN = "http://projecttincan.com/tincan.xsd"


def check_export(fmt: ExportFormat, descriptor: bytes, names: frozenset[str]) -> list[str]:
    """Every rule ``descriptor`` (in a package holding ``names``) breaks; empty when it conforms."""
    try:
        root = fromstring(descriptor, forbid_dtd=True)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the finding
        return [f"{DESCRIPTORS[fmt]} is not well-formed XML: {exc}"]
    checker: Callable[[Element, frozenset[str]], list[str]]
    if fmt in _SCORM:
        return _check_scorm(fmt, root, names)
    checker = _check_cmi5 if fmt is ExportFormat.CMI5 else _check_xapi
    return checker(root, names)


def _q(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


def _relative_file(href: str, names: frozenset[str], subject: str) -> list[str]:
    if not href or is_absolute_iri(href) or href.startswith("/") or any(ch.isspace() for ch in href):
        return [f"{subject} {href!r} is not a relative URL without whitespace"]
    path = unquote(split_parameters(href)[0])
    return [] if path in names else [f"{subject} {href!r} names no file of the package"]


def _number(value: str | None, low: float, high: float, subject: str) -> list[str]:
    try:
        number = float(value or "")
    except ValueError:
        return [f"{subject} {value!r} is not a number"]
    return [] if low <= number <= high else [f"{subject} {value!r} is outside {low}..{high}"]


def _check_scorm(fmt: ExportFormat, root: Element, names: frozenset[str]) -> list[str]:
    spec = _SCORM[fmt]
    cp, adlcp = spec["cp"], spec["adlcp"]
    failures: list[str] = []
    if root.tag != _q(cp, "manifest"):
        return [f"imsmanifest.xml root is {root.tag}, not {{{cp}}}manifest"]
    schema = root.findtext(f"{_q(cp, 'metadata')}/{_q(cp, 'schema')}")
    version = root.findtext(f"{_q(cp, 'metadata')}/{_q(cp, 'schemaversion')}")
    if schema != "ADL SCORM":
        failures.append(f"metadata/schema is {schema!r}, not 'ADL SCORM'")
    if version != spec["schemaversion"]:
        failures.append(f"metadata/schemaversion is {version!r}, not {spec['schemaversion']!r}")
    failures += _identifiers(root, cp)
    resources = root.findall(f"{_q(cp, 'resources')}/{_q(cp, 'resource')}")
    resource_ids = {resource.get("identifier") for resource in resources}
    failures += _items(root, cp, adlcp, resource_ids)
    listed: set[str] = set()
    for resource in resources:
        failures += _scorm_resource(resource, spec, resource_ids, names, listed)
    unlisted = sorted(names - listed - {"imsmanifest.xml"})
    if unlisted:
        failures.append(f"files no resource lists: {', '.join(unlisted[:5])}")
    failures += _measures(root, adlcp)
    default = root.find(_q(cp, "organizations"))
    organizations = {org.get("identifier") for org in root.iter(_q(cp, "organization"))}
    if default is None or default.get("default") not in organizations:
        failures.append("organizations/@default names no organization")
    return failures


def _items(root: Element, cp: str, adlcp: str, resource_ids: set[str | None]) -> list[str]:
    failures: list[str] = []
    if not root.findall(f".//{_q(cp, 'item')}"):
        failures.append("the organization has no item")
    for titled in [*root.iter(_q(cp, "organization")), *root.iter(_q(cp, "item"))]:
        if not (titled.findtext(_q(cp, "title")) or "").strip():
            failures.append(f"{titled.tag.rsplit('}', 1)[-1]} {titled.get('identifier')!r} has no title")
    for item in root.iter(_q(cp, "item")):
        ref = item.get("identifierref")
        leaf = item.find(_q(cp, "item")) is None
        if ref is None and leaf:
            # Exports write an item only for a part or for an aggregation of parts: a leaf without
            # a resource is a lost part.
            failures.append(f"item {item.get('identifier')!r} references no resource")
        elif ref is not None and not leaf and cp == _SCORM[ExportFormat.SCORM2004]["cp"]:
            failures.append(
                f"item {item.get('identifier')!r} has children and a resource (2004: leaves only)"
            )
        elif ref is not None and ref not in resource_ids:
            failures.append(f"item {item.get('identifier')!r} references missing resource {ref!r}")
        mastery = item.find(_q(adlcp, "masteryscore"))
        if mastery is not None:
            failures += _number(mastery.text, 0, 100, "adlcp:masteryscore")
    return failures


def _identifiers(root: Element, cp: str) -> list[str]:
    failures: list[str] = []
    spaces = {
        "item": [*root.iter(_q(cp, "organization")), *root.iter(_q(cp, "item"))],
        "resource": list(root.iter(_q(cp, "resource"))),
    }
    for space, elements in spaces.items():
        seen: set[str] = set()
        for node in elements:
            identifier = node.get("identifier") or ""
            if not is_ncname(identifier):
                failures.append(f"{space} identifier {identifier!r} is not an xs:ID")
            if identifier in seen:
                failures.append(f"{space} identifier {identifier!r} is used twice")
            seen.add(identifier)
    if not is_ncname(root.get("identifier") or ""):
        failures.append(f"manifest identifier {root.get('identifier')!r} is not an xs:ID")
    return failures


def _scorm_resource(
    resource: Element,
    spec: dict[str, str],
    resource_ids: set[str | None],
    names: frozenset[str],
    listed: set[str],
) -> list[str]:
    cp, adlcp, wanted = spec["cp"], spec["adlcp"], spec["type"]
    identifier = resource.get("identifier")
    failures: list[str] = []
    typed = resource.get(_q(adlcp, wanted))
    if typed not in ("sco", "asset"):
        others = [
            key for key in resource.attrib if key.lower().endswith("scormtype") and key != _q(adlcp, wanted)
        ]
        hint = f" (found {others[0]})" if others else ""
        failures.append(f"resource {identifier!r} lacks adlcp:{wanted}='sco'|'asset'{hint}")
    href = resource.get("href")
    if href is not None:
        failures += _relative_file(href, names, f"resource {identifier!r} href")
    elif typed == "sco":
        failures.append(f"SCO resource {identifier!r} has no href")
    for file in resource.findall(_q(cp, "file")):
        failures += _relative_file(file.get("href") or "", names, f"resource {identifier!r} file")
        listed.add(unquote(file.get("href") or ""))
    for dependency in resource.findall(_q(cp, "dependency")):
        if dependency.get("identifierref") not in resource_ids:
            failures.append(f"resource {identifier!r} depends on missing {dependency.get('identifierref')!r}")
    return failures


def _measures(root: Element, adlcp: str) -> list[str]:
    failures: list[str] = []
    for measure in root.iter(_q(IMSSS, "minNormalizedMeasure")):
        failures += _number(measure.text, -1, 1, "imsss:minNormalizedMeasure")
    for threshold in root.iter(_q(adlcp, "completionThreshold")):
        failures += _number(threshold.get("minProgressMeasure", "1.0"), 0, 1, "minProgressMeasure")
    return failures


def _unique_iris(elements: list[Element], kind: str) -> list[str]:
    failures: list[str] = []
    seen: set[str] = set()
    for node in elements:
        identifier = node.get("id") or ""
        if not is_absolute_iri(identifier):
            failures.append(f"{kind} id {identifier!r} is not an absolute IRI")
        if identifier in seen:
            failures.append(f"{kind} id {identifier!r} is used twice")
        seen.add(identifier)
    return failures


def _check_cmi5(root: Element, names: frozenset[str]) -> list[str]:
    if root.tag != _q(CMI5, "courseStructure"):
        return [f"cmi5.xml root is {root.tag}, not courseStructure"]
    courses = root.findall(_q(CMI5, "course"))
    aus = list(root.iter(_q(CMI5, "au")))
    ids = [*courses, *root.iter(_q(CMI5, "block")), *aus]
    ids += [node for node in root.iter(_q(CMI5, "objective")) if node.get("id") is not None]
    failures = [] if len(courses) == 1 else ["cmi5.xml needs exactly one course"]
    failures += _unique_iris(ids, "course structure")
    if not aus:
        failures.append("cmi5.xml has no au")
    move_on = {value.value for value in MoveOn}
    methods = {value.value for value in LaunchMethod}
    for au in aus:
        label = f"au {au.get('id')!r}"
        url = au.findtext(_q(CMI5, "url")) or ""
        failures += _relative_file(url, names, f"{label} url")
        if au.get("moveOn", "NotApplicable") not in move_on:
            failures.append(f"{label} moveOn {au.get('moveOn')!r} is not allowed")
        if au.get("launchMethod", "AnyWindow") not in methods:
            failures.append(f"{label} launchMethod {au.get('launchMethod')!r} is not allowed")
        if au.get("masteryScore") is not None:
            failures += _number(au.get("masteryScore"), 0, 1, f"{label} masteryScore")
    return failures


def _check_xapi(root: Element, names: frozenset[str]) -> list[str]:
    if root.tag != _q(TINCAN, "tincan"):
        return [f"tincan.xml root is {root.tag}, not tincan"]
    activities = list(root.iter(_q(TINCAN, "activity")))
    failures = _unique_iris(activities, "activity")
    launches = [node for node in activities if node.find(_q(TINCAN, "launch")) is not None]
    # LMSs launch the first activity with a launch: that must be the course, and the only one,
    # or the parts after it are never reached (or reached outside the course).
    if not activities or launches != activities[:1]:
        failures.append("tincan.xml needs exactly one activity with a launch, the first (the course)")
    elif activities[0].get("type") != "http://adlnet.gov/expapi/activities/course":
        failures.append("the launched tincan.xml activity is not of type course")
    for activity in launches:
        launch = activity.findtext(_q(TINCAN, "launch")) or ""
        failures += _relative_file(launch, names, f"activity {activity.get('id')!r} launch")
    return failures
