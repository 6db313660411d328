"""SCORM 2004 (2nd, 3rd and 4th editions): imsmanifest.xml with adlcp/imsss/adlseq/adlnav.

Sequencing is kept verbatim: every ``imsss:sequencing`` (on items and organizations) and the
manifest's ``imsss:sequencingCollection`` are serialised back to XML text with the
document's own prefixes, so a sequencing engine (or an export) gets exactly what the author
wrote. The adlcp item settings (dataFromLMS, timeLimitAction, completionThreshold, data
maps) and adlnav presentation are kept too.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from content_service.standards.common import ProblemList
from content_service.standards.imscp import Dialect
from content_service.standards.xml import XmlDocument, child, children, local, serialize, text

_TEXT_SETTINGS = ("dataFromLMS", "timeLimitAction")


def sequencing_collection(root: Element, document: XmlDocument) -> str | None:
    """The manifest's ``sequencingCollection`` as XML text, if it has one."""
    collection = child(root, "sequencingCollection")
    return serialize(collection, document) if collection is not None else None


def item_metadata(element: Element, document: XmlDocument) -> dict[str, Any]:
    """The 2004 extensions of one item; absent ones are left out."""
    found: dict[str, Any] = {}
    for name in _TEXT_SETTINGS:
        setting = child(element, name)
        if setting is not None:
            found[name] = text(setting)
    threshold = child(element, "completionThreshold")
    if threshold is not None:
        found["completionThreshold"] = {
            **{local(key): value for key, value in threshold.attrib.items()},
            **({"value": text(threshold)} if text(threshold) else {}),
        }
    data = child(element, "data")
    if data is not None:
        found["data"] = [
            {local(key): value for key, value in shared.attrib.items()} for shared in children(data, "map")
        ]
    for name in ("sequencing", "presentation"):
        node = child(element, name)
        if node is not None:
            found[name] = serialize(node, document)
    return found


def launch_attributes(item: dict[str, Any]) -> dict[str, Any]:
    """The per-launch values a 2004 runtime needs from the item."""
    return {name: item[name] for name in (*_TEXT_SETTINGS, "completionThreshold") if name in item}


def check_item(element: Element, document: XmlDocument, found: ProblemList) -> None:
    """SCORM 2004 items need no checks beyond IMS CP's; extensions are read leniently."""


def organization_metadata(element: Element, document: XmlDocument) -> dict[str, Any]:
    """The organization's own sequencing, verbatim."""
    sequencing = child(element, "sequencing")
    return {"sequencing": serialize(sequencing, document)} if sequencing is not None else {}


DIALECT = Dialect(
    item_metadata=item_metadata,
    launch_attributes=launch_attributes,
    check_item=check_item,
    organization_metadata=organization_metadata,
)
