"""Names with a leading ``./`` (bsdtar, Windows 10's tar.exe, ``zip -r pkg.zip ./``) read without it.

The same files zipped with and without the prefix must build the same PlayPackage and
validate the same, while every rule still judges the name as read (the hostile catalogue
holds the refusals: ``./a/../../x``, ``./`` + an absolute path, ``./a`` beside ``a``, ...).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest

from content_service.domain.package import PackageManifest
from content_service.packaging.inspect import build_from_zip, validate_zip
from content_service.packaging.limits import ImportLimits
from content_service.packaging.model import PackageRejected
from content_service.packaging.zipnames import ROOT_DIRECTORY, read_name, without_dot_prefix
from content_service.packaging.zipsafe import SafeZip
from tests.security.hostile import INDEX, manifest
from tests.zipcraft import MADE_BY_DOS, MADE_BY_UNIX, UNIX_DIR, Entry, build

LIMITS = ImportLimits()

FILES: dict[str, bytes] = {
    "imsmanifest.xml": manifest("content/page.html"),
    "content/page.html": INDEX,
    "content/css/site.css": b"p { color: teal }",
    "content/img/pixel.bin": bytes(range(256)) * 3,
}


class _Store:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def put(self, sha256: str, size: int, media_type: str, spool: BinaryIO) -> None:
        self.blobs[sha256] = spool.read()


def _zipfile_archive(path: Path, prefix: str) -> Path:
    """The files zipped by ``zipfile`` under ``prefix`` (its ``write`` would normalise ``./`` away)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        if prefix:
            archive.writestr(zipfile.ZipInfo(prefix), b"")
        for folder in ("content/", "content/css/", "content/img/"):
            archive.writestr(zipfile.ZipInfo(prefix + folder), b"")
        for name, data in FILES.items():
            archive.writestr(prefix + name, data)
    return path


def _bsdtar_archive(path: Path, prefix: str) -> Path:
    """A real ``bsdtar -a -c -f pkg.zip .`` zip (``./`` names) or the same folder zipped by name.

    Skipped without bsdtar; in CI (CI=true), where .ci/run installs libarchive-tools, failed.
    """
    if shutil.which("bsdtar") is None:
        message = (
            "bsdtar (libarchive-tools) is not installed here; the zipfile case and the "
            "bsdtar-dot-prefix awkward case (libarchive's layout, byte by byte) cover the rule"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI must install it: see .ci/run)", pytrace=False)
        pytest.skip(message)
    folder = path.parent / f"folder-{path.stem}"
    for name, data in FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    members = ["."] if prefix else sorted(FILES)
    subprocess.run(["bsdtar", "-a", "-c", "-f", str(path), *members], cwd=folder, check=True)
    return path


_MAKERS = [
    pytest.param(_zipfile_archive, id="zipfile"),
    pytest.param(_bsdtar_archive, id="bsdtar"),
]


def _built(path: Path, tmp_path: Path) -> tuple[PackageManifest, dict[str, bytes]]:
    store = _Store()
    workdir = tmp_path / f"work-{path.stem}"
    workdir.mkdir()
    return build_from_zip(path, LIMITS, store, workdir=workdir), store.blobs


@pytest.mark.parametrize("make", _MAKERS)
def test_the_same_files_with_and_without_the_prefix_build_and_validate_the_same(
    make: Callable[[Path, str], Path], tmp_path: Path
) -> None:
    plain = make(tmp_path / "plain.zip", "")
    prefixed = make(tmp_path / "prefixed.zip", "./")
    with zipfile.ZipFile(prefixed) as archive:
        assert all(name.startswith("./") for name in archive.namelist())

    built_plain, blobs_plain = _built(plain, tmp_path)
    built_prefixed, blobs_prefixed = _built(prefixed, tmp_path)
    report_plain = validate_zip(plain, LIMITS).as_json_dict()
    report_prefixed = validate_zip(prefixed, LIMITS).as_json_dict()

    # bsdtar walks the folder in directory order, the plain zip names the files sorted: the
    # manifest lists files in the archive's order, and the content hash is over the sorted list.
    assert _in_path_order(built_prefixed) == _in_path_order(built_plain)
    assert sorted(entry.path for entry in built_prefixed.files) == sorted(FILES)
    assert built_prefixed.content_hash == built_plain.content_hash
    assert blobs_prefixed == blobs_plain
    assert report_prefixed == report_plain
    assert (report_prefixed["valid"], report_prefixed["files"]) == (True, len(FILES))


def _in_path_order(manifest: PackageManifest) -> PackageManifest:
    return dataclasses.replace(manifest, files=tuple(sorted(manifest.files, key=lambda entry: entry.path)))


def test_the_root_directory_entry_is_not_a_file(tmp_path: Path) -> None:
    path = tmp_path / "package.zip"
    path.write_bytes(build([Entry("./", external_attr=UNIX_DIR), Entry("./a.txt", b"a")]))

    with SafeZip.open(path, LIMITS) as archive:
        assert (archive.names, [entry.name for entry in archive.files]) == (frozenset({"a.txt"}), ["a.txt"])


def _codes(tmp_path: Path, entries: list[Entry], limits: ImportLimits) -> list[str]:
    path = tmp_path / "package.zip"
    path.write_bytes(build(entries))
    try:
        with SafeZip.open(path, limits):
            return []
    except PackageRejected as rejected:
        return [problem.code for problem in rejected.problems]


def test_depth_and_length_limits_judge_the_name_as_read(tmp_path: Path) -> None:
    # "abcd/efgh.txt" is 13 bytes in 2 segments: the prefix adds neither bytes nor a level.
    limits = ImportLimits(max_path_length=13, max_path_depth=2)

    assert _codes(tmp_path, [Entry("./abcd/efgh.txt", b"x")], limits) == []
    assert _codes(tmp_path, [Entry("./abcd/", external_attr=UNIX_DIR)], limits) == []
    assert _codes(tmp_path, [Entry("./abcd/efghi.txt", b"x")], limits) == ["zip.path_too_long"]
    assert _codes(tmp_path, [Entry("./a/b/c.txt", b"x")], limits) == ["zip.path_too_deep"]


@pytest.mark.parametrize(
    ("name", "read"),
    [
        ("./a.html", "a.html"),
        ("././a/b.html", "a/b.html"),
        ("./a/", "a/"),
        ("./", ROOT_DIRECTORY),
        ("./././", ROOT_DIRECTORY),
        ("./../x", "../x"),  # only the leading "./" goes: the rules see the traversal
        (".//etc/x", "/etc/x"),
        ("a/./b", "a/./b"),
        ("./a/./b", "a/./b"),
        (".", "."),
        ("..", ".."),
        (".a/b", ".a/b"),
        ("../a", "../a"),
    ],
)
def test_only_leading_dot_segments_are_dropped(name: str, read: str) -> None:
    assert without_dot_prefix(name) == read
    assert read_name(name, MADE_BY_UNIX) == read


@pytest.mark.parametrize(
    ("name", "host", "read"),
    [
        (".\\content\\page.html", MADE_BY_DOS, "content/page.html"),  # a Windows writer's separators first
        (".\\content\\page.html", MADE_BY_UNIX, ".\\content\\page.html"),  # elsewhere "\" is a character
        ("./content\\page.html", MADE_BY_DOS, "content\\page.html"),  # mixed: the backslash is kept, refused
    ],
)
def test_windows_separators_are_read_before_the_prefix_is_dropped(name: str, host: int, read: str) -> None:
    assert read_name(name, host) == read
