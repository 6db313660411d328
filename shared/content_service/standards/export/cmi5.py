"""cmi5.xml: one course, one AU per unit, AU urls relative to the package.

The course id is the ``identifier`` option when it is an absolute IRI, else a URN made from
it (or from the content hash). AU ids are the source launch ids when those already are
absolute IRIs (an imported cmi5 or xAPI package keeps its ids), else IRIs under the course.
The mastery score (0..1) is each AU's ``masteryScore``; moveOn and launchMethod are the
options'; the reporting pair and completion threshold are applied by the bridge.
"""

from __future__ import annotations

from content_service.standards.export.errors import ExportError
from content_service.standards.export.identifiers import UniqueNames, child_iri, course_iri
from content_service.standards.export.options import ExportOptions
from content_service.standards.export.plan import ExportPlan
from content_service.standards.export.scorm import number
from content_service.standards.export.xmlwrite import Node, element, render

CMI5_NAMESPACE = "https://w3id.org/xapi/profiles/cmi5/v1/CourseStructure.xsd"


def course_id(plan: ExportPlan) -> str:
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


def cmi5_xml(plan: ExportPlan, options: ExportOptions) -> bytes:
    """The course structure."""
    root = element("courseStructure", xmlns=CMI5_NAMESPACE)
    course = root.add(element("course", id=course_id(plan)))
    course.add(_langstrings("title", plan.title, plan.language))
    course.add(_langstrings("description", plan.description, plan.language))
    for unit, identifier in zip(plan.units, au_ids(plan), strict=True):
        if not unit.is_html:
            raise ExportError(
                f"launch {unit.launch_id!r} opens {unit.href!r}, which is not an HTML page: a cmi5 AU"
                " must run the bridge to report"
            )
        au = root.add(
            element(
                "au",
                id=identifier,
                moveOn=options.cmi5_move_on().value,
                masteryScore=number(options.mastery_score) if options.mastery_score is not None else None,
                launchMethod=options.launch_method.value,
            )
        )
        au.add(_langstrings("title", unit.title, plan.language))
        au.add(_langstrings("description", unit.title, plan.language))
        au.add(element("url", unit.url))
    return render(root)
