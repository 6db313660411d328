"""validate_zip and build_from_zip, with a fake standards parser and an in-memory blob store."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO

import pytest

from content_service.domain.package import Launch, Problem, Standard
from content_service.packaging.inspect import build_from_zip, validate_zip
from content_service.packaging.limits import ImportLimits
from content_service.packaging.model import Descriptor, DescriptorSource, PackageRejected
from tests.zipcraft import Entry, build

LIMITS = ImportLimits()
INDEX = b"<p>lesson</p>"


class FakeParser:
    """Reads playpackage.json through the source (so bounded reads are exercised) and launches index.html."""

    def __init__(self, href: str = "index.html") -> None:
        self.href = href
        self.seen_names: frozenset[str] = frozenset()

    def __call__(self, source: DescriptorSource) -> Descriptor:
        self.seen_names = source.names
        title = source.read("playpackage.json").decode()
        return Descriptor(Standard.NATIVE, title, "en", (Launch("entry", title, self.href),), {"k": "v"})


def refusing_parser(source: DescriptorSource) -> Descriptor:
    raise PackageRejected([Problem("xml.dtd_forbidden", "no DTDs", "imsmanifest.xml")])


class MemoryStore:
    def __init__(self) -> None:
        self.blobs: dict[str, tuple[int, str, bytes]] = {}
        self.puts = 0

    def put(self, sha256: str, size: int, media_type: str, spool: BinaryIO) -> None:
        self.puts += 1
        self.blobs[sha256] = (size, media_type, spool.read())


def _zip(tmp_path: Path, *extra: Entry) -> Path:
    path = tmp_path / "package.zip"
    path.write_bytes(build([Entry("playpackage.json", b"Course"), Entry("index.html", INDEX), *extra]))
    return path


def test_a_valid_package_reports_in_the_documented_json_shape(tmp_path: Path) -> None:
    report = validate_zip(_zip(tmp_path), LIMITS, parser=FakeParser())

    document = report.as_json_dict()

    assert list(document) == ["valid", "standard", "title", "launches", "files", "bytes", "problems"]
    assert document["valid"] is True
    assert (document["standard"], document["title"], document["files"]) == ("native", "Course", 2)
    assert document["bytes"] == len(b"Course") + len(INDEX)
    assert document["launches"][0]["href"] == "index.html"
    assert document["problems"] == []


def test_the_parser_sees_file_names_without_directory_entries(tmp_path: Path) -> None:
    parser = FakeParser()

    validate_zip(_zip(tmp_path, Entry("assets/", b"", external_attr=0o040755 << 16)), LIMITS, parser=parser)

    assert parser.seen_names == frozenset({"playpackage.json", "index.html"})


def test_validation_collects_parser_and_content_problems_together(tmp_path: Path) -> None:
    path = _zip(tmp_path, Entry("lie.bin", b"abc", declared_crc=7))

    report = validate_zip(path, LIMITS, parser=refusing_parser)

    assert report.valid is False
    assert [problem.code for problem in report.problems] == ["xml.dtd_forbidden", "zip.crc_mismatch"]
    assert report.as_json_dict()["problems"][1] == {
        "code": "zip.crc_mismatch",
        "detail": "the content does not match its CRC-32",
        "path": "lie.bin",
    }


def test_central_directory_refusals_come_back_as_a_report(tmp_path: Path) -> None:
    report = validate_zip(_zip(tmp_path, Entry("../x", b"")), LIMITS, parser=FakeParser())

    assert (report.valid, report.files, [p.code for p in report.problems]) == (
        False,
        0,
        ["zip.path_traversal"],
    )


def test_a_launch_the_package_lacks_breaks_the_manifest_invariant(tmp_path: Path) -> None:
    report = validate_zip(_zip(tmp_path), LIMITS, parser=FakeParser(href="missing.html"))

    assert [problem.code for problem in report.problems] == ["package.invalid_manifest"]


def test_build_stores_every_file_by_its_hash_and_returns_the_manifest(tmp_path: Path) -> None:
    store = MemoryStore()
    workdir = tmp_path / "work"
    workdir.mkdir()

    manifest = build_from_zip(_zip(tmp_path), LIMITS, store, workdir=workdir, parser=FakeParser())

    index_sha = hashlib.sha256(INDEX).hexdigest()
    assert store.blobs[index_sha] == (len(INDEX), "text/html; charset=utf-8", INDEX)
    assert {entry.path: entry.sha256 for entry in manifest.files}["index.html"] == index_sha
    assert manifest.standard is Standard.NATIVE
    assert manifest.metadata == {"k": "v"}
    assert manifest.content_hash
    assert list(workdir.iterdir()) == []


def test_build_refuses_sizes_that_lie(tmp_path: Path) -> None:
    path = _zip(tmp_path, Entry("lie.bin", b"x" * 5000, declared_size=100))
    workdir = tmp_path / "work"
    workdir.mkdir()

    with pytest.raises(PackageRejected) as rejected:
        build_from_zip(path, LIMITS, MemoryStore(), workdir=workdir, parser=FakeParser())

    assert rejected.value.problems[0].code == "zip.size_mismatch"
    assert list(workdir.iterdir()) == []


def test_build_stores_nothing_when_the_descriptor_is_refused(tmp_path: Path) -> None:
    store = MemoryStore()

    with pytest.raises(PackageRejected):
        build_from_zip(_zip(tmp_path), LIMITS, store, workdir=tmp_path, parser=refusing_parser)

    assert store.puts == 0
