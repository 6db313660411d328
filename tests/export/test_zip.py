"""Exports are deterministic zips that strict readers accept."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest

from content_service.packaging.limits import ImportLimits
from content_service.standards.export import ExportOptions
from content_service.standards.export.local import export_zip
from tests.export.conftest import FORMATS, Exporter
from tests.security.hostile import INDEX, awkward_cases

JAVA_CHECK = """
import java.util.Enumeration;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipInputStream;
import java.io.FileInputStream;
import java.io.InputStream;

public class ZipCheck {
    public static void main(String[] args) throws Exception {
        for (String path : args) {
            int entries = 0;
            try (ZipFile zip = new ZipFile(path)) {
                Enumeration<? extends ZipEntry> all = zip.entries();
                while (all.hasMoreElements()) {
                    ZipEntry entry = all.nextElement();
                    try (InputStream in = zip.getInputStream(entry)) { in.readAllBytes(); }
                    entries++;
                }
            }
            int streamed = 0;
            try (ZipInputStream in = new ZipInputStream(new FileInputStream(path))) {
                ZipEntry entry;
                while ((entry = in.getNextEntry()) != null) {
                    if (entry.getSize() < 0 || entry.getCompressedSize() < 0) throw new IllegalStateException("sizes only in a data descriptor: " + entry.getName());
                    in.readAllBytes();
                    streamed++;
                }
            }
            if (entries != streamed) throw new IllegalStateException(path + ": " + entries + " != " + streamed);
            System.out.println(path + " " + entries);
        }
    }
}
"""


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_export_is_byte_for_byte_reproducible(fmt: str, sample_zip: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    for out in (first, second):
        export_zip(
            sample_zip, fmt, ExportOptions(mastery_score=0.5), out, limits=ImportLimits(), workdir=tmp_path
        )
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize("fmt", FORMATS)
def test_entries_are_sorted_dated_1980_plain_and_without_descriptors_or_extras(
    fmt: str, export: Exporter, sample_zip: Path
) -> None:
    path = export(sample_zip, fmt)
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        assert names == sorted(names)
        for info in infos:
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.extra == b""
            assert info.flag_bits & 0x8 == 0, f"{info.filename} uses a data descriptor"
            assert info.flag_bits & 0x1 == 0
            assert info.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
            assert not info.is_dir()
        assert archive.testzip() is None
    _local_headers_have_no_extra_fields(path.read_bytes())


def _local_headers_have_no_extra_fields(data: bytes) -> None:
    offset = 0
    while data[offset : offset + 4] == b"PK\x03\x04":
        flags, _, _, _, _, compressed, _, name_length, extra_length = struct.unpack(
            "<HHHHIIIHH", data[offset + 6 : offset + 30]
        )
        assert extra_length == 0 and flags & 0x8 == 0
        offset += 30 + name_length + compressed
    assert data[offset : offset + 4] == b"PK\x01\x02", (
        "local entries must be followed by the central directory"
    )


def require_jdk() -> None:
    """Skip without a JDK; in CI (CI=true), where .ci/run installs default-jdk-headless, fail."""
    missing = [tool for tool in ("javac", "java") if shutil.which(tool) is None]
    if not missing:
        return
    message = f"the Java zip-reader test needs a JDK ({', '.join(missing)} not found)"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI must install it: see .ci/run)", pytrace=False)
    pytest.skip(message + "; apt-get install default-jdk-headless")


def test_java_util_zip_reads_every_export(export: Exporter, sample_zip: Path, tmp_path: Path) -> None:
    require_jdk()
    (tmp_path / "ZipCheck.java").write_text(JAVA_CHECK)
    subprocess.run(["javac", "ZipCheck.java"], cwd=tmp_path, check=True, capture_output=True, timeout=120)
    paths = [str(export(sample_zip, fmt)) for fmt in FORMATS]
    run = subprocess.run(
        ["java", "-cp", str(tmp_path), "ZipCheck", *paths], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert len(run.stdout.splitlines()) == len(FORMATS)


@pytest.mark.parametrize(
    ("case", "page"),
    [
        ("bsdtar-dot-prefix", "content/page.html"),  # ./content/page.html in the zip
        ("dotnet-backslash-separators", "content/page.html"),  # content\page.html from a Windows writer
        ("russian-windows-unicode-path", "урок.html"),  # cp866 bytes, the name in a Unicode Path block
    ],
)
def test_a_package_exports_by_the_names_its_build_gave_its_files(case: str, page: str, tmp_path: Path) -> None:
    # The export reads files by manifest path; zipfile knows these entries by other names.
    source = tmp_path / f"{case}.zip"
    source.write_bytes(awkward_cases()[case])
    out = tmp_path / "out.zip"

    manifest = export_zip(source, "scorm12", ExportOptions(), out, limits=ImportLimits(), workdir=tmp_path)

    with zipfile.ZipFile(out) as exported:
        assert page in {entry.path for entry in manifest.files}
        assert exported.read(page).startswith(INDEX[:15])
