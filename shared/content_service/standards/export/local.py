"""Export straight from a zip on disk: import it as the build would, then export it.

The CLI and the tests use this; the export Lambda reads a built package from the blob store
instead and calls ``export_package`` directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from content_service.domain.package import PackageManifest
from content_service.packaging.inspect import build_from_zip
from content_service.packaging.limits import ImportLimits
from content_service.standards.export import ExportFormat, ExportOptions, export_package, zip_reader


class _DiscardingStore:
    """A blob store that keeps nothing: the files are read again from the zip itself."""

    def put(self, sha256: str, size: int, media_type: str, spool: BinaryIO) -> None:
        return None


def import_zip(path: Path, limits: ImportLimits, workdir: Path) -> PackageManifest:
    """The manifest a build of ``path`` would produce (raises PackageRejected if it would not build)."""
    return build_from_zip(path, limits, _DiscardingStore(), workdir=workdir)


def export_zip(
    source: Path,
    fmt: ExportFormat | str,
    options: ExportOptions,
    out: Path,
    *,
    limits: ImportLimits,
    workdir: Path,
    logo: bytes | None = None,
) -> PackageManifest:
    """Import ``source`` through the sandbox, export it to ``out``; returns the source manifest.

    ``logo`` is the bytes of the logo ``options.branding`` names, if it names one."""
    manifest = import_zip(source, limits, workdir)
    with zip_reader(source, limits) as read_file:
        export_package(manifest, read_file, fmt, options, out=out, logo=logo)
    return manifest
