"""SCORM 1.2: imsmanifest.xml with the ADL 1.2 (adlcp_rootv1p2) item extensions.

Each item keeps its 1.2 run-time settings verbatim (masteryscore, prerequisites,
maxtimeallowed, timelimitaction, datafromlms): the runtime hands them to the SCO as
``cmi.student_data.*`` and ``cmi.launch_data``, as strings.

1.2 defines exactly those five adlcp elements on an item. Another adlcp name there, such
as 2004's ``dataFromLMS``, fails the ADL 1.2 schema, and an LMS that silently drops it would
start the SCO without the launch data the author meant: it is refused as
``scorm.unknown_element``.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from content_service.standards import problems
from content_service.standards.common import ProblemList
from content_service.standards.imscp import Dialect
from content_service.standards.xml import XmlDocument, child, local, namespace, text

_SETTINGS = ("masteryscore", "maxtimeallowed", "timelimitaction", "datafromlms")
_KNOWN = frozenset({*_SETTINGS, "prerequisites"})


def _is_adlcp(element: Element) -> bool:
    return "adlcp" in namespace(element.tag).lower()


def item_metadata(element: Element, document: XmlDocument) -> dict[str, Any]:
    """The 1.2 run-time settings of one item, verbatim; absent ones are left out."""
    found: dict[str, Any] = {}
    for name in _SETTINGS:
        setting = child(element, name)
        if setting is not None and _is_adlcp(setting):
            found[name] = text(setting)
    prerequisites = child(element, "prerequisites")
    if prerequisites is not None and _is_adlcp(prerequisites):
        found["prerequisites"] = {"type": prerequisites.get("type"), "value": text(prerequisites)}
    return found


def launch_attributes(item: dict[str, Any]) -> dict[str, Any]:
    """The per-launch values a 1.2 runtime needs from the item."""
    return {name: item[name] for name in (*_SETTINGS, "prerequisites") if name in item}


def check_item(element: Element, document: XmlDocument, found: ProblemList) -> None:
    """Refuse adlcp elements that SCORM 1.2 does not define on an item."""
    for node in element:
        if not isinstance(node.tag, str) or not _is_adlcp(node) or local(node.tag) in _KNOWN:
            continue
        name = local(node.tag)
        hint = f" (SCORM 1.2 spells it adlcp:{name.lower()})" if name.lower() in _KNOWN else ""
        found.add(
            problems.SCORM_UNKNOWN_ELEMENT,
            f"item {element.get('identifier')!r} has adlcp:{name}, which SCORM 1.2 does not define{hint}"
            f" ({document.where(node)})",
            document.path,
        )


def organization_metadata(element: Element, document: XmlDocument) -> dict[str, Any]:
    """SCORM 1.2 adds nothing to organizations."""
    return {}


DIALECT = Dialect(
    item_metadata=item_metadata,
    launch_attributes=launch_attributes,
    check_item=check_item,
    organization_metadata=organization_metadata,
)
