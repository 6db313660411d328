"""Export a built package as SCORM 1.2, SCORM 2004 4th edition, xAPI (tincan.xml) or cmi5.

``export_package(manifest, read_file, format, options)`` is the use case: it reads the
package's files through ``read_file`` (a local zip, the blob store, ...), writes the format's
descriptor, the standard schema files (SCORM), the runtime bridge and, for an xAPI course of
several parts, the launcher page that lists them; injects the bridge
into each launched HTML page, validates the descriptor against the format's official XSD
(``xsd.py``) and checks the rules the XSD cannot express (``checks.py``), and only then
writes a deterministic zip. docs/export.md is the user-facing guide.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import BinaryIO

from content_service.domain.errors import ValidationFailed
from content_service.domain.package import FileEntry, PackageManifest, Standard
from content_service.domain.tenant import Branding
from content_service.packaging.limits import ImportLimits
from content_service.packaging.zipsafe import ChunkReader, SafeZip
from content_service.standards.export.checks import DESCRIPTORS, check_export
from content_service.standards.export.cmi5 import cmi5_xml
from content_service.standards.export.errors import ExportCheckFailed, ExportError
from content_service.standards.export.options import (
    ExportFormat,
    ExportOptions,
    LaunchMethod,
    MoveOn,
    Reporting,
)
from content_service.standards.export.pages import inject
from content_service.standards.export.plan import (
    BRANDING_CSS_PATH,
    BRANDING_JSON_PATH,
    BRIDGE_PATH,
    LAUNCHER_PATH,
    ExportPlan,
    make_plan,
)
from content_service.standards.export.schemas import schema_files
from content_service.standards.export.scorm import number, scorm12_manifest, scorm2004_manifest
from content_service.standards.export.xapi import (
    activity_ids,
    course_id,
    launcher_page,
    needs_launcher,
    tincan_xml,
)
from content_service.standards.export.xsd import xsd_failures
from content_service.standards.export.zipwriter import write_zip

__all__ = [
    "ExportCheckFailed",
    "ExportError",
    "ExportFormat",
    "ExportOptions",
    "LaunchMethod",
    "MoveOn",
    "ReadFile",
    "Reporting",
    "bridge_source",
    "export_package",
    "zip_reader",
]

ReadFile = Callable[[str], BinaryIO]
"""Opens one package file by its manifest path and returns a readable binary stream."""

MAX_PAGE_BYTES = 32 * 1024 * 1024

_WRITERS: dict[ExportFormat, Callable[[ExportPlan, ExportOptions], bytes]] = {
    ExportFormat.SCORM12: scorm12_manifest,
    ExportFormat.SCORM2004: scorm2004_manifest,
    ExportFormat.XAPI: tincan_xml,
    ExportFormat.CMI5: cmi5_xml,
}


def bridge_source() -> bytes:
    """The runtime bridge every export ships as ``content-bridge.js``."""
    return resources.files(__name__).joinpath("bridge", "content-bridge.js").read_bytes()


def export_package(
    manifest: PackageManifest,
    read_file: ReadFile,
    format: ExportFormat | str,  # noqa: A002 - the use case's vocabulary
    options: ExportOptions | None = None,
    *,
    out: Path | None = None,
    logo: bytes | None = None,
) -> Path:
    """Export ``manifest``'s package in ``format`` and return the path of the zip written.

    ``logo`` is the bytes of the logo ``options.branding`` names (when it names one): the export
    carries them beside the stylesheet only if they are that logo (size, SHA-256, image type).

    ``out`` is where to write (default: a new file in a fresh temporary directory that the
    caller owns). Raises ``ExportError`` when the package cannot be carried by the format,
    and ``ExportCheckFailed`` when the descriptor breaks the format's XSD or its other rules
    (nothing is written then).
    """
    fmt = ExportFormat(format)
    options = options or ExportOptions()
    extra = _generated(fmt, options, logo)
    if fmt is ExportFormat.XAPI and len(manifest.launches) > 1:
        if any(entry.path.casefold() == LAUNCHER_PATH for entry in manifest.files):
            raise ExportError(
                f"the package has its own {LAUNCHER_PATH}, the page an xAPI export of several parts"
                " writes to launch them"
            )
        extra[LAUNCHER_PATH] = b""
    plan = make_plan(manifest, options, frozenset({DESCRIPTORS[fmt], *extra}))
    if LAUNCHER_PATH in extra:
        branding = Branding.from_dict(options.branding) if options.branding is not None else None
        extra[LAUNCHER_PATH] = launcher_page(plan, branding)
    descriptor = _WRITERS[fmt](plan, options)
    names = frozenset({entry.path for entry in plan.files} | {DESCRIPTORS[fmt], *extra})
    failures = xsd_failures(fmt, descriptor) + check_export(fmt, descriptor, names)
    if failures and _source_to_blame(fmt, plan, options, names):
        raise ExportError(
            f"the package's own {plan.outline.source.value} settings, which a {fmt.value} export keeps"
            f" verbatim, break the {fmt.value} rules: {failures[0]}"
        )
    if failures:
        raise ExportCheckFailed(failures)
    pages = _bridge_configs(fmt, plan, options)
    entries = [_content_entry(entry, read_file, pages.get(entry.path), plan.branded) for entry in plan.files]
    for name, content in {DESCRIPTORS[fmt]: descriptor, **extra}.items():
        entries.append((name, len(content), _bytes_opener(content)))
    if out is None:
        out = Path(tempfile.mkdtemp(prefix="content-export-")) / f"export-{fmt.value}.zip"
    write_zip(out, entries)
    return out


def _source_to_blame(
    fmt: ExportFormat, plan: ExportPlan, options: ExportOptions, names: frozenset[str]
) -> bool:
    """Whether a failing export passes without the source's verbatim settings (the source's fault, a 422).

    A SCORM export keeps a same-version source's sequencing and item settings as written; an
    imported package whose own fragments break the 4th edition schema is refused, not a crash.
    """
    if fmt not in (ExportFormat.SCORM12, ExportFormat.SCORM2004) or plan.outline.source.value != fmt.value:
        return False
    plain = replace(plan, outline=replace(plan.outline, source=Standard.NATIVE))
    descriptor = _WRITERS[fmt](plain, options)
    return not (xsd_failures(fmt, descriptor) + check_export(fmt, descriptor, names))


def _generated(fmt: ExportFormat, options: ExportOptions, logo: bytes | None = None) -> dict[str, bytes]:
    files = {BRIDGE_PATH: bridge_source()}
    if options.branding is not None:
        # Beside the content, never in it: the content's files and hashes stay as they were.
        branding = Branding.from_dict(options.branding)
        logo_name = None
        if branding.logo is not None:
            if logo is None:
                raise ExportError("the branding names a logo, but its bytes are not there")
            try:
                branding.logo.check(logo)
            except ValidationFailed as error:
                raise ExportError(f"the branding's logo is not the one it names: {error.detail}") from error
            logo_name = branding.logo.filename
            files[logo_name] = logo
        files[BRANDING_CSS_PATH] = branding.stylesheet(logo_name).encode()
        files[BRANDING_JSON_PATH] = json.dumps(branding.as_dict(), indent=2, sort_keys=True).encode()
    if fmt in (ExportFormat.SCORM12, ExportFormat.SCORM2004):
        files.update(schema_files(fmt.value))
    return files


def _bridge_configs(fmt: ExportFormat, plan: ExportPlan, options: ExportOptions) -> dict[str, dict[str, str]]:
    """The bridge's data-* attributes for each launched HTML page (first launch wins)."""
    activities = activity_ids(plan) if fmt is ExportFormat.XAPI else [""] * len(plan.units)
    configs: dict[str, dict[str, str]] = {}
    for unit, activity in zip(plan.units, activities, strict=True):
        if not unit.is_html or unit.href in configs:
            continue
        config = {
            "standard": fmt.value,
            "reporting": options.reporting.value,
            "auto": "true" if plan.auto_start else "false",
            "launch": unit.launch_id,
        }
        if options.completion_threshold is not None:
            config["threshold"] = number(options.completion_threshold)
        if options.mastery_score is not None:
            config["mastery"] = number(options.mastery_score)
        if options.complete_on_launch:
            config["complete"] = "launch"
        if activity:
            config["activity"] = activity
        if fmt is ExportFormat.XAPI and needs_launcher(plan):
            config["course"] = course_id(plan)
        configs[unit.href] = config
    return configs


def _bytes_opener(content: bytes) -> Callable[[], BinaryIO]:
    return lambda: io.BytesIO(content)


def _content_entry(
    entry: FileEntry, read_file: ReadFile, config: dict[str, str] | None, branded: bool = False
) -> tuple[str, int, Callable[[], BinaryIO]]:
    if config is None:
        return entry.path, entry.size, lambda: _Verified(read_file(entry.path), entry)
    with _Verified(read_file(entry.path), entry) as stream:
        page = stream.read(MAX_PAGE_BYTES + 1)
        if len(page) > MAX_PAGE_BYTES:
            raise ExportError(f"launched page {entry.path!r} is larger than {MAX_PAGE_BYTES} bytes")
        stream.read()
    content = inject(page, entry.path, config, branded=branded)
    return entry.path, len(content), _bytes_opener(content)


class _Verified(io.RawIOBase):
    """A file stream that checks, at its end, that the bytes are the ones the manifest names."""

    def __init__(self, stream: BinaryIO, entry: FileEntry) -> None:
        super().__init__()
        self._stream = stream
        self._entry = entry
        self._digest = hashlib.sha256()
        self._size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        chunk = self._stream.read(len(buffer))
        if not chunk:
            if self._digest.hexdigest() != self._entry.sha256 or self._size != self._entry.size:
                raise ExportError(f"file {self._entry.path!r} does not match the package manifest")
            return 0
        self._digest.update(chunk)
        self._size += len(chunk)
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            super().close()


@contextmanager
def zip_reader(path: Path, limits: ImportLimits | None = None) -> Iterator[ReadFile]:
    """A ``read_file`` over a local zip (for the CLI and tests); the zip stays open inside the block.

    Files are read through the import sandbox, by the names the build gave them: ``zipfile``
    would know ``./page.html`` (bsdtar), ``content\\page.html`` (a Windows writer) or a cp866
    name with a Unicode Path block by other names than the manifest's.
    """
    with SafeZip.open(path, limits or ImportLimits()) as archive:
        yield lambda name: ChunkReader(archive.iter_chunks(archive.entry(name)))  # type: ignore[return-value]
