"""Spreading a build's files over threads changes nothing but the time it takes.

The container, the manifest and the stored files are the same byte for byte whatever the number
of workers, and a bad entry in any position is refused with the problem the serial build gives.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
from pathlib import Path
from typing import BinaryIO

import pytest

from content_service import correlation
from content_service.crypto import container as container_module
from content_service.crypto import delta as delta_crypto
from content_service.crypto.header import new_header
from content_service.packaging import delta as delta_build
from content_service.packaging import filepass
from content_service.packaging.containers import build_and_seal
from content_service.packaging.delta import build_and_seal_objects
from content_service.packaging.filepass import available_workers
from content_service.packaging.limits import ImportLimits
from content_service.packaging.model import PackageRejected
from tests.fakes import FakeContentObjects
from tests.security.hostile import package
from tests.zipcraft import Entry

LIMITS = ImportLimits()
KEY = bytes(range(32))
LINEAGE = bytes(range(32, 64))
WORKERS = (1, 2, 3, 8)


def _fixed_random(size: int) -> bytes:
    return b"\x5a" * size


@pytest.fixture(autouse=True)
def _fixed_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Salts and nonce prefixes are random; fixed here so that two builds can be compared byte for byte."""
    monkeypatch.setattr(
        container_module, "new_header", lambda key, size, _random: new_header(key, size, _fixed_random)
    )
    real_seal_index = delta_crypto.seal_index
    monkeypatch.setattr(
        delta_build, "seal_index", lambda *a, **k: real_seal_index(*a, **k, _random=_fixed_random)
    )


class _Store:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.order: list[str] = []

    def put(self, sha256: str, size: int, media_type: str, spool: BinaryIO) -> None:
        data = spool.read()
        assert len(data) == size and hashlib.sha256(data).hexdigest() == sha256
        self.blobs[sha256] = data
        self.order.append(sha256)


class _FileStore(_Store):
    """A store that takes the spool file itself, as the directory stores do."""

    def put_file(self, sha256: str, size: int, media_type: str, path: Path) -> None:
        with path.open("rb") as spool:
            self.put(sha256, size, media_type, spool)
        path.unlink()


def _files(count: int) -> list[Entry]:
    rng = random.Random(count)
    entries = []
    for number in range(count):
        # Sizes around and across the 64 KiB segment and the 1 MiB chunk, some stored, one empty.
        size = rng.choice([0, 1, 65_535, 65_536, 65_537, 300_000, 1_048_577, 2_500_000])
        data = bytes(rng.getrandbits(8) for _ in range(min(size, 4096))) * (size // 4096 + 1)
        entries.append(Entry(f"assets/f{number:02d}.bin", data[:size], method=rng.choice([0, 8, 8])))
    return entries


def _zip(tmp_path: Path, *entries: Entry) -> Path:
    path = tmp_path / "package.zip"
    path.write_bytes(package(*entries))
    return path


def _build(tmp_path: Path, source: Path, workers: int, store: _Store) -> tuple[bytes, dict[str, object]]:
    workdir = tmp_path / f"work-{workers}"
    workdir.mkdir()
    out = tmp_path / f"c-{workers}.cspc"
    built = build_and_seal(source, LIMITS, store, lambda: KEY, out, workdir=workdir, workers=workers)
    assert list(workdir.iterdir()) == []  # every spool is gone
    assert hashlib.sha256(out.read_bytes()).hexdigest() == built.container.sha256
    return out.read_bytes(), built.manifest.as_dict()


@pytest.mark.parametrize("store_type", [_Store, _FileStore])
def test_the_container_and_the_manifest_are_the_same_byte_for_byte_whatever_the_workers(
    tmp_path: Path, store_type: type[_Store]
) -> None:
    source = _zip(tmp_path, *_files(14))
    serial_store = store_type()
    serial = _build(tmp_path, source, 1, serial_store)

    for workers in WORKERS[1:]:
        store = store_type()
        assert _build(tmp_path, source, workers, store) == serial
        assert store.blobs == serial_store.blobs
        assert store.order == serial_store.order  # stored in the archive's order too


def test_the_delta_build_is_the_same_whatever_the_workers(tmp_path: Path) -> None:
    source = _zip(tmp_path, *_files(9))
    results = []
    for workers in WORKERS:
        objects = FakeContentObjects({}, "")

        workdir = tmp_path / f"work-{workers}"
        workdir.mkdir()
        out = tmp_path / f"i-{workers}.csix"
        built = build_and_seal_objects(
            source,
            LIMITS,
            _Store(),
            lambda: KEY,
            lambda: LINEAGE,
            objects,
            out,
            workdir=workdir,
            workers=workers,
        )
        assert list(workdir.iterdir()) == []
        results.append((out.read_bytes(), built.manifest.as_dict(), objects.stored()))
    assert all(result == results[0] for result in results)


def _bad(number: int, kind: str) -> Entry:
    name = f"assets/f{number:02d}.bin"
    data = os.urandom(200_000)
    if kind == "crc":
        return Entry(name, data, declared_crc=1234)
    return Entry(name, data, declared_size=len(data) + 10)  # the content ends short of its size


@pytest.mark.parametrize("position", [0, 3, 6])
def test_a_bad_entry_in_any_position_gives_the_serial_builds_problem(tmp_path: Path, position: int) -> None:
    entries = _files(7)
    entries[position] = _bad(position, "crc")
    if position + 2 < len(entries):
        # A later entry fails differently; the first one in the archive's order is the one reported.
        entries[position + 2] = _bad(position + 2, "truncated")
    source = _zip(tmp_path, *entries)

    refusals = []
    for workers in WORKERS:
        workdir = tmp_path / f"work-{workers}"
        workdir.mkdir()
        with pytest.raises(PackageRejected) as rejected:
            build_and_seal(
                source, LIMITS, _Store(), lambda: KEY, tmp_path / "c.cspc", workdir=workdir, workers=workers
            )
        assert list(workdir.iterdir()) == []  # no spool left behind, not even a later file's
        refusals.append(rejected.value.problems)
    assert refusals[0][0].code == "zip.crc_mismatch"
    assert refusals[0][0].path == f"assets/f{position:02d}.bin"
    assert all(problems == refusals[0] for problems in refusals)


def test_the_default_is_every_cpu_available_and_the_setting_overrides_it() -> None:
    assert available_workers() == len(os.sched_getaffinity(0))
    assert ImportLimits(build_workers=3).build_workers == 3
    with pytest.raises(ValueError):
        ImportLimits(build_workers=0)


def test_the_workers_run_in_the_builds_correlation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str | None] = []
    real = filepass.spool_entry

    def spool_entry(*args):  # type: ignore[no-untyped-def]
        seen.append(correlation.current())
        return real(*args)

    monkeypatch.setattr(filepass, "spool_entry", spool_entry)
    source = _zip(tmp_path, *_files(4))
    with correlation.bound("corr-123"):
        _build(tmp_path, source, 2, _Store())
    assert seen and set(seen) == {"corr-123"}


def test_a_worker_goes_on_with_later_files_while_a_large_file_ahead_is_still_spooling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The archive's first file (its descriptor) stays "inflating" until a worker has started two
    # files after it: with one file in flight per worker, the free worker waited for the caller.
    source = _zip(tmp_path, *_files(6))
    serial, _ = _build(tmp_path, source, 1, _Store())
    later_started = threading.Semaphore(0)
    real = filepass.spool_entry

    def spool_entry(archive, entry, workdir):  # type: ignore[no-untyped-def]
        if entry.name == "imsmanifest.xml":
            for _ in range(2):
                assert later_started.acquire(timeout=10), "no worker went on while the first file spooled"
        else:
            later_started.release()
        return real(archive, entry, workdir)

    monkeypatch.setattr(filepass, "spool_entry", spool_entry)
    parallel, _ = _build(tmp_path, source, 2, _Store())
    assert parallel == serial
