"""Shared fixtures: source packages (the native sample and conformance packages) and their exports."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from content_service.domain.package import PackageManifest
from content_service.packaging.limits import ImportLimits
from content_service.samples import sample_zip_bytes
from content_service.standards.export import ExportOptions
from content_service.standards.export.local import export_zip, import_zip
from tests.conformance_data import PACKAGES

FORMATS = ("scorm12", "scorm2004", "xapi", "cmi5")

# Imported sources, one per standard: each is exported to every format and read back.
CONFORMANCE_SOURCES = {
    "scorm12-golf": PACKAGES / "scorm12" / "golf_ContentPackagingSingleSCO_SCORM12.zip",
    "scorm2004-golf": PACKAGES / "scorm2004" / "golf_SequencingSimpleRemediation_SCORM20043rdEdition.zip",
    "cmi5-catapult": PACKAGES / "cmi5" / "catapult_multi_au_framed.zip",
    "xapi-golf": PACKAGES / "xapi" / "tincan_prototypes_GolfExample_TCAPI.zip",
}

Exporter = Callable[..., Path]


@pytest.fixture(scope="session")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("exports")


@pytest.fixture(scope="session")
def sample_zip(export_dir: Path) -> Path:
    path = export_dir / "welcome.zip"
    path.write_bytes(sample_zip_bytes())
    return path


def source_path(name: str, sample: Path) -> Path:
    return sample if name == "native-sample" else CONFORMANCE_SOURCES[name]


@pytest.fixture(scope="session")
def export(export_dir: Path) -> Exporter:
    """Export a source zip (cached per source, format and options) and return the export's path."""
    cache: dict[tuple[Path, str, str], Path] = {}

    def run(source: Path, fmt: str, options: ExportOptions | None = None, logo: bytes | None = None) -> Path:
        options = options or ExportOptions()
        key = (source, fmt, options.model_dump_json() + (logo or b"").hex())
        if key not in cache:
            out = export_dir / f"{source.stem}-{fmt}-{len(cache)}.zip"
            export_zip(source, fmt, options, out, limits=ImportLimits(), workdir=export_dir, logo=logo)
            cache[key] = out
        return cache[key]

    return run


@pytest.fixture(scope="session")
def manifest_of(export_dir: Path) -> Callable[[Path], PackageManifest]:
    cache: dict[Path, PackageManifest] = {}

    def read(path: Path) -> PackageManifest:
        if path not in cache:
            cache[path] = import_zip(path, ImportLimits(), export_dir)
        return cache[path]

    return read
