"""``content-service export``: offline, from a source or imported zip; one-line errors and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from content_service.packaging.inspect import validate_zip
from content_service.packaging.limits import ImportLimits
from tests.export.conftest import CONFORMANCE_SOURCES

CLI = Path(sys.executable).parent / "content-service"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), "export", *args], capture_output=True, text=True, check=False, env=dict(os.environ)
    )


def _native_zip(path: Path, files: dict[str, bytes], descriptor: dict) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("playpackage.json", json.dumps(descriptor))
        for name, data in files.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize("fmt", ["scorm12", "scorm2004", "xapi", "cmi5"])
def test_export_writes_a_package_that_imports_as_the_format(
    fmt: str, sample_zip: Path, tmp_path: Path
) -> None:
    out = tmp_path / f"out-{fmt}.zip"
    result = run(
        str(sample_zip),
        "--format",
        fmt,
        "-o",
        str(out),
        "--mastery-score",
        "0.8",
        "--reporting",
        "passed/failed",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    report = validate_zip(out, ImportLimits())
    assert report.valid and report.standard == fmt
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_export_takes_an_imported_package_too(tmp_path: Path) -> None:
    out = tmp_path / "golf.zip"
    result = run(
        str(CONFORMANCE_SOURCES["scorm12-golf"]),
        "-f",
        "cmi5",
        "-o",
        str(out),
        "--identifier",
        "https://example.org/golf",
    )
    assert result.returncode == 0, result.stderr
    assert b'id="https://example.org/golf"' in zipfile.ZipFile(out).read("cmi5.xml")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "scorm3"], "--format must be one of"),
        (["--format", "cmi5", "--mastery-score", "1.5"], "--mastery-score"),
        (["--format", "cmi5", "--reporting", "done/undone"], "--reporting"),
        (["--format", "cmi5", "--language", "not a tag"], "--language"),
        (["--format", "cmi5", "--move-on", "Sometimes"], "--move-on"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    args: list[str], message: str, sample_zip: Path, tmp_path: Path
) -> None:
    result = run(str(sample_zip), *args, "-o", str(tmp_path / "x.zip"))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert not (tmp_path / "x.zip").exists()


def test_a_missing_source_is_a_usage_error(tmp_path: Path) -> None:
    result = run(str(tmp_path / "nothing.zip"), "-f", "xapi", "-o", str(tmp_path / "x.zip"))
    assert result.returncode == 2 and "no such file" in result.stderr


def test_a_refused_package_exits_1_with_its_first_problem(tmp_path: Path) -> None:
    broken = _native_zip(
        tmp_path / "broken.zip", {}, {"title": "T", "language": "en", "entry": "missing.html"}
    )
    result = run(str(broken), "-f", "scorm12", "-o", str(tmp_path / "x.zip"))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "launch.missing_file" in result.stderr
    assert not (tmp_path / "x.zip").exists()


def test_a_launch_the_format_cannot_carry_exits_1(tmp_path: Path) -> None:
    source = _native_zip(
        tmp_path / "pdf.zip",
        {"guide.pdf": b"%PDF-1.4\n"},
        {"title": "T", "language": "en", "entry": "guide.pdf"},
    )
    result = run(str(source), "-f", "cmi5", "-o", str(tmp_path / "x.zip"))
    assert result.returncode == 1 and "not an HTML page" in result.stderr
    # SCORM launches such a page as an asset, which needs no runtime.
    ok = run(str(source), "-f", "scorm2004", "-o", str(tmp_path / "y.zip"))
    assert ok.returncode == 0, ok.stderr
    assert b'adlcp:scormType="asset" href="guide.pdf"' in zipfile.ZipFile(tmp_path / "y.zip").read(
        "imsmanifest.xml"
    )
