"""Damaged and crafted archives get a verdict with problem codes, never a crash.

A parser that raises ``struct.error``, ``ValueError`` or ``OverflowError`` on crafted bytes
would turn a hostile upload into a traceback on the CLI and a retried, code-less failure in
the build. So real archives (deflated, stored, directory entries, data descriptors, ZIP64
local and end records, Unicode Path fields, the shipped sample) are mutated field by field,
bit by bit, cut and spliced (``tests.security.mutations``), and:

- ``validate`` always returns a verdict: valid with no problems, or refused with codes that
  are documented, and never the last-resort ``internal.*`` code (that boundary exists, but
  this test, not the boundary, is the guard);
- the build always ends the package ``built`` or ``failed`` with such a code, and agrees
  with ``validate`` on which.

``make test`` runs a few hundred examples per property; ``make fuzz`` sets FUZZ_EXAMPLES to
many thousands.
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from content_service.domain.package import PackageState
from content_service.packaging.codes import SANDBOX_CODES, UPLOAD_CODES
from content_service.packaging.inspect import validate_zip
from content_service.packaging.limits import ImportLimits
from content_service.samples import sample_zip_bytes
from content_service.service.packages import RequestUpload, build_uploaded_package, request_upload
from content_service.standards.problems import CODES as STANDARD_CODES
from tests.fakes import (
    FakeBundleStore,
    FakeClock,
    FakeContentKeys,
    FakePackageRepository,
    FakePackageStore,
    FakeUploadStore,
)
from tests.security.hostile import INDEX, _streamed_zip, manifest
from tests.security.mutations import mutated_archives
from tests.zipcraft import MADE_BY_UNIX, UNIX_DIR, UNIX_FILE, Entry, build, local_header, zip64_end

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "250"))
LIMITS = ImportLimits()
KNOWN_CODES = SANDBOX_CODES.keys() | UPLOAD_CODES.keys() | STANDARD_CODES.keys()


def _forced_zip64() -> bytes:
    """Local headers with ZIP64 extra fields, as zipfile writes them when told to."""
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in (("imsmanifest.xml", manifest()), ("index.html", INDEX)):
            with archive.open(name, "w", force_zip64=True) as handle:
                handle.write(data)
    return sink.getvalue()


def _unicode_path() -> bytes:
    raw = "leçon.html".encode()
    block = struct.pack("<BI", 1, zlib.crc32(raw)) + raw
    extra = struct.pack("<HH", 0x7075, len(block)) + block
    return build(
        [
            Entry("imsmanifest.xml", manifest("leçon.html")),
            Entry(raw, INDEX, flags=0x800, extra=extra),
            Entry("assets/", b"", external_attr=UNIX_DIR, payload=b"\x03\x00"),
        ]
    )


def _zip64_central() -> bytes:
    """Central records whose sizes and offset all defer to a ZIP64 extra block (APPNOTE 4.5.3)."""
    body = bytearray()
    records = bytearray()
    for name, data in (("imsmanifest.xml", manifest()), ("index.html", INDEX)):
        entry = Entry(name, data)
        compressed = entry.compressed()
        wide = struct.pack("<QQQ", len(data), len(compressed), len(body))
        local_extra = struct.pack("<HH", 0x0001, 16) + wide[:16]
        body += local_header(Entry(name, data, extra=local_extra), compressed) + compressed
        raw = name.encode()
        central_extra = struct.pack("<HH", 0x0001, 24) + wide
        records += struct.pack(
            "<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", MADE_BY_UNIX, 45, 0, 8, 0, 0x21, zlib.crc32(data),
            0xFFFFFFFF, 0xFFFFFFFF, len(raw), len(central_extra), 0, 0, 0, UNIX_FILE, 0xFFFFFFFF,
        ) + raw + central_extra  # fmt: skip
    return bytes(body + records + zip64_end(2, len(records), len(body)))


SEEDS = [
    build(
        [
            Entry("imsmanifest.xml", manifest()),
            Entry("index.html", INDEX),
            Entry("raw.bin", bytes(range(200)), method=0),
            Entry("dir/", b"", external_attr=UNIX_DIR),
        ]
    ),
    build([Entry("imsmanifest.xml", manifest()), Entry("index.html", INDEX)], zip64=True),
    _streamed_zip(),
    _forced_zip64(),
    _zip64_central(),
    _unicode_path(),
    sample_zip_bytes("welcome"),
]
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _validate(data: bytes, scratch: Path) -> tuple[bool, list[str]]:
    path = scratch / "fuzz.zip"
    path.write_bytes(data)
    report = validate_zip(path, LIMITS)
    return report.valid, [problem.code for problem in report.problems]


def _assert_a_verdict(valid: bool, codes: list[str]) -> None:
    assert valid is not bool(codes), codes
    assert set(codes) <= KNOWN_CODES, set(codes) - KNOWN_CODES
    assert not any(code.startswith("internal.") for code in codes), codes


def test_every_seed_is_a_valid_package() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        verdicts = [_validate(seed, Path(scratch)) for seed in SEEDS]

    assert verdicts == [(True, [])] * len(SEEDS)


@FUZZ
@given(mutated_archives(SEEDS))
def test_validate_gives_every_mutated_archive_a_verdict_with_codes(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        valid, codes = _validate(data, Path(scratch))

    _assert_a_verdict(valid, codes)


def _build(data: bytes, scratch: Path) -> tuple[PackageState, str | None]:
    packages, uploads, clock = FakePackageRepository(), FakeUploadStore(scratch), FakeClock()
    ticket = request_upload(
        RequestUpload("t1", "u1", "application/zip", len(data)),
        packages=packages,
        uploads=uploads,
        clock=clock,
        limits=LIMITS,
        url_ttl_seconds=900,
    )
    uploads.put(ticket.package.source_key, data)
    outcome = build_uploaded_package(
        ticket.package.source_key,
        packages=packages,
        uploads=uploads,
        store=FakePackageStore(),
        keys=FakeContentKeys(),
        containers=FakeBundleStore(),
        clock=clock,
        limits=LIMITS,
    )
    assert outcome.package is not None
    problem = outcome.package.problem
    return outcome.package.state, problem.code if problem is not None else None


@FUZZ
@given(mutated_archives(SEEDS))
def test_the_build_ends_every_mutated_archive_built_or_failed_with_the_code_validate_gives(
    data: bytes,
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        valid, codes = _validate(data, Path(scratch))
        state, code = _build(data, Path(scratch) / "build")

    _assert_a_verdict(valid, codes)
    if valid:
        assert (state, code) == (PackageState.BUILT, None)
    else:
        assert state is PackageState.FAILED
        assert code in codes, (code, codes)
