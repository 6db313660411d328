"""Standard detection and descriptor parsing: SCORM 1.2, SCORM 2004, xAPI, cmi5 and native.

``detect_and_parse(source)`` looks at the descriptor at the package root and hands it to the
parser of its standard. It reads nothing but the descriptor; the zip sandbox has already
checked every name and size, and ``source.read`` is bounded by the descriptor limit.

When several descriptors are present, one wins, in this order: ``playpackage.json`` (the
author asked for our own format explicitly), ``cmi5.xml``, ``tincan.xml``, ``imsmanifest.xml``.
Tools that export one course for several LMSs put a SCORM manifest beside the xAPI or cmi5
one, and the richer standard is the one the content was built to report to (Rustici's
engine makes the same choice). The others are named in ``metadata["other_descriptors"]``.

Descriptor names are matched exactly at the root, and also regardless of letter case
(``IMSManifest.xml`` from a Windows tool), but never in a sub-folder: a package zipped with
its folder around it is refused with ``package.no_descriptor`` and a detail that says so.

Every refusal is a ``PackageRejected`` whose problems carry the codes listed in
``content_service.standards.problems``.
"""

from __future__ import annotations

from dataclasses import replace

from content_service.packaging.model import Descriptor, DescriptorSource
from content_service.standards import cmi5, imsmanifest, native, problems, xapi
from content_service.standards.common import reject
from content_service.standards.xml import parse_descriptor

__all__ = ["DESCRIPTOR_NAMES", "detect_and_parse", "find_descriptor"]

DESCRIPTOR_NAMES: tuple[str, ...] = ("playpackage.json", "cmi5.xml", "tincan.xml", "imsmanifest.xml")


def find_descriptor(names: frozenset[str]) -> tuple[str | None, list[str]]:
    """The descriptor that decides the standard, and the other descriptors present."""
    by_folded = {name.casefold(): name for name in sorted(names) if "/" not in name}
    present = [by_folded[wanted] for wanted in DESCRIPTOR_NAMES if wanted in by_folded]
    return (present[0] if present else None), present[1:]


def detect_and_parse(source: DescriptorSource) -> Descriptor:
    """Detect the package's standard from its root descriptor and parse it into a Descriptor.

    Raises PackageRejected (codes in ``content_service.standards.problems``) when there is
    no descriptor or the descriptor is unsafe, malformed or names what the package lacks.
    """
    names = source.names
    path, others = find_descriptor(names)
    if path is None:
        raise reject(problems.PACKAGE_NO_DESCRIPTOR, _no_descriptor_detail(names), None)
    kind = path.casefold()
    if kind == "playpackage.json":
        descriptor = native.parse(source, path)
    else:
        document = parse_descriptor(source.read(path), path)
        if kind == "cmi5.xml":
            descriptor = cmi5.parse(source, document)
        elif kind == "tincan.xml":
            descriptor = xapi.parse(source, document)
        else:
            descriptor = imsmanifest.parse(source, document)
    metadata = {**descriptor.metadata, "descriptor": path, "other_descriptors": others}
    return replace(descriptor, metadata=metadata)


def _no_descriptor_detail(names: frozenset[str]) -> str:
    detail = "the package has no playpackage.json, cmi5.xml, tincan.xml or imsmanifest.xml at its root"
    # macOS adds __MACOSX/ and ._name resource-fork entries; they are never the descriptor.
    nested = sorted(
        name
        for name in names
        if name.rsplit("/", 1)[-1].casefold() in DESCRIPTOR_NAMES and not name.startswith("__MACOSX/")
    )
    if nested:
        detail += f"; it has {nested[0]!r}: zip the folder's contents, not the folder"
    elif any(name.rsplit("/", 1)[-1].casefold() in ("playpackage.yaml", "playpackage.yml") for name in names):
        detail += "; playpackage descriptors are JSON only (playpackage.json), not YAML"
    return detail
