"""``content-service build``: the Lambda's build, offline, into a directory.

The command is run as a user runs it (the installed console script); what it writes is then
checked independently: every file is under its SHA-256, the manifest is the one the sandbox
and parser make, and the container opens with the key beside it and holds the package's bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from content_service.adapters.directory import read_key
from content_service.cli.build import build_offline, package_id_for
from content_service.crypto import ContainerKeyMismatch, ContainerReader
from content_service.domain.package import PackageManifest
from content_service.packaging.limits import ImportLimits
from content_service.samples import sample_zip_bytes
from content_service.standards.export.local import import_zip
from tests.export.courses import scorm2004_course
from tests.zipcraft import Entry, build

CLI = Path(sys.executable).parent / "content-service"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False
    )


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "welcome.zip"
    path.write_bytes(sample_zip_bytes())
    return path


def test_build_writes_hashed_files_the_manifest_and_a_container_that_opens_with_its_key(
    sample: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = run("build", str(sample), "-o", str(out), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["built"] is True and report["standard"] == "native"

    manifest = PackageManifest.from_dict(json.loads((out / "manifest.json").read_text()))
    expected = import_zip(sample, ImportLimits(), tmp_path)
    assert manifest == expected
    assert report["content_hash"] == manifest.content_hash
    assert report["files"] == len(manifest.files) and report["bytes"] == manifest.total_bytes

    with zipfile.ZipFile(sample) as archive:
        for entry in manifest.files:
            stored = (out / "files" / entry.sha256).read_bytes()
            assert hashlib.sha256(stored).hexdigest() == entry.sha256
            assert stored == archive.read(entry.path)
        key_file = out / "content.key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        container = (out / "content.cspc").read_bytes()
        assert hashlib.sha256(container).hexdigest() == report["container"]["sha256"]
        assert len(container) == report["container"]["size"]
        with (out / "content.cspc").open("rb") as sealed:
            reader = ContainerReader(sealed, read_key(key_file))
            reader.verify()
            assert sorted(entry.path for entry in reader.files()) == sorted(e.path for e in manifest.files)
            for entry in manifest.files:
                assert reader.read_file(entry.path) == archive.read(entry.path)


def test_a_second_build_of_the_same_zip_has_the_same_manifest_and_a_new_key(
    sample: Path, tmp_path: Path
) -> None:
    first = build_offline(sample, tmp_path / "a", limits=ImportLimits())
    second = build_offline(sample, tmp_path / "b", limits=ImportLimits())
    assert first.manifest == second.manifest
    assert read_key(tmp_path / "a" / "content.key") != read_key(tmp_path / "b" / "content.key")
    with (tmp_path / "a" / "content.cspc").open("rb") as sealed, pytest.raises(ContainerKeyMismatch):
        ContainerReader(sealed, read_key(tmp_path / "b" / "content.key")).verify()


def test_the_build_keeps_the_source_structure_in_the_manifest(tmp_path: Path) -> None:
    source = scorm2004_course(tmp_path / "course.zip")
    result = build_offline(source, tmp_path / "out", limits=ImportLimits())
    assert result.built and result.manifest is not None
    stored = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert stored["metadata"]["sequencing_collection"] == result.manifest.metadata["sequencing_collection"]
    assert [launch["id"] for launch in stored["launches"]] == ["start", "topic_a", "topic_b", "exam"]


def test_a_refused_package_exits_1_with_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip at all")
    out = tmp_path / "out"
    result = run("build", str(bad), "-o", str(out))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "zip.not_a_zip" in result.stderr
    assert result.stdout == ""
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bad.zip"]


def test_a_hostile_zip_is_refused_by_the_sandbox_and_nothing_escapes(tmp_path: Path) -> None:
    hostile = tmp_path / "hostile.zip"
    hostile.write_bytes(
        build(
            [
                Entry("playpackage.json", b'{"title": "x", "entry": "index.html"}'),
                Entry("../escape.html", b"x"),
            ]
        )
    )
    out = tmp_path / "out"
    result = run("build", str(hostile), "-o", str(out), "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["built"] is False and report["problem"]["code"].startswith("zip.")
    assert not (tmp_path.parent / "escape.html").exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["hostile.zip"]


def test_usage_errors_exit_2_with_one_line(sample: Path, tmp_path: Path) -> None:
    missing = run("build", str(tmp_path / "nope.zip"), "-o", str(tmp_path / "out"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    occupied = run("build", str(sample), "-o", str(tmp_path / "full"))
    assert occupied.returncode == 2 and "not an empty directory" in occupied.stderr
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
    no_parent = run("build", str(sample), "-o", str(tmp_path / "nowhere" / "out"))
    assert no_parent.returncode == 2 and "no such directory" in no_parent.stderr
    for result in (missing, occupied, no_parent):
        assert result.stderr.count("\n") == 1
    assert run("build", str(sample)).returncode == 2


def test_an_empty_output_directory_is_used(sample: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert run("build", str(sample), "-o", str(tmp_path / "empty")).returncode == 0
    assert (tmp_path / "empty" / "manifest.json").is_file()


def test_the_import_limits_come_from_the_environment(sample: Path, tmp_path: Path) -> None:
    result = run("build", str(sample), "-o", str(tmp_path / "out"), env={"IMPORT_LIMITS__MAX_FILES": "2"})
    assert result.returncode == 1 and "zip.too_many_files" in result.stderr


def test_package_ids_are_made_from_the_file_name() -> None:
    assert package_id_for(Path("My Course (v2).zip")) == "My-Course-v2"
    assert package_id_for(Path("ünï.zip")) == "n"
    assert package_id_for(Path("ü.zip")) == "package"


def test_a_zip_over_the_upload_limit_is_refused_before_it_is_read(sample: Path, tmp_path: Path) -> None:
    result = run(
        "build", str(sample), "-o", str(tmp_path / "out"), env={"IMPORT_LIMITS__MAX_UPLOAD_BYTES": "100"}
    )
    assert result.returncode == 1 and "upload.too_large" in result.stderr
    assert not (tmp_path / "out").exists()
