"""Damaged archives are refused with a problem code, never with a crash.

A parser that raises ``struct.error``, ``ValueError`` or ``IndexError`` on crafted bytes
would turn a hostile upload into a failed build without a reason (or worse, a retry loop),
so random corruption of a valid archive must end in ``PackageRejected`` or a clean read.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from content_service.packaging.limits import ImportLimits
from content_service.packaging.model import PackageRejected
from content_service.packaging.zipsafe import SafeZip
from tests.security.hostile import INDEX, manifest
from tests.zipcraft import Entry, build

VALID = build(
    [
        Entry("imsmanifest.xml", manifest()),
        Entry("index.html", INDEX),
        Entry("raw.bin", bytes(range(200)), method=0),
        Entry("dir/", b"", external_attr=0o040755 << 16),
    ]
)
LIMITS = ImportLimits()


def _read_everything(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "fuzz.zip"
        path.write_bytes(data)
        try:
            with SafeZip.open(path, LIMITS) as archive:
                for entry in archive.files:
                    for _ in archive.iter_chunks(entry):
                        pass
        except PackageRejected as rejected:
            assert all(problem.code.startswith("zip.") for problem in rejected.problems)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), min_size=1, max_size=6))
def test_corrupted_bytes_are_refused_or_read_never_crash(changes: list[tuple[int, int]]) -> None:
    data = bytearray(VALID)
    for position, value in changes:
        data[position] = value

    _read_everything(bytes(data))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(VALID)), st.binary(max_size=64))
def test_cut_or_padded_archives_are_refused_or_read_never_crash(cut: int, tail: bytes) -> None:
    _read_everything(VALID[:cut] + tail)
