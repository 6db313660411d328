"""tincan.xml: one course activity that launches, and the course's parts as activities without launch.

LMSs launch a tincan package by its first activity with a ``<launch>``, so that activity is
the course: with one part it launches that part; with several it launches a generated
launcher page (``content-launcher.html``) that lists the parts, in the course outline's
tree, each link carrying the LMS's launch parameters on to the part with the part's own
``activity_id``. The parts are activities of type module, listed after the course, without
a launch of their own.

Ids: the course is the ``identifier`` option (an IRI, or a name made a URN), else the source's
own id when the source is a single activity with an absolute IRI (an xAPI package keeps its
id), else a URN from the content hash. A part keeps its source launch id when that is an
absolute IRI, else gets an IRI under the course. What the launched content reports is the
bridge's job; a part's statements name the course as their parent activity.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from content_service.domain.tenant import Branding
from content_service.standards.export.errors import ExportError
from content_service.standards.export.identifiers import UniqueNames, child_iri, course_iri
from content_service.standards.export.options import ExportOptions
from content_service.standards.export.outline import OutlineItem
from content_service.standards.export.plan import (
    BRANDING_CSS_PATH,
    BRIDGE_PATH,
    LAUNCHER_PATH,
    ExportPlan,
    encode_path,
)
from content_service.standards.export.xmlwrite import element, render
from content_service.standards.hrefs import is_absolute_iri

TINCAN_NAMESPACE = "http://projecttincan.com/tincan.xsd"
COURSE_TYPE = "http://adlnet.gov/expapi/activities/course"
MODULE_TYPE = "http://adlnet.gov/expapi/activities/module"


def needs_launcher(plan: ExportPlan) -> bool:
    """Whether the course launches the generated launcher page (it has more than one part)."""
    return len(plan.units) > 1


def course_id(plan: ExportPlan) -> str:
    """The course activity's IRI."""
    if plan.identifier is None and len(plan.units) == 1 and is_absolute_iri(plan.units[0].launch_id):
        return plan.units[0].launch_id
    return course_iri(plan.identifier, f"course-{plan.content_hash[:16]}")


def activity_ids(plan: ExportPlan) -> list[str]:
    """The activity id of each unit, unique in the package (a single unit is the course itself)."""
    course = course_id(plan)
    if not needs_launcher(plan):
        return [course]
    names = UniqueNames()
    names.claim(course)
    return [names.claim(child_iri(course, "activity", unit.launch_id)) for unit in plan.units]


def _require_html(plan: ExportPlan) -> None:
    for unit in plan.units:
        if not unit.is_html:
            raise ExportError(
                f"launch {unit.launch_id!r} opens {unit.href!r}, which is not an HTML page: an xAPI"
                " activity must run the bridge to report"
            )


def tincan_xml(plan: ExportPlan, options: ExportOptions) -> bytes:
    """The tincan.xml descriptor."""
    _require_html(plan)
    root = element("tincan", xmlns=TINCAN_NAMESPACE)
    activities = root.add(element("activities"))
    course = activities.add(element("activity", id=course_id(plan), type=COURSE_TYPE))
    course.add(element("name", plan.title, lang=plan.language))
    course.add(element("description", plan.description, lang=plan.language))
    launch = encode_path(LAUNCHER_PATH) if needs_launcher(plan) else plan.units[0].url
    course.add(element("launch", launch, lang=plan.language))
    if needs_launcher(plan):
        for unit, identifier in zip(plan.units, activity_ids(plan), strict=True):
            part = activities.add(element("activity", id=identifier, type=MODULE_TYPE))
            part.add(element("name", unit.title, lang=plan.language))
            part.add(element("description", unit.title, lang=plan.language))
    return render(root)


#: The launcher page's own rules for a branded export: only the brand's custom properties, which
#: content-branding.css defines (each passed the branding's CSS rules), with plain fallbacks.
BRANDED_STYLE = (
    ".content-brand{border-bottom:4px solid var(--brand-primary);padding:.5rem 0}"
    ".content-brand img{max-height:3rem;max-width:12rem}"
    "h1{color:var(--brand-primary)}"
    "a{color:var(--brand-secondary,var(--brand-primary))}"
)


def launcher_page(plan: ExportPlan, branding: Branding | None = None) -> bytes:
    """The page the course launches when it has several parts: the outline, one link per part.

    The links work without script; the bridge (``data-role="launcher"``) adds the LMS's launch
    parameters to each, with the part's ``activity_id``. The page is ours, not the content's, so
    a branded export brands it throughout: the tenant's stylesheet, a header with the brand's logo
    (or name), and the title and links in the brand's colours (``BRANDED_STYLE``).
    """
    ids = activity_ids(plan)
    brand: list[str] = []
    header: list[str] = []
    if branding is not None:
        brand = [
            f'<link rel="stylesheet" href="{encode_path(BRANDING_CSS_PATH)}" data-content-branding="1">',
            f"<style>{BRANDED_STYLE}</style>",
        ]
        mark = (
            f"<img src={quoteattr(encode_path(branding.logo.filename))} alt={quoteattr(branding.name)}>"
            if branding.logo is not None
            else f"<span>{escape(branding.name)}</span>"
        )
        header = [f'<header class="content-brand">{mark}</header>']
    lines = [
        "<!doctype html>",
        f"<html lang={quoteattr(plan.language)}>",
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(plan.title)}</title>",
        *brand,
        f'<script src="{encode_path(BRIDGE_PATH)}" data-content-bridge="1" data-standard="xapi"'
        f' data-role="launcher" data-course={quoteattr(course_id(plan))}></script>',
        "</head>",
        "<body>",
        *header,
        f"<h1>{escape(plan.title)}</h1>",
        '<nav aria-label="Parts">',
        *_list(plan, plan.outline.items, ids),
        "</nav>",
        "</body>",
        "</html>",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _list(plan: ExportPlan, items: tuple[OutlineItem, ...], ids: list[str]) -> list[str]:
    entries: list[str] = []
    for item in items:
        inner = _list(plan, item.children, ids)
        if item.unit is not None:
            unit = plan.units[item.unit]
            label = (
                f"<a href={quoteattr(unit.url)} data-activity={quoteattr(ids[item.unit])}>"
                f"{escape(unit.title)}</a>"
            )
        elif inner:
            label = f"<span>{escape(item.title)}</span>"
        else:
            continue
        entries.append(f"<li>{label}" + ("\n" + "\n".join(inner) if inner else "") + "</li>")
    return ["<ul>", *entries, "</ul>"] if entries else []
