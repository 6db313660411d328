"""The course outline an export keeps: the source's own tree of parts, not just a list of launches.

Every format can carry a tree: SCORM item trees (1.2 and 2004), cmi5 blocks, and an xAPI
course with its parts. The outline is read once from the built manifest's metadata, where the
importers keep the source's structure verbatim:

- SCORM 1.2 / 2004: the default organization's item tree (titles, visibility, parameters,
  and each item's own settings: 1.2 prerequisites, masteryscore, maxtimeallowed,
  timelimitaction, datafromlms; 2004 sequencing, presentation, completionThreshold,
  dataFromLMS, timeLimitAction, data maps). An item that launches a SCO is a unit; an item
  that opens an asset while the package has SCOs is kept as an asset item (SCORM exports
  only); an item that references nothing is an aggregation, kept when it holds parts.
- cmi5: blocks become aggregations, AUs units.
- Anything else (native, xAPI): one flat item per launch.

A unit that the tree does not reach (a manifest whose items reference nothing launches its
first resource) is added at the end, so no part of the source is ever lost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from content_service.domain.package import PackageManifest, Standard
from content_service.standards.hrefs import HrefRefused, combine_parameters, resolve


@dataclass(frozen=True)
class OutlineItem:
    """One node of the outline: a part (``unit`` is the index of its launch), an asset or an aggregation.

    ``settings`` holds the source item's own standard settings (SCORM dialect values, verbatim);
    ``asset`` is the package path (and parameters) of an asset item that is not a launch.
    """

    identifier: str
    title: str
    unit: int | None = None
    asset: tuple[str, str] | None = None
    visible: bool = True
    settings: Mapping[str, Any] = field(default_factory=dict)
    children: tuple[OutlineItem, ...] = ()

    @property
    def is_leaf(self) -> bool:
        return not self.children


@dataclass(frozen=True)
class Outline:
    """The tree of an export and what the source's organization itself carried."""

    items: tuple[OutlineItem, ...]
    source: Standard
    organization: Mapping[str, Any] = field(default_factory=dict)
    sequencing_collection: str | None = None
    manifest_identifier: str | None = None
    course_id: str | None = None

    def units_in_order(self) -> list[int]:
        """The unit indexes in tree order."""
        found: list[int] = []

        def walk(items: Sequence[OutlineItem]) -> None:
            for item in items:
                if item.unit is not None:
                    found.append(item.unit)
                walk(item.children)

        walk(self.items)
        return found


def build_outline(manifest: PackageManifest, launch_ids: Sequence[str]) -> Outline:
    """The outline of ``manifest``; ``launch_ids`` are its launches' ids, in order (unit indexes)."""
    metadata = manifest.metadata
    items: tuple[OutlineItem, ...] = ()
    organization: Mapping[str, Any] = {}
    collection = None
    if manifest.standard in (Standard.SCORM12, Standard.SCORM2004):
        organization = _default_organization(metadata)
        items = _scorm_items(organization.get("items", []), manifest, launch_ids)
        collection = metadata.get("sequencing_collection")
    elif manifest.standard is Standard.CMI5:
        items = _cmi5_items(metadata.get("structure", []), launch_ids)
    placed = set(Outline(items, manifest.standard).units_in_order())
    rest = tuple(
        OutlineItem(identifier=launch.id, title=launch.title or launch.id, unit=index)
        for index, launch in enumerate(manifest.launches)
        if index not in placed
    )
    course = metadata.get("course") if manifest.standard is Standard.CMI5 else None
    return Outline(
        items + rest,
        manifest.standard,
        organization,
        collection,
        metadata.get("manifest_identifier") if organization else None,
        course.get("id") if isinstance(course, Mapping) else None,
    )


def _default_organization(metadata: Mapping[str, Any]) -> Mapping[str, Any]:
    organizations = metadata.get("organizations") or []
    wanted = metadata.get("default_organization")
    return next((org for org in organizations if org.get("identifier") == wanted), {}) or (
        organizations[0] if organizations else {}
    )


def _scorm_items(
    items: Sequence[Mapping[str, Any]], manifest: PackageManifest, launch_ids: Sequence[str]
) -> tuple[OutlineItem, ...]:
    units = {launch_id: index for index, launch_id in enumerate(launch_ids)}
    resources = {resource["identifier"]: resource for resource in manifest.metadata.get("resources", [])}
    names = frozenset(entry.path for entry in manifest.files)
    claimed: set[int] = set()

    def node(item: Mapping[str, Any]) -> OutlineItem | None:
        children = tuple(child for child in map(node, item.get("children", [])) if child is not None)
        identifier = item.get("identifier") or ""
        unit = units.get(identifier)
        if unit is not None and unit in claimed:
            unit = None
        asset = None
        if unit is None and item.get("identifierref"):
            asset = _asset(resources.get(item["identifierref"]), item, names)
        if unit is not None:
            claimed.add(unit)
        if unit is None and asset is None and not children:
            return None
        settings = {
            key: value
            for key, value in item.items()
            if key not in ("identifier", "title", "identifierref", "parameters", "isvisible", "children")
        }
        return OutlineItem(
            identifier=identifier,
            title=item.get("title") or identifier,
            unit=unit,
            asset=asset,
            visible=bool(item.get("isvisible", True)),
            settings=settings,
            children=children,
        )

    return tuple(found for found in map(node, items) if found is not None)


def _asset(
    resource: Mapping[str, Any] | None, item: Mapping[str, Any], names: frozenset[str]
) -> tuple[str, str] | None:
    """The package path and parameters an asset item opens, when its resource names a package file."""
    if resource is None or not (resource.get("href") or "").strip():
        return None
    try:
        target = resolve(
            resource["href"],
            names,
            bases=tuple(resource.get("xml_base") or ()),
            descriptor="imsmanifest.xml",
            subject=f"item {item.get('identifier')!r}",
        )
    except HrefRefused:
        return None
    return target.path, combine_parameters(target.parameters, item.get("parameters") or "")


def _cmi5_items(structure: Sequence[Mapping[str, Any]], launch_ids: Sequence[str]) -> tuple[OutlineItem, ...]:
    units = {launch_id: index for index, launch_id in enumerate(launch_ids)}

    def title(node: Mapping[str, Any]) -> str:
        return (
            next((entry["value"] for entry in node.get("title", []) if entry.get("value")), "") or node["id"]
        )

    def node(entry: Mapping[str, Any]) -> OutlineItem | None:
        if entry.get("type") == "au":
            unit = units.get(entry.get("id", ""))
            return (
                None if unit is None else OutlineItem(identifier=entry["id"], title=title(entry), unit=unit)
            )
        children = tuple(child for child in map(node, entry.get("children", [])) if child is not None)
        return (
            OutlineItem(identifier=entry["id"], title=title(entry), children=children) if children else None
        )

    return tuple(found for found in map(node, structure) if found is not None)
