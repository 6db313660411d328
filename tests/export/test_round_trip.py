"""import(export(p)) gives back p's files, launches and titles, for every format.

What an export adds (its descriptor, the bridge, the SCORM schema files) and what it drops
(the source's own descriptor and root schema files) are the only differences in the file
list. Launched HTML pages differ by exactly the one line the bridge tag takes.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from content_service.domain.package import PackageManifest, Standard
from content_service.packaging.inspect import validate_zip
from content_service.packaging.limits import ImportLimits
from content_service.standards import DESCRIPTOR_NAMES
from content_service.standards.export import ExportOptions, bridge_source
from content_service.standards.export.pages import strip
from content_service.standards.export.schemas import all_schema_names, schema_files
from tests.export.conftest import CONFORMANCE_SOURCES, FORMATS, Exporter, source_path

SOURCES = ["native-sample", *sorted(CONFORMANCE_SOURCES)]
STANDARD = {
    "scorm12": Standard.SCORM12,
    "scorm2004": Standard.SCORM2004,
    "xapi": Standard.XAPI,
    "cmi5": Standard.CMI5,
}


def _is_source_only(path: str) -> bool:
    return "/" not in path and path.casefold() in {
        *DESCRIPTOR_NAMES,
        *(n.casefold() for n in all_schema_names()),
    }


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("fmt", FORMATS)
def test_import_of_an_export_keeps_files_launches_and_titles(
    fmt: str,
    source: str,
    export: Exporter,
    sample_zip: Path,
    manifest_of: Callable[[Path], PackageManifest],
) -> None:
    source_zip = source_path(source, sample_zip)
    original = manifest_of(source_zip)
    exported = export(source_zip, fmt)

    report = validate_zip(exported, ImportLimits())
    assert report.valid, report.problems
    assert report.standard == STANDARD[fmt].value
    again = manifest_of(exported)

    added = {
        "content-bridge.js",
        "imsmanifest.xml" if fmt.startswith("scorm") else f"{'tincan' if fmt == 'xapi' else fmt}.xml",
    }
    added |= set(schema_files(fmt)) if fmt.startswith("scorm") else set()
    launcher = fmt == "xapi" and len(original.launches) > 1
    added |= {"content-launcher.html"} if launcher else set()
    kept = {
        entry.path: entry
        for entry in original.files
        if not _is_source_only(entry.path) and entry.path not in added
    }
    assert {entry.path for entry in again.files} - added == set(kept)

    launched = {launch.href for launch in original.launches}
    with zipfile.ZipFile(source_zip) as before, zipfile.ZipFile(exported) as after:
        for path, entry in kept.items():
            new = next(e for e in again.files if e.path == path)
            if path in launched and path.endswith((".html", ".htm")):
                assert strip(after.read(path)) == before.read(path), (
                    f"{path}: more changed than the bridge tag"
                )
                assert b"data-content-bridge" in after.read(path)
            else:
                assert new.sha256 == entry.sha256, f"{path} changed"
        assert after.read("content-bridge.js") == bridge_source()

    def shape(manifest: PackageManifest) -> list[tuple[str, str, str]]:
        return [(launch.href, launch.parameters, launch.title) for launch in manifest.launches]

    if fmt != "xapi":
        assert shape(again) == shape(original)
    elif launcher:
        # One course activity launches the launcher page; the parts follow it without a launch.
        assert shape(again) == [("content-launcher.html", "", original.title)]
        parts = again.metadata["activities"][1:]
        assert [part["name"][0]["value"] for part in parts] == [launch.title for launch in original.launches]
        assert all(part["launch"] is None for part in parts)
    else:
        assert shape(again) == [
            (launch.href, launch.parameters, original.title) for launch in original.launches
        ]
    assert again.title == original.title
    if fmt.startswith("scorm") and source == "native-sample":
        assert [launch.id for launch in again.launches] == [launch.id for launch in original.launches]


def test_a_new_title_and_language_reach_the_imported_export(
    export: Exporter, sample_zip: Path, manifest_of: Callable[[Path], PackageManifest]
) -> None:
    options = ExportOptions(title="Renamed", language="fr")
    for fmt in ("scorm12", "scorm2004", "cmi5"):
        again = manifest_of(export(sample_zip, fmt, options))
        assert again.title == "Renamed"
        assert again.language == "fr"


@pytest.mark.parametrize("fmt", FORMATS)
def test_paths_that_need_escaping_and_launch_parameters_survive(
    fmt: str, tmp_path: Path, manifest_of: Callable[[Path], PackageManifest], export: Exporter
) -> None:

    source = tmp_path / "odd.zip"
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr(
            "playpackage.json",
            json.dumps(
                {
                    "title": "Odd names",
                    "language": "de",
                    "entry": "my pages/ünï code%231.html?lang=de#intro",
                    "launches": [
                        {
                            "id": "1st",
                            "title": "Erste & beste",
                            "entry": "my pages/ünï code%231.html?lang=de#intro",
                        },
                        {"id": "second", "title": "Zweite", "entry": "b (copy).htm"},
                    ],
                }
            ),
        )
        archive.writestr(
            "my pages/ünï code#1.html", "<html><head><title>x</title></head><body>1</body></html>"
        )
        archive.writestr("b (copy).htm", "<p>no head at all</p>")
        archive.writestr("assets/100% done.css", "p{}")
    original = manifest_of(source)
    again = manifest_of(export(source, fmt))
    if fmt == "xapi":
        with zipfile.ZipFile(export(source, fmt)) as archive:
            launcher = archive.read("content-launcher.html").decode()
        # The launcher links each part by its escaped URL, launch parameters kept.
        assert [(launch.href, launch.parameters) for launch in again.launches] == [
            ("content-launcher.html", "")
        ]
        assert 'href="my%20pages/%C3%BCn%C3%AF%20code%231.html?lang=de#intro"' in launcher
        assert 'href="b%20(copy).htm"' in launcher
    else:
        assert [(launch.href, launch.parameters, launch.title) for launch in again.launches] == [
            (launch.href, launch.parameters, launch.title) for launch in original.launches
        ]
    assert "assets/100% done.css" in {entry.path for entry in again.files}
    with zipfile.ZipFile(export(source, fmt)) as archive:
        page = archive.read("my pages/ünï code#1.html")
        assert b'src="../content-bridge.js"' in page
        assert strip(page) == b"<html><head><title>x</title></head><body>1</body></html>"
        assert strip(archive.read("b (copy).htm")) == b"<p>no head at all</p>"
