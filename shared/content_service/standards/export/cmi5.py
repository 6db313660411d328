"""cmi5.xml: one course, the outline's aggregations as blocks, one AU per unit, AU urls relative.

The course id is the ``identifier`` option when it is an absolute IRI, else a URN made from
it; without the option a cmi5 source keeps its own course id, and anything else gets a URN
from the content hash. AU and block ids are the source ids when those already are absolute
IRIs (an imported cmi5 or xAPI package keeps its ids), else IRIs under the course.

The outline's tree becomes blocks: a SCORM aggregation item or a cmi5 block is a block; a
SCORM 1.2 item that launches and also has children becomes a block holding its own AU first,
then its children. The mastery score (0..1) is each AU's ``masteryScore``; moveOn and
launchMethod are the options'. A cmi5 source keeps each AU's own moveOn, masteryScore and
launchParameters unless the options set them. The reporting pair and completion threshold
are applied by the bridge.
"""

from __future__ import annotations

from content_service.domain.package import Standard
from content_service.standards.export.errors import ExportError
from content_service.standards.export.identifiers import UniqueNames, child_iri, course_iri
from content_service.standards.export.options import ExportOptions
from content_service.standards.export.outline import OutlineItem
from content_service.standards.export.plan import ExportPlan, Unit
from content_service.standards.export.scorm import number
from content_service.standards.export.xmlwrite import Node, element, render

CMI5_NAMESPACE = "https://w3id.org/xapi/profiles/cmi5/v1/CourseStructure.xsd"


def course_id(plan: ExportPlan) -> str:
    if plan.identifier is None and plan.outline.course_id:
        return plan.outline.course_id
    return course_iri(plan.identifier, f"course-{plan.content_hash[:16]}")


def au_ids(plan: ExportPlan) -> list[str]:
    """The AU id of each unit, unique in the course."""
    course = course_id(plan)
    names = UniqueNames()
    names.claim(course)
    return [names.claim(child_iri(course, "au", unit.launch_id)) for unit in plan.units]


def _langstrings(tag: str, value: str, language: str) -> Node:
    node = element(tag)
    node.add(element("langstring", value, lang=language))
    return node


class _Writer:
    def __init__(self, plan: ExportPlan, options: ExportOptions) -> None:
        self.plan = plan
        self.options = options
        self.course = course_id(plan)
        self.aus = au_ids(plan)
        self.names = UniqueNames()
        for taken in (self.course, *self.aus):
            self.names.claim(taken)
        self.from_cmi5 = plan.outline.source is Standard.CMI5

    def node(self, parent: Node, item: OutlineItem) -> None:
        children = [child for child in item.children if _has_unit(child)]
        if item.unit is not None and not children:
            self.au(parent, self.plan.units[item.unit], self.aus[item.unit])
            return
        if item.unit is None and not children:
            return
        block = parent.add(
            element("block", id=self.names.claim(child_iri(self.course, "block", item.identifier)))
        )
        block.add(_langstrings("title", item.title, self.plan.language))
        block.add(_langstrings("description", item.title, self.plan.language))
        if item.unit is not None:
            self.au(block, self.plan.units[item.unit], self.aus[item.unit])
        for child in children:
            self.node(block, child)

    def au(self, parent: Node, unit: Unit, identifier: str) -> None:
        if not unit.is_html:
            raise ExportError(
                f"launch {unit.launch_id!r} opens {unit.href!r}, which is not an HTML page: a cmi5 AU"
                " must run the bridge to report"
            )
        source = unit.attributes if self.from_cmi5 else {}
        move_on = self.options.move_on.value if self.options.move_on else source.get("moveOn")
        mastery = (
            number(self.options.mastery_score)
            if self.options.mastery_score is not None
            else source.get("masteryScore")
        )
        au = parent.add(
            element(
                "au",
                id=identifier,
                moveOn=move_on or self.options.cmi5_move_on().value,
                masteryScore=str(mastery) if mastery is not None else None,
                launchMethod=self.options.launch_method.value,
            )
        )
        au.add(_langstrings("title", unit.title, self.plan.language))
        au.add(_langstrings("description", unit.title, self.plan.language))
        au.add(element("url", unit.url))
        if source.get("launchParameters"):
            au.add(element("launchParameters", str(source["launchParameters"])))


def _has_unit(item: OutlineItem) -> bool:
    return item.unit is not None or any(_has_unit(child) for child in item.children)


def cmi5_xml(plan: ExportPlan, options: ExportOptions) -> bytes:
    """The course structure."""
    root = element("courseStructure", xmlns=CMI5_NAMESPACE)
    writer = _Writer(plan, options)
    course = root.add(element("course", id=writer.course))
    course.add(_langstrings("title", plan.title, plan.language))
    course.add(_langstrings("description", plan.description, plan.language))
    for item in plan.outline.items:
        writer.node(root, item)
    return render(root)
