"""The hostile and awkward catalogue of tests/security, checked in process.

tests/security/test_hostile_zips.py runs each case through the real CLI in a child process,
which proves nothing is written outside the sandbox but is invisible to the packaging
mutation run (tests/unit/packaging, in process). Here every case goes through
``validate_zip`` directly, so a change to a sandbox rule that lets a case through, or makes
it crash, fails a packaging test too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from content_service.packaging.inspect import validate_zip
from content_service.packaging.limits import ImportLimits
from tests.security.hostile import Case, awkward_cases, hostile_cases

LIMITS = ImportLimits()


def _report_codes(tmp_path: Path, data: bytes) -> tuple[bool, list[str]]:
    path = tmp_path / "package.zip"
    path.write_bytes(data)
    report = validate_zip(path, LIMITS)
    return report.valid, [problem.code for problem in report.problems]


@pytest.mark.parametrize("case", [pytest.param(case, id=case.id) for case in hostile_cases()])
def test_every_hostile_case_is_refused_with_its_code(case: Case, tmp_path: Path) -> None:
    valid, codes = _report_codes(tmp_path, case.make(tmp_path))

    assert not valid
    assert case.matches(codes), codes
    assert not any(code.startswith("internal.") for code in codes), codes


@pytest.mark.parametrize("name", sorted(awkward_cases()))
def test_every_awkward_case_is_valid(name: str, tmp_path: Path) -> None:
    assert _report_codes(tmp_path, awkward_cases()[name]) == (True, [])
