"""tincan.xml: one launchable activity per unit (the TinCan launch convention).

Activity ids follow the cmi5 rule (the source id when it is an absolute IRI, else an IRI
under the course); a single-unit package's activity is the course itself. The launch is
package-relative. What the launched content reports is the bridge's job.
"""

from __future__ import annotations

from content_service.standards.export.errors import ExportError
from content_service.standards.export.identifiers import UniqueNames, child_iri, course_iri
from content_service.standards.export.options import ExportOptions
from content_service.standards.export.plan import ExportPlan
from content_service.standards.export.xmlwrite import element, render

TINCAN_NAMESPACE = "http://projecttincan.com/tincan.xsd"
COURSE_TYPE = "http://adlnet.gov/expapi/activities/course"
MODULE_TYPE = "http://adlnet.gov/expapi/activities/module"


def activity_ids(plan: ExportPlan) -> list[str]:
    """The activity id of each unit, unique in the package."""
    course = course_iri(plan.identifier, f"course-{plan.content_hash[:16]}")
    if len(plan.units) == 1:
        return [course]
    names = UniqueNames()
    return [names.claim(child_iri(course, "activity", unit.launch_id)) for unit in plan.units]


def tincan_xml(plan: ExportPlan, options: ExportOptions) -> bytes:
    """The tincan.xml descriptor."""
    root = element("tincan", xmlns=TINCAN_NAMESPACE)
    activities = root.add(element("activities"))
    single = len(plan.units) == 1
    for unit, identifier in zip(plan.units, activity_ids(plan), strict=True):
        if not unit.is_html:
            raise ExportError(
                f"launch {unit.launch_id!r} opens {unit.href!r}, which is not an HTML page: an xAPI"
                " activity must run the bridge to report"
            )
        activity = activities.add(
            element("activity", id=identifier, type=COURSE_TYPE if single else MODULE_TYPE)
        )
        activity.add(element("name", unit.title, lang=plan.language))
        activity.add(element("description", plan.description if single else unit.title, lang=plan.language))
        activity.add(element("launch", unit.url, lang=plan.language))
    return render(root)
