"""Suite-wide rule: the repository stands alone, so no test may skip for want of a fixture.

The conformance fixtures are vendored under tests/data/conformance. A skip whose reason says a
fixture, a checkout or the conformance material is missing means a clone is not testing what
it claims to, so the run fails (with the list) even if every other test passed. No test reads
anything outside the repository (the vendored copy is checked against its recorded digests).
"""

from __future__ import annotations

import re

import pytest

MISSING_FIXTURE = re.compile(
    r"not checked out|fixture|conformance|tests/data|\.\./shared|no such file", re.IGNORECASE
)

_fixture_skips: list[tuple[str, str]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not report.skipped:
        return
    reason = _skip_reason(report)
    if MISSING_FIXTURE.search(reason):
        _fixture_skips.append((report.nodeid, reason))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _fixture_skips and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if not _fixture_skips:
        return
    terminalreporter.section("skipped for a missing fixture (the repository must stand alone)", red=True)
    for nodeid, reason in _fixture_skips:
        terminalreporter.line(f"{nodeid}: {reason}")


def _skip_reason(report: pytest.TestReport) -> str:
    # A skip's longrepr is (file, line, "Skipped: reason"); anything else is kept as text.
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)
