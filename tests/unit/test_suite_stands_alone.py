"""tests/conftest.py fails a run in which a test skips because a fixture is missing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).parents[1] / "conftest.py"


def run_suite(tmp_path: Path, test_source: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(CONFTEST.read_text())
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --strict-markers\n")
    (tmp_path / "test_sample.py").write_text("import pytest\n\n" + test_source)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "reason",
    [
        "../shared/conformance is not checked out",
        "fixture zip missing",
        "tests/data/conformance/packages/x.zip: No such file",
    ],
)
def test_a_skip_for_a_missing_fixture_fails_the_run(tmp_path: Path, reason: str) -> None:
    run = run_suite(
        tmp_path, f"def test_passes():\n    pass\n\n\ndef test_skips():\n    pytest.skip({reason!r})\n"
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "skipped for a missing fixture" in run.stdout
    assert "test_sample.py::test_skips" in run.stdout


def test_a_skipif_for_a_missing_fixture_fails_the_run_too(tmp_path: Path) -> None:
    source = '@pytest.mark.skipif(True, reason="../shared/conformance is not checked out")\ndef test_x():\n    pass\n'
    assert run_suite(tmp_path, source).returncode == 1


def test_other_skips_leave_the_run_green(tmp_path: Path) -> None:
    source = 'def test_tool():\n    pytest.skip("browser tests need node")\n'
    run = run_suite(tmp_path, source)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 skipped" in run.stdout


def test_a_run_that_already_failed_keeps_its_failure_status(tmp_path: Path) -> None:
    source = (
        'def test_fails():\n    assert False\n\n\ndef test_skips():\n    pytest.skip("fixture missing")\n'
    )
    assert run_suite(tmp_path, source).returncode == 1
