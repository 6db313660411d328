"""What goes into an export, decided once for every format: units, files, names and titles.

A unit is one launch of the source package; it becomes one SCO (SCORM), one AU (cmi5) or
one part activity (xAPI); the outline (``outline.py``) places the units in the source's tree.
The source's own descriptors (playpackage.json, imsmanifest.xml, cmi5.xml, tincan.xml) and
the SCORM schema files at its root are left out:
the export writes its own, and a second descriptor would make the exported package's standard
ambiguous to the LMS that imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from content_service.domain.logo import BrandLogo
from content_service.domain.package import FileEntry, PackageManifest, Standard
from content_service.standards import DESCRIPTOR_NAMES
from content_service.standards.export.errors import ExportError
from content_service.standards.export.options import ExportOptions
from content_service.standards.export.outline import Outline, build_outline
from content_service.standards.export.schemas import all_schema_names

BRIDGE_PATH = "content-bridge.js"
LAUNCHER_PATH = "content-launcher.html"
#: A branded export's tenant branding: the stylesheet each launched page links, and the same as JSON.
BRANDING_CSS_PATH = "content-branding.css"
BRANDING_JSON_PATH = "content-branding.json"
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})


@dataclass(frozen=True)
class Unit:
    """One launch of the source, as the export will launch it."""

    launch_id: str
    title: str
    href: str
    parameters: str
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_html(self) -> bool:
        return PurePosixPath(self.href).suffix.lower() in HTML_SUFFIXES

    @property
    def url(self) -> str:
        """The package-relative launch URL (path percent-encoded, parameters verbatim)."""
        return encode_path(self.href) + self.parameters


@dataclass(frozen=True)
class ExportPlan:
    """Everything the format writers need, independent of the format."""

    title: str
    language: str
    identifier: str | None
    description: str
    units: tuple[Unit, ...]
    files: tuple[FileEntry, ...]
    auto_start: bool
    content_hash: str
    outline: Outline
    #: The export carries the tenant's branding (``BRANDING_CSS_PATH``, ``BRANDING_JSON_PATH``).
    branded: bool = False
    #: The branding's logo file beside them (``content-branding-logo.{png,jpg,webp}``), if it has one.
    branding_logo: str | None = None


def encode_path(path: str) -> str:
    """A package path as a relative URL: every character a URL path cannot carry is escaped."""
    from urllib.parse import quote

    return quote(path, safe="/!$&'()*+,;=:@-._~")


def make_plan(manifest: PackageManifest, options: ExportOptions, generated: frozenset[str]) -> ExportPlan:
    """Decide the units and files of an export, or raise ExportError.

    ``generated`` holds the paths the format writes itself (descriptor, schemas, bridge): a
    source file with one of those names is replaced, never shipped twice.
    """
    root_dropped = _dropped_names()
    replaced = {path.casefold() for path in generated}
    files = tuple(
        entry
        for entry in sorted(manifest.files, key=lambda f: f.path)
        if entry.path.casefold() not in replaced
        and not ("/" not in entry.path and entry.path.casefold() in root_dropped)
    )
    kept = {entry.path for entry in files}
    units: list[Unit] = []
    for launch in manifest.launches:
        if launch.href not in kept:
            raise ExportError(f"launch {launch.id!r} opens {launch.href!r}, a descriptor the export replaces")
        units.append(
            Unit(
                launch_id=launch.id,
                title=launch.title or launch.id,
                href=launch.href,
                parameters=launch.parameters,
                attributes=launch.attributes,
            )
        )
    title = options.title or manifest.title
    description = str(manifest.metadata.get("description") or title)
    auto = options.auto_start if options.auto_start is not None else manifest.standard is Standard.NATIVE
    return ExportPlan(
        title=title,
        language=options.language or manifest.language or "en",
        identifier=options.identifier,
        description=description,
        units=tuple(units),
        files=files,
        auto_start=auto,
        content_hash=manifest.content_hash,
        outline=build_outline(manifest, [launch.id for launch in manifest.launches]),
        branded=options.branding is not None,
        branding_logo=_logo_name(options),
    )


def _logo_name(options: ExportOptions) -> str | None:
    logo = (options.branding or {}).get("logo")
    return None if logo is None else BrandLogo.from_dict(logo).filename


def _dropped_names() -> frozenset[str]:
    return frozenset({*DESCRIPTOR_NAMES, BRIDGE_PATH, *(name.casefold() for name in all_schema_names())})
