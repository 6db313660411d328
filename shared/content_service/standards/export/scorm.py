"""imsmanifest.xml for SCORM 1.2 and SCORM 2004 4th edition.

One organization holding the outline's tree (``outline.py``): an item per part, each
referencing its own SCO resource (the launched page), aggregation items for the source's
aggregations, asset items for its asset items, and every other file in one shared asset
resource the SCOs depend on, so the manifest lists every file of the package. A unit whose
launch is not an HTML page cannot load the runtime bridge, so it is an asset, which SCORM
launches without a runtime session.

A source of the same SCORM version keeps its identifiers and its item settings as written
(2004: sequencing, presentation, completionThreshold, dataFromLMS, timeLimitAction, data maps,
the sequencingCollection; 1.2: prerequisites, masteryscore, maxtimeallowed, timelimitaction,
datafromlms); across versions the settings that have a counterpart are mapped and the rest is
dropped. docs/export.md has the table.

Where the completion model goes:

| option | SCORM 1.2 | SCORM 2004 4th |
| --- | --- | --- |
| mastery score | ``adlcp:masteryscore`` on each item, 0..100 | ``imsss:primaryObjective satisfiedByMeasure`` + ``minNormalizedMeasure`` |
| completion threshold | (no element: the bridge applies it) | ``adlcp:completionThreshold completedByMeasure minProgressMeasure`` |
| reporting pair, language | bridge; ``imsmd:lom`` language | bridge; ``lom:lom`` language |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from defusedxml.ElementTree import fromstring

from content_service.domain.package import Standard
from content_service.standards.export.identifiers import UniqueNames, to_ncname
from content_service.standards.export.options import ExportOptions
from content_service.standards.export.outline import OutlineItem
from content_service.standards.export.plan import (
    BRANDING_CSS_PATH,
    BRANDING_JSON_PATH,
    BRIDGE_PATH,
    ExportPlan,
    encode_path,
)
from content_service.standards.export.schemas import schema_files
from content_service.standards.export.xmlwrite import Node, element, raw, render

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
    """The identifier option, else the SCORM source's own (an LMS re-importing it sees the same course)."""
    chosen = plan.identifier or plan.outline.manifest_identifier or f"content-{plan.content_hash[:16]}"
    return to_ncname(chosen, prefix="MANIFEST")


@dataclass
class _Writer:
    """One pass writing the organization tree and the resources its items reference."""

    plan: ExportPlan
    version: str
    options: ExportOptions
    ids: _Ids = field(default_factory=lambda: _Ids())
    names: dict[int, str] = field(default_factory=dict)
    resources: list[Node] = field(default_factory=list)
    launched: set[str] = field(default_factory=set)
    common_id: str = ""

    @property
    def source(self) -> Standard:
        return self.plan.outline.source

    @property
    def verbatim(self) -> bool:
        """Whether the source is this very SCORM version, so its item settings are kept as written."""
        return self.source is (Standard.SCORM12 if self.version == "1.2" else Standard.SCORM2004)

    @property
    def type_attribute(self) -> str:
        return "adlcp:scormtype" if self.version == "1.2" else "adlcp:scormType"

    def claim_source_identifiers(self, items: tuple[OutlineItem, ...]) -> None:
        # Source identifiers are claimed before any generated one, so they stay what the author
        # wrote: 1.2 prerequisites and 2004 navigation requests name items by identifier.
        for item in items:
            self.names[id(item)] = self.ids.items.claim(to_ncname(item.identifier, prefix="ITEM"))
            self.claim_source_identifiers(item.children)

    def item(self, parent: Node, item: OutlineItem) -> None:
        node = parent.add(
            element("item", identifier=self.names[id(item)], isvisible=None if item.visible else "false")
        )
        node.add(element("title", item.title))
        opens = self._opens(item)
        holder = node
        if opens is not None and item.children and self.version != "1.2":
            # SCORM 2004 lets only leaf items reference a resource (CAM 3.4.1.12): the part of a
            # 1.2 item that has children becomes that item's first child, with the item's settings.
            holder = node.add(
                element("item", identifier=self.ids.items.claim(self.names[id(item)] + "_content"))
            )
            holder.add(element("title", item.title))
        if opens is not None:
            self._reference(holder, *opens)
        for child in item.children:
            self.item(node, child)
        sco = opens is not None and opens[2] == "sco"
        if self.version == "1.2":
            extensions = self._extensions_12(item, sco)
        else:
            extensions = self._extensions_2004(item, sco)
        for extension in extensions:
            holder.add(extension)

    def _opens(self, item: OutlineItem) -> tuple[str, str, str] | None:
        """(package path, launch parameters, scorm type) of what the item opens, if anything."""
        if item.unit is not None:
            unit = self.plan.units[item.unit]
            return unit.href, unit.parameters, "sco" if unit.is_html else "asset"
        if item.asset is not None and item.asset[0] in {entry.path for entry in self.plan.files}:
            return item.asset[0], item.asset[1], "asset"
        return None

    def _reference(self, node: Node, path: str, parameters: str, scorm_type: str) -> None:
        resource_id = self.ids.resources.claim("RES-" + str(node.attributes["identifier"]))
        node.attributes["identifierref"] = resource_id
        node.attributes["parameters"] = parameters or None
        resource = Node(
            "resource",
            {
                "identifier": resource_id,
                "type": "webcontent",
                self.type_attribute: scorm_type,
                "href": encode_path(path),
            },
        )
        resource.add(element("file", href=encode_path(path)))
        resource.add(element("dependency", identifierref=self.common_id))
        self.resources.append(resource)
        self.launched.add(path)

    def _extensions_12(self, item: OutlineItem, sco: bool) -> list[Node]:
        """adlcp item elements, in the ADL 1.2 CAM's order: prerequisites, maxtimeallowed,
        timelimitaction, datafromlms, masteryscore."""
        settings = item.settings
        from_12 = self.source is Standard.SCORM12
        found: list[Node] = []
        prerequisites = settings.get("prerequisites") if from_12 else None
        if isinstance(prerequisites, Mapping):
            found.append(
                element(
                    "adlcp:prerequisites",
                    str(prerequisites.get("value") or ""),
                    type=prerequisites.get("type"),
                )
            )
        if from_12 and settings.get("maxtimeallowed"):
            found.append(element("adlcp:maxtimeallowed", str(settings["maxtimeallowed"])))
        action = settings.get("timelimitaction") or settings.get("timeLimitAction")
        if action:
            found.append(element("adlcp:timelimitaction", str(action)))
        data = settings.get("datafromlms") if from_12 else settings.get("dataFromLMS")
        if data:
            found.append(element("adlcp:datafromlms", str(data)))
        if from_12 and settings.get("masteryscore"):
            found.append(element("adlcp:masteryscore", str(settings["masteryscore"])))
        elif sco and self.options.mastery_score is not None:
            found.append(element("adlcp:masteryscore", number(self.options.mastery_score * 100)))
        elif sco and self.source is Standard.SCORM2004:
            measure = _satisfied_by_measure(settings.get("sequencing"))
            if measure is not None:
                found.append(element("adlcp:masteryscore", number(measure * 100)))
        return found

    def _extensions_2004(self, item: OutlineItem, sco: bool) -> list[Node]:
        """adlcp/imsss/adlnav item elements, in the CAM's order: timeLimitAction, dataFromLMS,
        completionThreshold, sequencing, presentation, data."""
        settings = item.settings
        found: list[Node] = []
        action = settings.get("timeLimitAction") or settings.get("timelimitaction")
        if action:
            found.append(element("adlcp:timeLimitAction", str(action)))
        data = settings.get("dataFromLMS") if self.verbatim else settings.get("datafromlms")
        if data:
            found.append(element("adlcp:dataFromLMS", str(data)))
        threshold = _source_threshold(settings.get("completionThreshold")) if self.verbatim else None
        if threshold is not None:
            found.append(threshold)
        elif sco and self.options.completion_threshold is not None:
            found.append(
                element(
                    "adlcp:completionThreshold",
                    completedByMeasure="true",
                    minProgressMeasure=number(self.options.completion_threshold),
                )
            )
        if self.verbatim and settings.get("sequencing"):
            found.append(raw(str(settings["sequencing"])))
        elif sco and (not self.verbatim or self.options.mastery_score is not None):
            found.append(self._generated_sequencing(item))
        if self.verbatim and settings.get("presentation"):
            found.append(raw(str(settings["presentation"])))
        maps = settings.get("data") if self.verbatim else None
        if maps:
            shared = element("adlcp:data")
            for entry in maps:
                shared.add(
                    element(
                        "adlcp:map",
                        targetID=entry.get("targetID"),
                        readSharedData=entry.get("readSharedData"),
                        writeSharedData=entry.get("writeSharedData"),
                    )
                )
            found.append(shared)
        return found

    def _generated_sequencing(self, item: OutlineItem) -> Node:
        mastery = self.options.mastery_score
        if mastery is None and self.source is Standard.SCORM12 and item.settings.get("masteryscore"):
            # SCORM 1.2's masteryscore (0..100) is 2004's primary objective measure (0..1).
            try:
                mastery = min(max(float(item.settings["masteryscore"]) / 100, 0.0), 1.0)
            except ValueError:
                mastery = None
        sequencing = element("imsss:sequencing")
        if mastery is not None:
            objectives = sequencing.add(element("imsss:objectives"))
            primary = objectives.add(
                element("imsss:primaryObjective", objectiveID=PRIMARY_OBJECTIVE, satisfiedByMeasure="true")
            )
            primary.add(element("imsss:minNormalizedMeasure", number(mastery)))
        sequencing.add(
            element("imsss:deliveryControls", completionSetByContent="true", objectiveSetByContent="true")
        )
        return sequencing


def _satisfied_by_measure(sequencing: Any) -> float | None:
    """A 2004 primary objective satisfied by a measure, as the 0..1 measure 1.2's masteryscore is."""
    if not isinstance(sequencing, str):
        return None
    try:
        root = fromstring(sequencing, forbid_dtd=True)
    except Exception:  # noqa: BLE001 - the importer wrote it; an unreadable one simply maps to nothing
        return None
    primary = root.find(f"{{{IMSSS}}}objectives/{{{IMSSS}}}primaryObjective")
    if primary is None or primary.get("satisfiedByMeasure") != "true":
        return None
    try:
        measure = float(primary.findtext(f"{{{IMSSS}}}minNormalizedMeasure") or "1.0")
    except ValueError:
        return None
    return measure if 0 <= measure <= 1 else None


def _source_threshold(threshold: Any) -> Node | None:
    """A source completionThreshold as the 4th edition writes it (3rd edition's text is the measure)."""
    if not isinstance(threshold, Mapping):
        return None
    attributes = {
        name: str(threshold[name])
        for name in ("completedByMeasure", "minProgressMeasure", "progressWeight")
        if threshold.get(name) is not None
    }
    value = threshold.get("value")
    if value and "minProgressMeasure" not in attributes:
        attributes = {"completedByMeasure": "true", "minProgressMeasure": str(value), **attributes}
    return element("adlcp:completionThreshold", **attributes) if attributes else None


def _organization_attributes(organization: Mapping[str, Any], version: str) -> dict[str, str | None]:
    """The organization's ADL attributes a 2004 export keeps, matched by local name (prefixes vary)."""
    if version == "1.2":
        return {}
    known = {"objectivesGlobalToSystem": "adlseq", "sharedDataGlobalToSystem": "adlcp"}
    found: dict[str, str | None] = {}
    for name, value in (organization.get("attributes") or {}).items():
        local_name = name.rsplit(":", 1)[-1]
        if local_name in known:
            found[f"{known[local_name]}__{local_name}"] = value
    return found


def _organization_and_resources(plan: ExportPlan, version: str, options: ExportOptions) -> tuple[Node, Node]:
    writer = _Writer(plan, version, options)
    outline = plan.outline
    scorm_source = outline.source in (Standard.SCORM12, Standard.SCORM2004)
    source_org = outline.organization if scorm_source else {}
    wanted = source_org.get("identifier") or "ORG-" + manifest_identifier(plan)
    org_id = writer.ids.items.claim(to_ncname(wanted, prefix="ORG"))
    writer.claim_source_identifiers(outline.items)
    writer.common_id = writer.ids.resources.claim("RES-common")
    organization = element(
        "organization",
        identifier=org_id,
        structure=source_org.get("structure") if scorm_source else None,
        **_organization_attributes(source_org, version),
    )
    organization.add(element("title", plan.title))
    for item in outline.items:
        writer.item(organization, item)
    if version != "1.2" and not writer.verbatim:
        sequencing = organization.add(element("imsss:sequencing"))
        sequencing.add(element("imsss:controlMode", choice="true", flow="true"))
    elif version != "1.2" and source_org.get("sequencing"):
        organization.add(raw(str(source_org["sequencing"])))
    resources = element("resources")
    common = Node(
        "resource", {"identifier": writer.common_id, "type": "webcontent", writer.type_attribute: "asset"}
    )
    for path in _all_paths(plan, version):
        if path not in writer.launched:
            common.add(element("file", href=encode_path(path)))
    for resource in writer.resources:
        resources.add(resource)
    if common.children:
        resources.add(common)
    else:
        for resource in writer.resources:
            resource.children = [node for node in resource.children if node.tag != "dependency"]
    return organization, resources


def _all_paths(plan: ExportPlan, version: str) -> list[str]:
    schemas = schema_files("scorm12" if version == "1.2" else "scorm2004")
    branding = (BRANDING_CSS_PATH, BRANDING_JSON_PATH) if plan.branded else ()
    if plan.branding_logo is not None:
        branding += (plan.branding_logo,)
    return sorted({*(entry.path for entry in plan.files), *schemas, BRIDGE_PATH, *branding})


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
    if plan.outline.source is Standard.SCORM2004 and plan.outline.sequencing_collection:
        root.add(raw(plan.outline.sequencing_collection))
    return render(root)
