"""xAPI packages described by tincan.xml (the TinCan / Rustici launch convention).

Each ``<activity>`` with a ``<launch>`` element is one launch; activities without one (the
course's questions, objectives and the like) are kept in the metadata only. Activity ids
are statement object ids, so they must be absolute IRIs. The launch href is relative to the
package, like a SCORM href, and follows the same rules (``content_service.standards.hrefs``).
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from content_service.domain.package import Launch, Standard
from content_service.packaging.model import Descriptor, DescriptorSource
from content_service.standards import problems
from content_service.standards.common import ProblemList, reject
from content_service.standards.hrefs import HrefRefused, is_absolute_iri, resolve
from content_service.standards.xml import XML_LANG, XmlDocument, child, children, local, text, title_text


def _langstrings(element: Element, name: str) -> list[dict[str, str | None]]:
    read = title_text if name == "name" else text
    return [
        {"lang": node.get("lang") or node.get(XML_LANG), "value": read(node)}
        for node in children(element, name)
    ]


def _activity(element: Element) -> dict[str, Any]:
    launch = child(element, "launch")
    return {
        "id": (element.get("id") or "").strip(),
        "type": element.get("type"),
        "name": _langstrings(element, "name"),
        "description": _langstrings(element, "description"),
        "launch": text(launch) if launch is not None else None,
        "launch_lang": (launch.get("lang") or launch.get(XML_LANG)) if launch is not None else None,
    }


def parse(source: DescriptorSource, document: XmlDocument) -> Descriptor:
    """Read tincan.xml into one launch per activity that has a launch element."""
    root = document.root
    if local(root.tag) != "tincan":
        raise reject(
            problems.XML_UNEXPECTED_ROOT,
            f"{document.path} has root <{local(root.tag)}>, not <tincan>",
            document.path,
        )
    container = child(root, "activities")
    activities = (
        [_activity(node) for node in children(container, "activity")] if container is not None else []
    )
    launchable = [activity for activity in activities if activity["launch"]]
    if not launchable:
        raise reject(
            problems.XAPI_NO_LAUNCH, f"{document.path} has no <activity> with a <launch>", document.path
        )
    found = ProblemList()
    for activity in launchable:
        if not is_absolute_iri(activity["id"]):
            found.add(
                problems.XAPI_INVALID_IRI,
                f"activity id {activity['id']!r} is not an absolute IRI",
                document.path,
            )
    found.raise_if_any()
    launches = []
    for activity in launchable:
        try:
            target = resolve(
                activity["launch"],
                source.names,
                descriptor=document.path,
                subject=f"activity {activity['id']!r}",
            )
        except HrefRefused as refusal:
            found.add_refusal(refusal)
            continue
        launches.append(
            Launch(
                id=activity["id"],
                title=_name(activity) or activity["id"],
                href=target.path,
                parameters=target.parameters,
                kind="activity",
                attributes={
                    "type": activity["type"],
                    "lang": activity["launch_lang"],
                    "href": target.written,
                },
            )
        )
    found.raise_if_any()
    first = launchable[0]
    language = first["launch_lang"] or next((name["lang"] for name in first["name"] if name["lang"]), None)
    return Descriptor(
        standard=Standard.XAPI,
        title=launches[0].title,
        language=language,
        launches=tuple(launches),
        metadata={"activities": activities},
    )


def _name(activity: dict[str, Any]) -> str:
    return next((name["value"] for name in activity["name"] if name["value"]), "")
