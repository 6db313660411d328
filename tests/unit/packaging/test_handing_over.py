"""A store that stores in the background is finished before a build returns, and abandoned when it fails."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import pytest

from content_service.packaging.containers import build_and_seal
from content_service.packaging.delta import build_and_seal_objects
from content_service.packaging.limits import ImportLimits
from content_service.packaging.model import PackageRejected
from tests.fakes import FakeContentObjects
from tests.security.hostile import package
from tests.zipcraft import Entry

LIMITS = ImportLimits()
KEY = bytes(range(32))


class _BackgroundStore:
    """Takes every spool and 'stores' it only when finished, recording what the build asked for."""

    def __init__(self, fail_finish: Exception | None = None) -> None:
        self.calls: list[str] = []
        self.taken: list[Path] = []
        self.stored: dict[str, bytes] = {}
        self._fail_finish = fail_finish

    def put(self, sha256: str, size: int, media_type: str, spool: BinaryIO) -> None:
        raise AssertionError("the build hands over its spools by name")

    def put_file(self, sha256: str, size: int, media_type: str, path: Path) -> None:
        self.calls.append("put_file")
        taken = path.with_name(f"{path.name}.taken")
        path.rename(taken)
        self.taken.append(taken)

    def finish(self) -> None:
        self.calls.append("finish")
        for path in self.taken:
            self.stored[path.name] = path.read_bytes()
            path.unlink()
        if self._fail_finish is not None:
            raise self._fail_finish

    def abandon(self) -> None:
        self.calls.append("abandon")
        for path in self.taken:
            path.unlink(missing_ok=True)


def _zip(tmp_path: Path, *entries: Entry) -> Path:
    path = tmp_path / "package.zip"
    path.write_bytes(package(*entries))
    return path


def _files(count: int) -> list[Entry]:
    return [Entry(f"f{n}.bin", os.urandom(2000)) for n in range(count)]


def _seal(source: Path, store: _BackgroundStore, workdir: Path, delta: bool) -> None:
    workdir.mkdir(exist_ok=True)
    if delta:
        build_and_seal_objects(
            source,
            LIMITS,
            store,
            lambda: KEY,
            lambda: KEY,
            FakeContentObjects({}, ""),
            workdir.parent / "i",
            workdir=workdir,
        )
    else:
        build_and_seal(source, LIMITS, store, lambda: KEY, workdir.parent / "c", workdir=workdir, workers=2)


@pytest.mark.parametrize("delta", [False, True])
def test_the_store_is_finished_once_every_file_is_handed_over(tmp_path: Path, delta: bool) -> None:
    store = _BackgroundStore()
    _seal(_zip(tmp_path, *_files(4)), store, tmp_path / "work", delta)
    assert store.calls == ["put_file"] * 6 + ["finish"]  # four files, the descriptor and index.html
    assert len(store.stored) == 6


@pytest.mark.parametrize("delta", [False, True])
def test_a_failed_build_abandons_the_store_and_is_never_finished(tmp_path: Path, delta: bool) -> None:
    store = _BackgroundStore()
    bad = Entry("z.bin", os.urandom(2000), declared_crc=1234)
    with pytest.raises(PackageRejected):
        _seal(_zip(tmp_path, *_files(3), bad), store, tmp_path / "work", delta)
    assert store.calls[-1] == "abandon" and "finish" not in store.calls
    assert list((tmp_path / "work").iterdir()) == []


def test_the_stores_error_at_finish_is_the_builds(tmp_path: Path) -> None:
    boom = OSError("the last upload failed")
    store = _BackgroundStore(fail_finish=boom)
    with pytest.raises(OSError) as raised:
        _seal(_zip(tmp_path, *_files(2)), store, tmp_path / "work", delta=False)
    assert raised.value is boom
    assert store.calls[-1] == "finish"  # no abandon after it: finish cleans up itself
