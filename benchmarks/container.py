"""Benchmark: content container sealing and opening throughput against `openssl speed`.

Run from the repository root: ``.venv/bin/python benchmarks/container.py``. It seals a few
hundred MB of generated files (streamed from memory) into ``benchmarks/.work/`` (gitignored),
opens them again, runs ``openssl speed -evp aes-256-gcm -seconds 3`` as the baseline in the same
run, and writes the figures into the "Content container (seal / open)" section of BENCHMARKS.md,
leaving every other section as it is.
"""

from __future__ import annotations

import io
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from content_service.crypto import ContainerReader, seal
from report import write_section

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / ".work"
SECTION = "## Content container (seal / open)"
MIB = 1 << 20
# Four large files and many 1 MiB ones: 384 MiB of plaintext in all.
LAYOUT = [(f"video/{i}.mp4", 64 * MIB) for i in range(4)] + [(f"pages/{i:03}.html", MIB) for i in range(128)]
REPEATS = 3
OPENSSL_AES = ["openssl", "speed", "-evp", "aes-256-gcm", "-seconds", "3"]
OPENSSL_SHA = ["openssl", "speed", "-evp", "sha256", "-seconds", "3"]


class Generated(io.RawIOBase):
    """``size`` bytes of incompressible data copied from one 1 MiB block: no disk, no growth."""

    BLOCK = os.urandom(MIB)

    def __init__(self, size: int) -> None:
        self._left = size
        self._at = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        n = min(len(buffer), self._left, MIB - self._at)
        buffer[:n] = self.BLOCK[self._at : self._at + n]
        self._at = (self._at + n) % MIB
        self._left -= n
        return n


class NullSink(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        return len(data)


def timed(run: Callable[[], object]) -> float:
    """The median wall time of ``REPEATS`` runs, in seconds."""
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def openssl_16k(command: list[str]) -> float:
    """Run ``openssl speed`` and return its 16384-byte column in MB/s (10^6 bytes per second)."""
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    header = next(line for line in output.splitlines() if line.startswith("type"))
    sizes = re.findall(r"(\d+) bytes", header)
    row = output.strip().splitlines()[-1]
    values = re.findall(r"([\d.]+)k", row)
    return float(values[sizes.index("16384")]) / 1000.0


class Workload:
    """The operations timed, over one key and one container file."""

    def __init__(self, target: Path) -> None:
        self.key = os.urandom(32)
        self.target = target

    @staticmethod
    def files() -> list[tuple[str, Generated]]:
        return [(path, Generated(size)) for path, size in LAYOUT]

    def seal_to_file(self) -> None:
        with self.target.open("wb") as out:
            seal(self.files(), self.key, out)

    def seal_to_null(self) -> None:
        seal(self.files(), self.key, NullSink())

    def plain_write(self) -> None:
        # The same bytes written with no cryptography: what the file system costs on its own.
        with self.target.open("wb") as out:
            chunk = bytearray(64 * 1024)
            for _, source in self.files():
                while n := source.readinto(chunk):
                    out.write(chunk[:n])

    def open_and_read_all(self) -> None:
        # Every file read start to end in 1 MiB reads: each segment authenticated, each SHA-256 checked.
        with self.target.open("rb") as source:
            reader = ContainerReader(source, self.key)
            for entry in reader.files():
                with reader.open(entry.path) as f:
                    while f.read(MIB):
                        pass

    def verify_all(self) -> None:
        with self.target.open("rb") as source:
            ContainerReader(source, self.key).verify()

    def range_reads(self) -> None:
        # 1 MiB range reads that never cover a whole file: segment authentication only, no SHA-256.
        with self.target.open("rb") as source:
            reader = ContainerReader(source, self.key)
            for entry in reader.files():
                for start in range(1, entry.length, MIB):
                    reader.read_range(entry.path, start, MIB)


def main() -> None:
    load_before = os.getloadavg()[0]
    total = sum(size for _, size in LAYOUT)
    WORK.mkdir(parents=True, exist_ok=True)
    work = Workload(WORK / "container.csc")
    results = {"seal → file in benchmarks/.work": total / timed(work.seal_to_file) / 1e6}
    container_size = work.target.stat().st_size
    results |= {
        "seal → null sink": total / timed(work.seal_to_null) / 1e6,
        "open, read every file (SHA-256 checked)": total / timed(work.open_and_read_all) / 1e6,
        "open, `verify()` every segment and file": total / timed(work.verify_all) / 1e6,
        "open, 1 MiB range reads (segments only, no file hash)": total / timed(work.range_reads) / 1e6,
        # Last: it overwrites the container that the open benchmarks above read.
        "(no crypto) plain write of the same bytes → same file": total / timed(work.plain_write) / 1e6,
    }
    work.target.unlink()
    aes = openssl_16k(OPENSSL_AES)
    sha = openssl_16k(OPENSSL_SHA)
    load = (load_before, os.getloadavg()[0])
    write_report(results, aes, sha, total, container_size, load)


def write_report(
    results: dict[str, float],
    aes: float,
    sha: float,
    total: int,
    container_size: int,
    load: tuple[float, float],
) -> None:
    python = f"{platform.python_implementation()} {platform.python_version()}"
    ceiling = 1 / (1 / aes + 1 / sha)
    rows = "\n".join(
        f"| {name} | {mbps:,.0f} | {mbps / aes:.0%} | {mbps / ceiling:.0%} |"
        for name, mbps in results.items()
    )
    openssl_version = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
    body = f"""{SECTION}

Command: `.venv/bin/python benchmarks/container.py` (median of {REPEATS} runs each). Baselines from the
same run: `{" ".join(OPENSSL_AES)}` and `{" ".join(OPENSSL_SHA)}`, 16384-byte column.
Date {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; nproc {os.cpu_count()}; {python}; {openssl_version};
cryptography {_cryptography_version()}; {platform.machine()}; 1-minute load average {load[0]:.2f} before,
{load[1]:.2f} after (the machine is shared: other work skews every figure, baselines included).
MB = 10^6 bytes.

Workload: {total / MIB:.0f} MiB of plaintext in {len(LAYOUT)} files (4 × 64 MiB, 128 × 1 MiB), generated
in memory, 64 KiB segments; the container is {container_size / MIB:.2f} MiB.

Baselines: AES-256-GCM {aes:,.0f} MB/s; SHA-256 {sha:,.0f} MB/s; both in sequence on one core
(the work sealing must do per byte: encrypt and hash) {ceiling:,.0f} MB/s.

| operation | MB/s | vs AES-256-GCM | vs AES-GCM + SHA-256 |
| --- | ---: | ---: | ---: |
{rows}

The "(no crypto)" row is a file-system baseline for the "seal → file" row, not a target.
Sealing must hash every file (SHA-256 for the index) as well as encrypt it, and opening a whole
file checks that hash, so those rows are bounded by the AES-GCM + SHA-256 figure, not by AES-GCM
alone; range reads do no file hashing and show the AEAD layer itself.
"""
    write_section(body)
    print(body)


def _cryptography_version() -> str:
    import cryptography

    return cryptography.__version__


if __name__ == "__main__":
    if shutil.which("openssl") is None:
        sys.exit("openssl is required for the baseline")
    main()
