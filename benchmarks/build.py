"""Benchmark: build a generated native package (import → PlayPackage) against `unzip -p | sha256sum`.

Usage: ``.venv/bin/python benchmarks/build.py [--sizes-mb 500 100] [--repeat 2]``

For each size it generates a package under benchmarks/.work/ (gitignored), times the baseline
``unzip -p PKG | sha256sum`` (inflate + hash, in two processes), then times our
``build_from_zip`` in a child process with a content-addressed store on local disk, and reads
the child's peak RSS. The figures go into BENCHMARKS.md, section "Build (import → PlayPackage)".
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import BinaryIO

from report import write_section

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work"
SECTION = "## Build (import → PlayPackage)"
MIB = 1024 * 1024
FILE_SIZES = (16 * 1024, 256 * 1024, 1 * MIB, 4 * MIB, 8 * MIB)


class DirectoryBlobStore:
    """A content-addressed store on local disk: one file per SHA-256, written once."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, sha256: str, size: int, media_type: str, spool: BinaryIO) -> None:
        target = self.root / sha256[:2] / sha256
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as partial:
            shutil.copyfileobj(spool, partial, MIB)
        os.replace(partial.name, target)


def _text_blocks(seed: int, count: int) -> list[bytes]:
    """Pseudo-random prose: compresses about 3:1, like the HTML, JS and JSON of real packages."""
    rng = random.Random(seed)
    words = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 10))) for _ in range(4000)]
    blocks = []
    for _ in range(count):
        text = " ".join(rng.choices(words, k=MIB // 6))
        blocks.append(text.encode()[:MIB])
    return blocks


def generate(path: Path, total_mb: int) -> None:
    """A native package of about ``total_mb`` MiB of content in files of mixed sizes."""
    if path.exists():
        return
    rng = random.Random(total_mb)
    blocks = _text_blocks(seed=1, count=16)
    partial = path.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        descriptor = {"format": "playpackage/1", "title": f"Benchmark {total_mb} MB", "language": "en"}
        archive.writestr("playpackage.json", json.dumps({**descriptor, "entry": "index.html"}))
        archive.writestr("index.html", "<!doctype html><title>benchmark</title><p>start</p>")
        written = 0
        number = 0
        while written < total_mb * MIB:
            size = FILE_SIZES[number % len(FILE_SIZES)]
            with archive.open(f"assets/{number // 100:03d}/file-{number:05d}.txt", "w") as handle:
                remaining = size
                while remaining:
                    block = rng.choice(blocks)
                    start = rng.randrange(0, MIB // 2)
                    piece = block[start : start + min(remaining, MIB // 2)]
                    handle.write(piece)
                    remaining -= len(piece)
            written += size
            number += 1
    partial.rename(path)


def baseline_seconds(package: Path) -> float:
    pipeline = f"unzip -p '{package}' | sha256sum"
    started = time.perf_counter()
    subprocess.run(["bash", "-o", "pipefail", "-c", pipeline], check=True, capture_output=True)
    return time.perf_counter() - started


def ours(package: Path) -> dict[str, float]:
    """Run build_from_zip in a child process; returns its wall time and peak RSS."""
    with tempfile.TemporaryDirectory(dir=WORK) as scratch:
        command = [sys.executable, __file__, "--child", str(package), scratch]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output)


def child(package: Path, scratch: Path) -> None:
    from content_service.packaging.inspect import build_from_zip
    from content_service.packaging.limits import ImportLimits

    store = DirectoryBlobStore(scratch / "store")
    workdir = scratch / "spool"
    workdir.mkdir()
    started = time.perf_counter()
    manifest = build_from_zip(package, ImportLimits(), store, workdir=workdir)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "peak_rss_mib": peak_kib / 1024, "files": len(manifest.files)}))


def content_bytes(package: Path) -> int:
    with zipfile.ZipFile(package) as archive:
        return sum(info.file_size for info in archive.infolist())


def warm(package: Path) -> None:
    # Both contenders read the zip from the page cache, so neither pays for the first read.
    with package.open("rb") as handle:
        while handle.read(8 * MIB):
            pass


def measure(total_mb: int, repeat: int) -> dict[str, float]:
    package = WORK / f"package-{total_mb}mb.zip"
    generate(package, total_mb)
    warm(package)
    size = content_bytes(package)
    base = min(baseline_seconds(package) for _ in range(repeat))
    runs = [ours(package) for _ in range(repeat)]
    best = min(runs, key=lambda run: run["seconds"])
    return {
        "target_mb": total_mb,
        "zip_mib": package.stat().st_size / MIB,
        "content_mib": size / MIB,
        "files": best["files"],
        "baseline_s": base,
        "baseline_mib_s": size / MIB / base,
        "ours_s": best["seconds"],
        "ours_mib_s": size / MIB / best["seconds"],
        "ratio": base / best["seconds"],
        "peak_rss_mib": max(run["peak_rss_mib"] for run in runs),
    }


def _row(r: dict[str, float]) -> str:
    baseline = f"{r['baseline_s']:.2f} s ({r['baseline_mib_s']:.0f} MiB/s)"
    ours = f"{r['ours_s']:.2f} s ({r['ours_mib_s']:.0f} MiB/s)"
    sizes = f"{r['target_mb']:.0f} MB | {r['files']:.0f} | {r['zip_mib']:.0f} | {r['content_mib']:.0f}"
    return f"| {sizes} | {baseline} | {ours} | {100 * r['ratio']:.0f} % | {r['peak_rss_mib']:.0f} MiB |"


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.machine()


def write_report(results: list[dict[str, float]], command: str) -> None:
    rows = "\n".join(_row(result) for result in results)
    machine = f"{os.cpu_count()} CPUs (`nproc`), {_cpu_model()}, Python {platform.python_version()}"
    section = f"""{SECTION}

Command: `{command}` (from the repository root). Run on {datetime.date.today().isoformat()},
{machine}, {platform.system()} {platform.release()}.

Each package is a generated native package (`playpackage.json`, `index.html` and text files of
16 KiB to 8 MiB that compress about 2:1). The baseline is `unzip -p PKG | sha256sum` on the same
zip in the same run (inflate and hash in two processes, output discarded). Ours is
`build_from_zip`: central-directory checks, descriptor parse, every file inflated in 1 MiB
chunks with size and CRC-32 checks, SHA-256, spooled to a temp file and copied into a
content-addressed directory store (so it writes the content twice; the baseline writes nothing).
Both read the zip from a warm page cache; each figure is the best of the repeats, and peak RSS
is the child process's `ru_maxrss`.

| package | files | zip MiB | content MiB | baseline | ours | ours vs baseline speed | ours peak RSS |
| --- | --- | --- | --- | --- | --- | --- | --- |
{rows}

Peak RSS stays flat as the package grows: entries are streamed chunk by chunk and never held whole.
"""
    write_section(section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mb", type=int, nargs="+", default=[500, 100])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--child", nargs=2, metavar=("PACKAGE", "SCRATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]))
        return
    WORK.mkdir(parents=True, exist_ok=True)
    results = [measure(total, args.repeat) for total in args.sizes_mb]
    for result in results:
        print(json.dumps(result))
    command = ".venv/bin/python benchmarks/build.py " + " ".join(sys.argv[1:])
    write_report(results, command.strip())


if __name__ == "__main__":
    main()
