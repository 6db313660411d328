"""IMS Content Packaging, the part SCORM 1.2 and SCORM 2004 share.

Reads imsmanifest.xml's organizations, item tree and resources, checks the references a
real LMS checks, and picks the launches. What differs between the SCORM versions (the
adlcp/imsss/adlnav extensions on items) comes in through a ``Dialect``.

Launch selection: every item of the default organization that references a SCO becomes
a launch. A package without SCOs (plain web content, such as Rustici's "one file per SCO"
golf example, whose pages are all assets) launches every item that references an asset
instead, so the whole course stays reachable; a manifest whose items reference nothing
launches its first resource with an href.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element

from content_service.domain.package import Launch
from content_service.standards import problems
from content_service.standards.common import ProblemList, reject
from content_service.standards.hrefs import HrefRefused, combine_parameters, resolve
from content_service.standards.xml import (
    XML_BASE,
    XmlDocument,
    attribute,
    child,
    children,
    foreign_attributes,
    local,
    title_text,
)

_ITEM_OWN = frozenset({"identifier", "identifierref", "isvisible", "parameters"})
_ORG_OWN = frozenset({"identifier", "structure"})


@dataclass(frozen=True)
class Dialect:
    """What one SCORM version adds to IMS CP items and organizations."""

    item_metadata: Callable[[Element, XmlDocument], dict[str, Any]]
    launch_attributes: Callable[[dict[str, Any]], dict[str, Any]]
    check_item: Callable[[Element, XmlDocument, ProblemList], None]
    organization_metadata: Callable[[Element, XmlDocument], dict[str, Any]]


@dataclass(frozen=True)
class Resource:
    """One resource element, with the xml:base chain that applies to its href."""

    identifier: str
    href: str | None
    scorm_type: str | None
    type: str | None
    bases: tuple[str | None, ...]
    files: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "identifier": self.identifier,
            "type": self.type,
            "scorm_type": self.scorm_type,
            "href": self.href,
            "xml_base": [base for base in self.bases if base],
            "files": self.files,
        }


@dataclass
class _Walk:
    """State of one pass over the organizations."""

    document: XmlDocument
    dialect: Dialect
    resources: dict[str, Resource]
    submanifests: frozenset[str]
    names: frozenset[str]
    found: ProblemList = field(default_factory=ProblemList)
    identifiers: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class ParsedManifest:
    """What the shared CP reader learned: the title, the launches and the metadata."""

    title: str
    launches: tuple[Launch, ...]
    metadata: dict[str, Any]


def parse_manifest(document: XmlDocument, names: frozenset[str], dialect: Dialect) -> ParsedManifest:
    """Read a SCORM manifest's structure and launches, refusing what an LMS would refuse."""
    root = document.root
    if local(root.tag) != "manifest":
        raise reject(
            problems.XML_UNEXPECTED_ROOT,
            f"{document.path} has root <{local(root.tag)}>, not <manifest>",
            document.path,
        )
    found = ProblemList()
    resources, submanifests = _collect_resources(root, document, found, (root.get(XML_BASE),))
    found.raise_if_any()
    walk = _Walk(document, dialect, resources, frozenset(submanifests), names)
    organizations, default = _organizations(root, walk)
    walk.found.raise_if_any()
    tree = [_organization(org, walk) for org in organizations]
    walk.found.raise_if_any()
    default_tree = tree[organizations.index(default)]
    launches = _launches(default_tree, walk)
    title = (
        default_tree["title"]
        or _first_title(default_tree["items"])
        or root.get("identifier")
        or document.path
    )
    metadata: dict[str, Any] = {
        "manifest_identifier": root.get("identifier"),
        "manifest_version": root.get("version"),
        "xml_base": root.get(XML_BASE),
        "default_organization": default_tree["identifier"],
        "organizations": tree,
        "resources": [resource.as_dict() for resource in resources.values()],
        "submanifests": sorted(submanifests),
    }
    return ParsedManifest(title=title, launches=launches, metadata=metadata)


def _collect_resources(
    manifest: Element, document: XmlDocument, found: ProblemList, bases: tuple[str | None, ...]
) -> tuple[dict[str, Resource], list[str]]:
    resources: dict[str, Resource] = {}
    submanifests: list[str] = []
    container = child(manifest, "resources")
    if container is not None:
        for element in children(container, "resource"):
            identifier = (element.get("identifier") or "").strip()
            if not identifier:
                found.add(
                    problems.SCORM_MISSING_IDENTIFIER,
                    f"a <resource> at {document.where(element)} has no identifier",
                    document.path,
                )
                continue
            if identifier in resources:
                found.add(
                    problems.SCORM_DUPLICATE_IDENTIFIER,
                    f"resource identifier {identifier!r} is used twice ({document.where(element)})",
                    document.path,
                )
                continue
            scorm_type = attribute(element, "scormtype", ignore_case=True)
            resources[identifier] = Resource(
                identifier=identifier,
                href=element.get("href"),
                scorm_type=scorm_type.strip().lower() if scorm_type else None,
                type=element.get("type"),
                bases=(*bases, container.get(XML_BASE), element.get(XML_BASE)),
                files=len(children(element, "file")),
            )
    # Sub-manifests are read politely: their resources can be referenced from the parent's
    # items, and an item may reference a sub-manifest as a whole.
    for sub in children(manifest, "manifest"):
        if sub.get("identifier"):
            submanifests.append(sub.get("identifier", ""))
        sub_resources, nested = _collect_resources(sub, document, found, (*bases, sub.get(XML_BASE)))
        for identifier, resource in sub_resources.items():
            resources.setdefault(identifier, resource)
        submanifests.extend(nested)
    return resources, submanifests


def _organizations(root: Element, walk: _Walk) -> tuple[list[Element], Element]:
    document = walk.document
    container = child(root, "organizations")
    organizations = children(container, "organization") if container is not None else []
    if not organizations:
        raise reject(
            problems.SCORM_MISSING_ORGANIZATION, f"{document.path} has no <organization>", document.path
        )
    by_id: dict[str, Element] = {}
    for organization in organizations:
        identifier = (organization.get("identifier") or "").strip()
        if not identifier:
            walk.found.add(
                problems.SCORM_MISSING_IDENTIFIER,
                f"an <organization> at {document.where(organization)} has no identifier",
                document.path,
            )
            continue
        _claim(identifier, organization, walk)
        by_id[identifier] = organization
    wanted = ((container.get("default") if container is not None else None) or "").strip()
    if wanted and wanted not in by_id and not walk.found.problems:
        walk.found.add(
            problems.SCORM_DEFAULT_ORGANIZATION_MISSING,
            f"organizations/@default is {wanted!r}, but no organization has that identifier",
            document.path,
        )
    return organizations, by_id.get(wanted, organizations[0])


def _claim(identifier: str, element: Element, walk: _Walk) -> None:
    if identifier in walk.identifiers:
        walk.found.add(
            problems.SCORM_DUPLICATE_IDENTIFIER,
            f"identifier {identifier!r} is used twice ({walk.document.where(element)})",
            walk.document.path,
        )
    walk.identifiers.add(identifier)


def _organization(element: Element, walk: _Walk) -> dict[str, Any]:
    document = walk.document
    node: dict[str, Any] = {
        "identifier": element.get("identifier"),
        "title": title_text(child(element, "title")),
        "structure": element.get("structure"),
        "attributes": foreign_attributes(element, document, _ORG_OWN),
    }
    node.update(walk.dialect.organization_metadata(element, document))
    node["items"] = [_item(item, walk) for item in children(element, "item")]
    return node


def _item(element: Element, walk: _Walk) -> dict[str, Any]:
    document = walk.document
    identifier = (element.get("identifier") or "").strip()
    if not identifier:
        walk.found.add(
            problems.SCORM_MISSING_IDENTIFIER,
            f"an <item> at {document.where(element)} has no identifier",
            document.path,
        )
    else:
        _claim(identifier, element, walk)
    reference = (element.get("identifierref") or "").strip() or None
    if reference is not None:
        _check_reference(identifier, reference, element, walk)
    walk.dialect.check_item(element, document, walk.found)
    node: dict[str, Any] = {
        "identifier": identifier,
        "title": title_text(child(element, "title")),
        "identifierref": reference,
        "parameters": element.get("parameters"),
        "isvisible": (element.get("isvisible") or "true").strip().lower() != "false",
        "attributes": foreign_attributes(element, document, _ITEM_OWN),
    }
    node.update(walk.dialect.item_metadata(element, document))
    node["children"] = [_item(item, walk) for item in children(element, "item")]
    return node


def _check_reference(identifier: str, reference: str, element: Element, walk: _Walk) -> None:
    document = walk.document
    resource = walk.resources.get(reference)
    if resource is None and reference not in walk.submanifests:
        walk.found.add(
            problems.SCORM_RESOURCE_NOT_FOUND,
            f"item {identifier!r} references {reference!r}, which is no resource of {document.path}"
            f" ({document.where(element)})",
            document.path,
        )
    elif resource is not None and not (resource.href or "").strip():
        walk.found.add(
            problems.SCORM_MISSING_LAUNCH_HREF,
            f"item {identifier!r} references resource {reference!r}, which has no href to launch",
            document.path,
        )


def _flatten(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    flat: list[dict[str, Any]] = []
    for item in items:
        flat.append(item)
        flat.extend(_flatten(item["children"]))
    return flat


def _first_title(items: list[dict[str, Any]]) -> str:
    return next((item["title"] for item in _flatten(items) if item["title"]), "")


def _launches(organization: dict[str, Any], walk: _Walk) -> tuple[Launch, ...]:
    referencing = [
        (item, walk.resources[item["identifierref"]])
        for item in _flatten(organization["items"])
        if item["identifierref"] in walk.resources
    ]
    chosen = [pair for pair in referencing if pair[1].scorm_type == "sco"] or referencing
    found = ProblemList()
    launches: list[Launch] = []
    for item, resource in chosen:
        launch = _launch(item, resource, organization, walk, found)
        if launch is not None:
            launches.append(launch)
    if not chosen:
        fallback = next((r for r in walk.resources.values() if (r.href or "").strip()), None)
        if fallback is None:
            raise reject(
                problems.SCORM_NO_LAUNCHABLE_ITEM,
                f"no item of organization {organization['identifier']!r} references a resource,"
                " and no resource has an href",
                walk.document.path,
            )
        item = {"identifier": fallback.identifier, "title": organization["title"], "parameters": None}
        launch = _launch(item, fallback, organization, walk, found)
        launches.extend([launch] if launch else [])
    found.raise_if_any()
    return tuple(launches)


def _launch(
    item: dict[str, Any], resource: Resource, organization: dict[str, Any], walk: _Walk, found: ProblemList
) -> Launch | None:
    subject = f"item {item['identifier']!r} (resource {resource.identifier!r})"
    try:
        target = resolve(
            resource.href or "",
            walk.names,
            bases=resource.bases,
            descriptor=walk.document.path,
            subject=subject,
        )
    except HrefRefused as refusal:
        found.add_refusal(refusal)
        return None
    attributes: dict[str, Any] = {
        "organization": organization["identifier"],
        "resource": resource.identifier,
        "scorm_type": resource.scorm_type or "asset",
        "href": target.written,
        "item_parameters": item.get("parameters"),
    }
    attributes.update(walk.dialect.launch_attributes(item))
    return Launch(
        id=item["identifier"],
        title=item.get("title") or resource.identifier,
        href=target.path,
        parameters=combine_parameters(target.parameters, item.get("parameters") or ""),
        kind="sco" if resource.scorm_type == "sco" else "asset",
        attributes=attributes,
    )
