"""A branded export carries the tenant's branding beside the content, linked from every launched page.

The descriptor still passes the official XSD, the branding files are listed (SCORM) and reached
from each page, and the content's own bytes are what they were once the injected line is removed.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest
from defusedxml.ElementTree import fromstring

from content_service.domain.logo import DEFAULT_LOGO_MAX_BYTES, BrandLogo
from content_service.domain.tenant import Branding
from content_service.standards.export import ExportError, ExportOptions
from content_service.standards.export.checks import DESCRIPTORS
from content_service.standards.export.options import ExportFormat
from content_service.standards.export.pages import strip
from tests.export.conftest import FORMATS, Exporter
from tests.export.courses import scorm12_course
from tests.export.schemas import xsd_errors
from tests.logos import png

ACME = Branding("Acme", "#0a5cff", None, (("--brand-radius", "4px"),))


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_branded_export_links_the_stylesheet_from_each_page_and_passes_the_xsd(
    fmt: str, export: Exporter, sample_zip: Path
) -> None:
    plain = export(sample_zip, fmt)
    branded = export(sample_zip, fmt, ExportOptions(branding=ACME.as_dict()))
    with zipfile.ZipFile(branded) as archive, zipfile.ZipFile(plain) as unbranded:
        names = set(archive.namelist())
        assert {"content-branding.css", "content-branding.json"} <= names
        assert b"--brand-primary: #0a5cff;" in archive.read("content-branding.css")
        assert Branding.from_dict(json.loads(archive.read("content-branding.json"))) == ACME
        descriptor = archive.read(DESCRIPTORS[ExportFormat(fmt)])
        assert xsd_errors(fmt, descriptor) == []
        # The content's launched pages (the xAPI launcher page of a course of parts is generated).
        pages = [
            n
            for n in names
            if n.endswith(".html")
            and n != "content-launcher.html"
            and b"data-content-bridge" in archive.read(n)
        ]
        assert pages
        for page in pages:
            assert b'data-content-branding="1"' in archive.read(page)
            # The content is untouched: without the injected line it is the unbranded export's page.
            assert strip(archive.read(page)) == strip(unbranded.read(page))
        if fmt.startswith("scorm"):
            listed = {f.get("href") for f in fromstring(descriptor).iter() if f.tag.endswith("}file")}
            assert {"content-branding.css", "content-branding.json"} <= listed
        assert "content-branding.css" not in unbranded.namelist()


def test_branding_that_breaks_a_rule_is_not_an_export_option() -> None:
    with pytest.raises(ValueError, match="plain CSS value"):
        ExportOptions(branding={**ACME.as_dict(), "css_properties": {"--x": "url(https://evil)"}})


LOGO = png()
WITH_LOGO = Branding("Acme", "#0a5cff", logo=BrandLogo.of(LOGO, "image/png", max_bytes=DEFAULT_LOGO_MAX_BYTES))


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_branded_export_carries_the_logo_beside_the_stylesheet_and_lists_it(
    fmt: str, export: Exporter, sample_zip: Path
) -> None:
    branded = export(sample_zip, fmt, ExportOptions(branding=WITH_LOGO.as_dict()), logo=LOGO)
    with zipfile.ZipFile(branded) as archive:
        assert archive.read("content-branding-logo.png") == LOGO
        assert b'--brand-logo: url("content-branding-logo.png");' in archive.read("content-branding.css")
        assert Branding.from_dict(json.loads(archive.read("content-branding.json"))) == WITH_LOGO
        descriptor = archive.read(DESCRIPTORS[ExportFormat(fmt)])
        assert xsd_errors(fmt, descriptor) == []
        if fmt.startswith("scorm"):
            listed = {f.get("href") for f in fromstring(descriptor).iter() if f.tag.endswith("}file")}
            assert {"content-branding.css", "content-branding.json", "content-branding-logo.png"} <= listed


@pytest.mark.parametrize("logo", [None, LOGO[:-1], png(rgb=(255, 0, 0))], ids=["missing", "truncated", "other"])
def test_an_export_whose_logo_bytes_are_not_the_ones_the_branding_names_is_refused(
    logo: bytes | None, export: Exporter, sample_zip: Path
) -> None:
    with pytest.raises(ExportError, match="logo"):
        export(sample_zip, "scorm12", ExportOptions(branding=WITH_LOGO.as_dict()), logo=logo)


def test_the_xapi_launcher_page_of_a_course_of_parts_is_branded(
    export: Exporter, tmp_path_factory: pytest.TempPathFactory
) -> None:
    course = scorm12_course(tmp_path_factory.mktemp("courses") / "branded12.zip")
    plain = export(course, "xapi")
    branded = export(course, "xapi", ExportOptions(branding=WITH_LOGO.as_dict()), logo=LOGO)
    with zipfile.ZipFile(branded) as archive, zipfile.ZipFile(plain) as unbranded:
        assert xsd_errors("xapi", archive.read(DESCRIPTORS[ExportFormat.XAPI])) == []
        launcher = archive.read("content-launcher.html").decode()
        assert '<link rel="stylesheet" href="content-branding.css" data-content-branding="1">' in launcher
        # The header shows the logo the package carries, named by the brand.
        (src,) = re.findall(r'<header class="content-brand"><img src="([^"]+)" alt="Acme"></header>', launcher)
        assert archive.read(src) == LOGO
        # The links to the parts are the unbranded launcher's.
        links = re.compile(r'<a href="[^"]+" data-activity="[^"]+">')
        assert links.findall(launcher) == links.findall(unbranded.read("content-launcher.html").decode())
        assert "content-brand" not in unbranded.read("content-launcher.html").decode()


def test_a_branded_launcher_without_a_logo_shows_the_brand_name(
    export: Exporter, tmp_path_factory: pytest.TempPathFactory
) -> None:
    course = scorm12_course(tmp_path_factory.mktemp("courses") / "named12.zip")
    branded = export(course, "xapi", ExportOptions(branding=Branding("Acme &amp; Co", "#0a5cff").as_dict()))
    with zipfile.ZipFile(branded) as archive:
        launcher = archive.read("content-launcher.html").decode()
        assert '<header class="content-brand"><span>Acme &amp;amp; Co</span></header>' in launcher
