"""Benchmark: bytes a device downloads for a new package version when one file of 100 changed.

Run from the repository root: ``.venv/bin/python benchmarks/delta.py`` (the 100-file, 500 MB
case; ``DELTA_BENCH_MB=50`` scales the package down for a quick run, ``--no-write`` only prints).

It seals version 1 of a 100-file package in container format version 2 (file objects under one
lineage key, an index under the version's content key) into ``benchmarks/.work/delta/``
(gitignored), and version 2 with one file replaced by another of the same size. A loopback HTTP
server plays the CDN and counts every body byte it sends. The device's real delta code
(``content_service.device.delta.DeltaObjects``) then fetches version 1 into one bundle (the full
download: baseline, same run) and version 2 into another (the delta), and each bundle is verified
in full (every object under its file key, every file's SHA-256). For comparison it also seals the
same version 1 files as one version 1 container, which is what a device downloads today for
every version. The signed bundle manifest (about 1 KiB, the same for both) is not counted.
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import io
import os
import platform
import shutil
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from content_service.crypto import seal
from content_service.crypto.delta import ObjectEntry, object_entry, seal_index, seal_object
from content_service.device.delta import DeltaObjects, open_package
from content_service.device.store import DeviceStore
from report import write_section

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / ".work" / "delta"
SECTION = "## Delta updates (one changed file of 100)"
MIB = 1 << 20
FILES = 100
CHANGED = 42
BLOCK = os.urandom(MIB)


class Generated(io.RawIOBase):
    """``size`` incompressible bytes, distinct per (file, generation), streamed from one random block."""

    def __init__(self, size: int, file: int, generation: int = 0) -> None:
        self._left = size
        self._head = hashlib.sha256(f"{file}/{generation}".encode()).digest()
        self._at = (file * 4099 + generation * 7919) % MIB

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head), self._left)
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
        else:
            n = min(len(buffer), self._left, MIB - self._at)
            buffer[:n] = BLOCK[self._at : self._at + n]
            self._at = (self._at + n) % MIB
        self._left -= n
        return n


class CountingHandler(http.server.SimpleHTTPRequestHandler):
    sent = 0
    requests = 0

    def copyfile(self, source: Any, outputfile: Any) -> None:
        before = source.tell()
        super().copyfile(source, outputfile)
        type(self).sent += source.tell() - before
        type(self).requests += 1

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


class NoReports:
    def tamper(self, *args: Any, **kwargs: Any) -> Exception:
        raise AssertionError(f"unexpected tamper report: {args}")


def seal_version(objects: Path, lineage: bytes, content_key: bytes, file_mb: float, changed: int | None) -> bytes:
    entries: list[ObjectEntry] = []
    size = int(file_mb * MIB)
    for i in range(FILES):
        generation = 1 if i == changed else 0
        digest = hashlib.sha256()
        stream = Generated(size, i, generation)
        while chunk := stream.read(MIB):
            digest.update(chunk)
        scratch = objects / "sealing.tmp"
        with scratch.open("wb") as out:
            sealed = seal_object(Generated(size, i, generation), lineage, digest.hexdigest(), out)  # type: ignore[arg-type]
        entry = object_entry(lineage, f"media/clip-{i:03d}.mp4", sealed)
        os.replace(scratch, objects / entry.object_name)
        entries.append(entry)
    return seal_index(entries, content_key)


def fetch(store: DeviceStore, bundle_id: str, index: bytes, base_url: str, key: bytes) -> tuple[int, int, float]:
    files = store.bundle_dir(bundle_id)
    files.container("pkg_bench", 1).write_bytes(index)
    before = CountingHandler.sent
    started = time.perf_counter()
    report = DeltaObjects(store, NoReports(), session=_session).fetch(  # type: ignore[arg-type]
        bundle_id, files, "pkg_bench", 1, base_url + "/objects/"
    )
    elapsed = time.perf_counter() - started
    package = open_package(files, "pkg_bench", 1, key)
    package.verify()
    return CountingHandler.sent - before + len(index), report.downloaded, elapsed


def _session() -> Any:
    import requests

    return requests.Session()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print, do not touch BENCHMARKS.md")
    args = parser.parse_args()
    total_mb = float(os.environ.get("DELTA_BENCH_MB", "500"))
    file_mb = total_mb / FILES
    shutil.rmtree(WORK, ignore_errors=True)
    served = WORK / "cdn"
    (served / "objects").mkdir(parents=True)
    lineage, key1, key2 = os.urandom(32), os.urandom(32), os.urandom(32)

    started = time.perf_counter()
    index1 = seal_version(served / "objects", lineage, key1, file_mb, None)
    index2 = seal_version(served / "objects", lineage, key2, file_mb, CHANGED)
    seal_seconds = time.perf_counter() - started
    stored_objects = len(list((served / "objects").iterdir()))
    with (WORK / "v1.cspc").open("wb") as out:
        size = int(file_mb * MIB)
        v1_container = seal(((f"media/clip-{i:03d}.mp4", Generated(size, i)) for i in range(FILES)), key1, out)  # type: ignore[misc]

    handler = lambda *a, **kw: CountingHandler(*a, directory=str(served), **kw)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    store = DeviceStore(WORK / "device").ensure()
    try:
        full_bytes, full_objects, full_s = fetch(store, "bnd_" + "1" * 32, index1, base_url, key1)
        delta_bytes, delta_objects, delta_s = fetch(store, "bnd_" + "2" * 32, index2, base_url, key2)
    finally:
        server.shutdown()
        server.server_close()

    ratio = delta_bytes / full_bytes
    changed_object = (delta_bytes - len(index2))
    lines = [
        SECTION,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()} ({os.cpu_count()} cores),"
        f" Python {platform.python_version()}. Command: `.venv/bin/python benchmarks/delta.py`"
        + (f" with `DELTA_BENCH_MB={total_mb:g}`" if total_mb != 500 else "")
        + ". A package of"
        f" {FILES} files of {file_mb:g} MiB ({total_mb:g} MiB) in container format 2; version 2 replaces one"
        " file with another of the same size. Bytes are counted at a loopback HTTP server playing the"
        " CDN, plus the index; the device runs `DeltaObjects.fetch` and then verifies every object and"
        " file. The signed manifest (about 1 KiB) is not counted in either row.",
        "",
        "| download | objects fetched | bytes | share of the full download | fetch time |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| version 1, nothing held (full, baseline) | {full_objects} | {full_bytes:,} | 100 % | {full_s:.1f} s |",
        f"| version 2, holding version 1 (delta) | {delta_objects} | {delta_bytes:,} | {100 * ratio:.2f} % | {delta_s:.2f} s |",
        f"| today's format 1 container of version 1 (for comparison) | 1 | {v1_container.size:,} | {100 * v1_container.size / full_bytes:.2f} % | |",
        "",
        f"The delta is the changed file's object ({changed_object:,} bytes for a {int(file_mb * MIB):,}-byte file:"
        f" {changed_object - int(file_mb * MIB):,} bytes of header, tags and length trailer) and the"
        f" index ({len(index2):,} bytes for {FILES} files). Aim: < 2 %. The service stored"
        f" {stored_objects} objects for the two versions ({FILES} + 1); sealing both took {seal_seconds:.1f} s.",
    ]
    section = "\n".join(lines) + "\n"
    print(section)
    if not args.no_write:
        write_section(section)
    shutil.rmtree(WORK, ignore_errors=True)
    if ratio >= 0.02:
        sys.exit(f"the delta is {100 * ratio:.2f} % of a full download, not < 2 %")


if __name__ == "__main__":
    main()
