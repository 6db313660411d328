"""cmi5: cmi5.xml (the course structure) with its course, blocks, AUs and objectives.

Checks, in two passes so the structural problems win over launch problems:

1. Structure: the elements CourseStructure.xsd requires, in its order (an AU's ``url`` after
   its ``title`` and ``description``); every course, block, AU and objective id is an absolute
   IRI (cmi5 3.0.0.0-1) and unique in the course (13.1.2.0-1, 13.1.4.0-1); objective idrefs
   name an objective of the course; moveOn, masteryScore and launchMethod have allowed values.
2. Launches: each AU url is a valid URL (13.1.4.0-2), its query does not use a name the LMS
   appends at launch (endpoint, fetch, actor, registration, activityId: 8.1.0.0-6), and it
   names a file of the package (14.1.0.0-4).

cmi5 allows AUs hosted elsewhere (an absolute url). This service serves content only from
the package and its own content origin, so such an AU is refused as ``launch.external_url``.

Elements in other namespaces are extensions (the XSD allows ``##other``) and are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl
from xml.etree.ElementTree import Element

from content_service.domain.package import Launch, Standard
from content_service.packaging.model import Descriptor, DescriptorSource
from content_service.standards import problems
from content_service.standards.common import ProblemList, reject
from content_service.standards.hrefs import HrefRefused, is_absolute_iri, resolve, split_parameters
from content_service.standards.xml import XmlDocument, local, namespace, text, title_text

CMI5_NAMESPACE = "https://w3id.org/xapi/profiles/cmi5/v1/CourseStructure.xsd"
MOVE_ON = frozenset({"Passed", "Completed", "CompletedAndPassed", "CompletedOrPassed", "NotApplicable"})
LAUNCH_METHODS = frozenset({"AnyWindow", "OwnWindow"})
RESERVED_PARAMETERS = frozenset({"endpoint", "fetch", "actor", "registration", "activityId"})
_AU_ORDER = ("title", "description", "objectives", "url", "launchParameters", "entitlementKey")
_BLOCK_HEAD = ("title", "description", "objectives")
# Characters no URL can contain even after a browser's lenient parsing: whitespace, controls,
# angle brackets and quotes. Stricter RFC 3986 rules ({, |, ^) would refuse URLs browsers run.
_URL_FORBIDDEN = re.compile(r"[\s<>\"\x00-\x1f\x7f]")


@dataclass
class _Course:
    document: XmlDocument
    found: ProblemList = field(default_factory=ProblemList)
    ids: set[str] = field(default_factory=set)
    objectives: set[str] = field(default_factory=set)
    aus: list[dict[str, Any]] = field(default_factory=list)


def _own(element: Element) -> list[Element]:
    """Child elements in the cmi5 namespace (or none); other namespaces are extensions."""
    return [
        node for node in element if isinstance(node.tag, str) and namespace(node.tag) in (CMI5_NAMESPACE, "")
    ]


def _langstrings(element: Element | None, *, title: bool = False) -> list[dict[str, str | None]]:
    if element is None:
        return []
    read = title_text if title else text
    strings = [
        {"lang": node.get("lang"), "value": read(node)}
        for node in _own(element)
        if local(node.tag) == "langstring"
    ]
    return strings or ([{"lang": None, "value": read(element)}] if read(element) else [])


def _first(element: Element, name: str) -> Element | None:
    return next((node for node in _own(element) if local(node.tag) == name), None)


def parse(source: DescriptorSource, document: XmlDocument) -> Descriptor:
    """Read cmi5.xml into one launch per AU, refusing what the cmi5 spec says an LMS must."""
    root = document.root
    if local(root.tag) != "courseStructure":
        raise reject(
            problems.XML_UNEXPECTED_ROOT,
            f"{document.path} has root <{local(root.tag)}>, not <courseStructure>",
            document.path,
        )
    course = _Course(document)
    course_element = _first(root, "course")
    if course_element is None:
        raise reject(problems.CMI5_INVALID_STRUCTURE, f"{document.path} has no <course>", document.path)
    head = _identify(course_element, "course", course)
    objectives = [_objective(node, course) for node in _objective_elements(root)]
    structure = [_node(node, None, course) for node in _own(root) if local(node.tag) in ("au", "block")]
    if not course.aus:
        course.found.add(problems.CMI5_INVALID_STRUCTURE, f"{document.path} has no <au>", document.path)
    course.found.raise_if_any()
    launches = _launches(course, source.names)
    titles = head["title"]
    return Descriptor(
        standard=Standard.CMI5,
        title=_display(titles) or head["id"],
        language=titles[0]["lang"] if titles else None,
        launches=launches,
        metadata={
            "course": head,
            "objectives": objectives,
            "structure": structure,
            "au_count": len(course.aus),
        },
    )


def _display(strings: list[dict[str, str | None]]) -> str:
    return next((entry["value"] or "" for entry in strings if entry["value"]), "")


def _objective_elements(root: Element) -> list[Element]:
    container = _first(root, "objectives")
    return (
        [node for node in _own(container) if local(node.tag) == "objective"] if container is not None else []
    )


def _identify(element: Element, kind: str, course: _Course) -> dict[str, Any]:
    """Check an element's id (present, absolute IRI, unique) and read its title/description."""
    document = course.document
    identifier = (element.get("id") or "").strip()
    where = document.where(element)
    if not identifier:
        course.found.add(problems.CMI5_INVALID_STRUCTURE, f"a <{kind}> at {where} has no id", document.path)
    elif not is_absolute_iri(identifier):
        course.found.add(
            problems.CMI5_INVALID_IRI,
            f"{kind} id {identifier!r} is not an absolute IRI ({where})",
            document.path,
        )
    elif identifier in course.ids:
        course.found.add(
            problems.CMI5_DUPLICATE_ID,
            f"{kind} id {identifier!r} is used more than once ({where})",
            document.path,
        )
    course.ids.add(identifier)
    title = _langstrings(_first(element, "title"), title=True)
    if not title:
        course.found.add(
            problems.CMI5_INVALID_STRUCTURE, f"{kind} {identifier!r} has no <title>", document.path
        )
    return {"id": identifier, "title": title, "description": _langstrings(_first(element, "description"))}


def _objective(element: Element, course: _Course) -> dict[str, Any]:
    node = _identify(element, "objective", course)
    course.objectives.add(node["id"])
    return node


def _references(element: Element, owner: str, course: _Course) -> list[str]:
    container = _first(element, "objectives")
    if container is None:
        return []
    idrefs = [(node.get("idref") or "").strip() for node in _own(container) if local(node.tag) == "objective"]
    for idref in idrefs:
        if idref not in course.objectives:
            course.found.add(
                problems.CMI5_UNKNOWN_OBJECTIVE,
                f"{owner} refers to objective {idref!r}, which the course does not define",
                course.document.path,
            )
    return idrefs


def _node(element: Element, block: str | None, course: _Course) -> dict[str, Any]:
    if local(element.tag) == "au":
        return _au(element, block, course)
    node = {"type": "block", **_identify(element, "block", course)}
    _check_order(element, _BLOCK_HEAD, "block", node["id"], course, rest=("au", "block"))
    node["objectives"] = _references(element, f"block {node['id']!r}", course)
    node["children"] = [
        _node(item, node["id"], course) for item in _own(element) if local(item.tag) in ("au", "block")
    ]
    if not node["children"]:
        course.found.add(
            problems.CMI5_INVALID_STRUCTURE,
            f"block {node['id']!r} has no <au> or <block>",
            course.document.path,
        )
    return node


def _au(element: Element, block: str | None, course: _Course) -> dict[str, Any]:
    document = course.document
    node: dict[str, Any] = {"type": "au", **_identify(element, "au", course), "block": block}
    _check_order(element, _AU_ORDER, "au", node["id"], course)
    node["objectives"] = _references(element, f"au {node['id']!r}", course)
    url = _first(element, "url")
    if url is None or not text(url):
        course.found.add(problems.CMI5_INVALID_STRUCTURE, f"au {node['id']!r} has no <url>", document.path)
    node["url"] = text(url)
    for name in ("launchParameters", "entitlementKey"):
        value = _first(element, name)
        node[name] = text(value) if value is not None else None
    node.update(_au_attributes(element, node["id"], course))
    course.aus.append(node)
    return node


def _au_attributes(element: Element, identifier: str, course: _Course) -> dict[str, Any]:
    path = course.document.path
    move_on = (element.get("moveOn") or "NotApplicable").strip()
    if move_on not in MOVE_ON:
        course.found.add(problems.CMI5_INVALID_VALUE, f"au {identifier!r} has moveOn={move_on!r}", path)
    launch_method = (element.get("launchMethod") or "AnyWindow").strip()
    if launch_method not in LAUNCH_METHODS:
        course.found.add(
            problems.CMI5_INVALID_VALUE, f"au {identifier!r} has launchMethod={launch_method!r}", path
        )
    mastery: float | None = None
    raw_mastery = element.get("masteryScore")
    if raw_mastery is not None:
        try:
            mastery = float(raw_mastery)
        except ValueError:
            mastery = None
        if mastery is None or not 0.0 <= mastery <= 1.0:
            course.found.add(
                problems.CMI5_INVALID_VALUE, f"au {identifier!r} has masteryScore={raw_mastery!r}", path
            )
    activity_type = element.get("activityType")
    if activity_type is not None and not is_absolute_iri(activity_type.strip()):
        course.found.add(problems.CMI5_INVALID_IRI, f"au {identifier!r} activityType is not an IRI", path)
    return {
        "moveOn": move_on,
        "masteryScore": mastery,
        "launchMethod": launch_method,
        "activityType": activity_type,
    }


def _check_order(
    element: Element,
    order: tuple[str, ...],
    kind: str,
    identifier: str,
    course: _Course,
    rest: tuple[str, ...] = (),
) -> None:
    """Refuse children out of CourseStructure.xsd's sequence (e.g. url before title)."""
    position = 0
    for node in _own(element):
        name = local(node.tag)
        if name in rest:
            position = len(order)
            continue
        if name not in order:
            course.found.add(
                problems.CMI5_INVALID_STRUCTURE,
                f"{kind} {identifier!r} has an unexpected <{name}> ({course.document.where(node)})",
                course.document.path,
            )
            continue
        index = order.index(name)
        if index < position:
            course.found.add(
                problems.CMI5_INVALID_STRUCTURE,
                f"{kind} {identifier!r} has <{name}> out of the order CourseStructure.xsd requires"
                f" ({course.document.where(node)})",
                course.document.path,
            )
        position = max(position, index)


def _launches(course: _Course, names: frozenset[str]) -> tuple[Launch, ...]:
    found = ProblemList()
    launches: list[Launch] = []
    for au in course.aus:
        launch = _launch(au, names, course.document.path, found)
        if launch is not None:
            launches.append(launch)
    found.raise_if_any()
    return tuple(launches)


def _launch(au: dict[str, Any], names: frozenset[str], path: str, found: ProblemList) -> Launch | None:
    subject = f"au {au['id']!r}"
    url: str = au["url"]
    if _URL_FORBIDDEN.search(url):
        found.add(problems.CMI5_INVALID_URL, f"{subject} has url {url!r}, which is not a valid URL", path)
        return None
    query = split_parameters(url)[1].partition("#")[0].lstrip("?")
    reserved = sorted({key for key, _ in parse_qsl(query, keep_blank_values=True)} & RESERVED_PARAMETERS)
    if reserved:
        found.add(
            problems.CMI5_RESERVED_LAUNCH_PARAMETER,
            f"{subject} url {url!r} sets {', '.join(reserved)}, which the LMS appends at launch",
            path,
        )
        return None
    try:
        target = resolve(url, names, descriptor=path, subject=subject)
    except HrefRefused as refusal:
        found.add_refusal(refusal)
        return None
    attributes = {
        key: au[key]
        for key in (
            "moveOn",
            "masteryScore",
            "launchMethod",
            "activityType",
            "launchParameters",
            "entitlementKey",
        )
    }
    return Launch(
        id=au["id"],
        title=_display(au["title"]) or au["id"],
        href=target.path,
        parameters=target.parameters,
        kind="au",
        attributes={**attributes, "block": au["block"], "url": url, "objectives": au["objectives"]},
    )
