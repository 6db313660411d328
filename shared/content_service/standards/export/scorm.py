"""imsmanifest.xml for SCORM 1.2 and SCORM 2004 4th edition.

One organization; one item per unit, each referencing its own SCO resource (the launched
page), and every other file in one shared asset resource the SCOs depend on, so the manifest
lists every file of the package. A unit whose launch is not an HTML page cannot load the
runtime bridge, so it is an asset, which SCORM launches without a runtime session.

Where the completion model goes:

| option | SCORM 1.2 | SCORM 2004 4th |
| --- | --- | --- |
| mastery score | ``adlcp:masteryscore`` on each item, 0..100 | ``imsss:primaryObjective satisfiedByMeasure`` + ``minNormalizedMeasure`` |
| completion threshold | (no element: the bridge applies it) | ``adlcp:completionThreshold completedByMeasure minProgressMeasure`` |
| reporting pair, language | bridge; ``imsmd:lom`` language | bridge; ``lom:lom`` language |
"""

from __future__ import annotations

from content_service.standards.export.identifiers import UniqueNames, to_ncname
from content_service.standards.export.options import ExportOptions
from content_service.standards.export.plan import BRIDGE_PATH, ExportPlan, encode_path
from content_service.standards.export.schemas import schema_files
from content_service.standards.export.xmlwrite import Node, element, render

XSI = "http://www.w3.org/2001/XMLSchema-instance"

CP12 = "http://www.imsproject.org/xsd/imscp_rootv1p1p2"
ADLCP12 = "http://www.adlnet.org/xsd/adlcp_rootv1p2"
IMSMD12 = "http://www.imsglobal.org/xsd/imsmd_rootv1p2p1"

CP2004 = "http://www.imsglobal.org/xsd/imscp_v1p1"
ADLCP2004 = "http://www.adlnet.org/xsd/adlcp_v1p3"
ADLSEQ = "http://www.adlnet.org/xsd/adlseq_v1p3"
ADLNAV = "http://www.adlnet.org/xsd/adlnav_v1p3"
IMSSS = "http://www.imsglobal.org/xsd/imsss"
LOM = "http://ltsc.ieee.org/xsd/LOM"

SCHEMAVERSION_12 = "1.2"
SCHEMAVERSION_2004 = "2004 4th Edition"
PRIMARY_OBJECTIVE = "PRIMARYOBJ"


def number(value: float) -> str:
    """A decimal as xs:decimal text: no exponent, no trailing zeros."""
    text = f"{round(value, 6):.6f}".rstrip("0").rstrip(".")
    return text or "0"


class _Ids:
    """The manifest's identifiers: items and organizations share one space, resources another."""

    def __init__(self) -> None:
        self.items = UniqueNames()
        self.resources = UniqueNames()


def manifest_identifier(plan: ExportPlan) -> str:
    return to_ncname(plan.identifier or f"content-{plan.content_hash[:16]}", prefix="MANIFEST")


def _organization_and_resources(plan: ExportPlan, version: str, options: ExportOptions) -> tuple[Node, Node]:
    ids = _Ids()
    org_id = ids.items.claim("ORG-" + manifest_identifier(plan))
    organization = element("organization", identifier=org_id)
    organization.add(element("title", plan.title))
    resources = element("resources")
    common_id = ids.resources.claim("RES-common")
    launched: set[str] = set()
    unit_resources: list[Node] = []
    for unit in plan.units:
        item_id = ids.items.claim(to_ncname(unit.launch_id, prefix="ITEM"))
        resource_id = ids.resources.claim("RES-" + item_id)
        item = organization.add(
            element("item", identifier=item_id, identifierref=resource_id, parameters=unit.parameters or None)
        )
        item.add(element("title", unit.title))
        scorm_type = "sco" if unit.is_html else "asset"
        if version == "1.2":
            _item_12(item, scorm_type, options)
        else:
            _item_2004(item, scorm_type, options)
        type_attribute = "adlcp:scormtype" if version == "1.2" else "adlcp:scormType"
        resource = Node(
            "resource",
            {
                "identifier": resource_id,
                "type": "webcontent",
                type_attribute: scorm_type,
                "href": encode_path(unit.href),
            },
        )
        resource.add(element("file", href=encode_path(unit.href)))
        resource.add(element("dependency", identifierref=common_id))
        unit_resources.append(resource)
        launched.add(unit.href)
    if version != "1.2":
        sequencing = organization.add(element("imsss:sequencing"))
        sequencing.add(element("imsss:controlMode", choice="true", flow="true"))
    common = Node(
        "resource",
        {
            "identifier": common_id,
            "type": "webcontent",
            ("adlcp:scormtype" if version == "1.2" else "adlcp:scormType"): "asset",
        },
    )
    for path in _all_paths(plan, version):
        if path not in launched:
            common.add(element("file", href=encode_path(path)))
    for resource in unit_resources:
        resources.add(resource)
    if common.children:
        resources.add(common)
    else:
        for resource in unit_resources:
            resource.children = [node for node in resource.children if node.tag != "dependency"]
    return organization, resources


def _all_paths(plan: ExportPlan, version: str) -> list[str]:
    schemas = schema_files("scorm12" if version == "1.2" else "scorm2004")
    return sorted({*(entry.path for entry in plan.files), *schemas, BRIDGE_PATH})


def _item_12(item: Node, scorm_type: str, options: ExportOptions) -> None:
    if scorm_type == "sco" and options.mastery_score is not None:
        item.add(element("adlcp:masteryscore", number(options.mastery_score * 100)))


def _item_2004(item: Node, scorm_type: str, options: ExportOptions) -> None:
    if scorm_type != "sco":
        return
    if options.completion_threshold is not None:
        item.add(
            element(
                "adlcp:completionThreshold",
                completedByMeasure="true",
                minProgressMeasure=number(options.completion_threshold),
            )
        )
    sequencing = element("imsss:sequencing")
    if options.mastery_score is not None:
        objectives = sequencing.add(element("imsss:objectives"))
        primary = objectives.add(
            element("imsss:primaryObjective", objectiveID=PRIMARY_OBJECTIVE, satisfiedByMeasure="true")
        )
        primary.add(element("imsss:minNormalizedMeasure", number(options.mastery_score)))
    sequencing.add(
        element("imsss:deliveryControls", completionSetByContent="true", objectiveSetByContent="true")
    )
    item.add(sequencing)


def scorm12_manifest(plan: ExportPlan, options: ExportOptions) -> bytes:
    """imsmanifest.xml for SCORM 1.2."""
    root = element(
        "manifest",
        identifier=manifest_identifier(plan),
        version="1.0",
        xmlns=CP12,
        xmlns__adlcp=ADLCP12,
        xmlns__imsmd=IMSMD12,
        xmlns__xsi=XSI,
        xsi__schemaLocation=(
            f"{CP12} imscp_rootv1p1p2.xsd {IMSMD12} imsmd_rootv1p2p1.xsd {ADLCP12} adlcp_rootv1p2.xsd"
        ),
    )
    metadata = root.add(element("metadata"))
    metadata.add(element("schema", "ADL SCORM"))
    metadata.add(element("schemaversion", SCHEMAVERSION_12))
    general = metadata.add(element("imsmd:lom")).add(element("imsmd:general"))
    general.add(element("imsmd:title")).add(element("imsmd:langstring", plan.title, xml__lang=plan.language))
    general.add(element("imsmd:language", plan.language))
    organization, resources = _organization_and_resources(plan, "1.2", options)
    organizations = root.add(element("organizations", default=organization.attributes["identifier"]))
    organizations.add(organization)
    root.add(resources)
    return render(root)


def scorm2004_manifest(plan: ExportPlan, options: ExportOptions) -> bytes:
    """imsmanifest.xml for SCORM 2004 4th edition."""
    root = element(
        "manifest",
        identifier=manifest_identifier(plan),
        version="1",
        xmlns=CP2004,
        xmlns__adlcp=ADLCP2004,
        xmlns__adlseq=ADLSEQ,
        xmlns__adlnav=ADLNAV,
        xmlns__imsss=IMSSS,
        xmlns__lom=LOM,
        xmlns__xsi=XSI,
        xsi__schemaLocation=(
            f"{CP2004} imscp_v1p1.xsd {ADLCP2004} adlcp_v1p3.xsd {ADLSEQ} adlseq_v1p3.xsd"
            f" {ADLNAV} adlnav_v1p3.xsd {IMSSS} imsss_v1p0.xsd {LOM} lom.xsd"
        ),
    )
    metadata = root.add(element("metadata"))
    metadata.add(element("schema", "ADL SCORM"))
    metadata.add(element("schemaversion", SCHEMAVERSION_2004))
    general = metadata.add(element("lom:lom")).add(element("lom:general"))
    general.add(element("lom:title")).add(element("lom:string", plan.title, language=plan.language))
    general.add(element("lom:language", plan.language))
    organization, resources = _organization_and_resources(plan, "2004", options)
    organizations = root.add(element("organizations", default=organization.attributes["identifier"]))
    organizations.add(organization)
    root.add(resources)
    return render(root)
