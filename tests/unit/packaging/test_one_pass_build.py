"""The build reads every file once: checked, hashed, stored and sealed on the same pass."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import BinaryIO

import pytest

from content_service.crypto import ContainerReader
from content_service.packaging import zipsafe
from content_service.packaging.containers import build_and_seal, seal_package
from content_service.packaging.limits import ImportLimits
from content_service.packaging.model import PackageRejected
from tests.security.hostile import package
from tests.zipcraft import Entry

LIMITS = ImportLimits()


class _Store:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def put(self, sha256: str, size: int, media_type: str, spool: BinaryIO) -> None:
        data = spool.read()
        assert len(data) == size
        self.blobs[sha256] = data


class _Key:
    def __init__(self) -> None:
        self.key = os.urandom(32)
        self.asked = 0

    def __call__(self) -> bytes:
        self.asked += 1
        return self.key


def _zip(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "package.zip"
    path.write_bytes(data)
    return path


def test_every_file_is_read_once_and_lands_in_the_store_the_manifest_and_the_container(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []

    def counting(method):  # type: ignore[no-untyped-def]
        def counted(archive: zipsafe.SafeZip, entry: zipsafe.SafeEntry):  # type: ignore[no-untyped-def]
            reads.append(entry.name)
            return method(archive, entry)

        return counted

    # The descriptor is read by iter_chunks, the files by the pass (which may run in threads).
    for name in ("iter_chunks", "iter_chunks_concurrently"):
        monkeypatch.setattr(zipsafe.SafeZip, name, counting(getattr(zipsafe.SafeZip, name)))
    big = os.urandom(3 * 1024 * 1024 + 5)
    source = _zip(tmp_path, package(Entry("assets/big.bin", big), Entry("assets/empty.txt", b"")))
    store, key = _Store(), _Key()

    built = build_and_seal(source, LIMITS, store, key, tmp_path / "c.cspc", workdir=tmp_path)

    files = {file.path: file for file in built.manifest.files}
    assert sorted(reads) == sorted([*files, "imsmanifest.xml"])  # the descriptor is parsed first
    assert reads.count("assets/big.bin") == 1
    assert files["assets/big.bin"].sha256 == hashlib.sha256(big).hexdigest()
    assert {file.sha256: store.blobs[file.sha256] for file in files.values()}.keys() == store.blobs.keys()
    assert store.blobs[files["assets/big.bin"].sha256] == big
    container = (tmp_path / "c.cspc").read_bytes()
    assert hashlib.sha256(container).hexdigest() == built.container.sha256
    with (tmp_path / "c.cspc").open("rb") as handle:
        reader = ContainerReader(handle, key.key)
        assert {entry.path: entry.sha256 for entry in reader.files()} == {
            path: file.sha256 for path, file in files.items()
        }
    assert key.asked == 1


def test_a_refused_package_never_asks_for_a_content_key(tmp_path: Path) -> None:
    source = _zip(tmp_path, package(Entry("../evil.sh", b"x")))
    key = _Key()

    with pytest.raises(PackageRejected) as rejected:
        build_and_seal(source, LIMITS, _Store(), key, tmp_path / "c.cspc", workdir=tmp_path)

    assert rejected.value.problems[0].code == "zip.path_traversal"
    assert key.asked == 0


def test_a_file_that_fails_its_crc_on_the_pass_refuses_the_build(tmp_path: Path) -> None:
    source = _zip(tmp_path, package(Entry("lie.bin", b"content", declared_crc=1234)))

    with pytest.raises(PackageRejected) as rejected:
        build_and_seal(source, LIMITS, _Store(), _Key(), tmp_path / "c.cspc", workdir=tmp_path)

    assert rejected.value.problems[0].code == "zip.crc_mismatch"
    assert list(tmp_path.glob("tmp*")) == []


def test_seal_package_seals_a_built_zip_with_the_files_it_holds(tmp_path: Path) -> None:
    big = os.urandom(200_000)
    source = _zip(tmp_path, package(Entry("assets/big.bin", big), Entry("a.txt", b"a")))
    key = os.urandom(32)

    sealed = seal_package(source, LIMITS, key, tmp_path / "c.cspc")

    assert hashlib.sha256(sealed.path.read_bytes()).hexdigest() == sealed.sha256
    with sealed.path.open("rb") as handle:
        reader = ContainerReader(handle, key)
        assert reader.read_range("assets/big.bin", 0, len(big)) == big
        assert reader.entry("a.txt").sha256 == hashlib.sha256(b"a").hexdigest()
    assert sealed.summary.files == reader.files() and sealed.summary.size == sealed.path.stat().st_size


def test_seal_package_checks_the_zip_again_as_it_reads_it(tmp_path: Path) -> None:
    source = _zip(tmp_path, package(Entry("lie.bin", b"content", declared_crc=1234)))

    with pytest.raises(PackageRejected) as rejected:
        seal_package(source, LIMITS, os.urandom(32), tmp_path / "c.cspc")

    assert rejected.value.problems[0].code == "zip.crc_mismatch"


def test_seal_package_refuses_what_is_not_a_zip(tmp_path: Path) -> None:
    with pytest.raises(PackageRejected):
        seal_package(_zip(tmp_path, b"not a zip at all"), LIMITS, os.urandom(32), tmp_path / "c.cspc")
