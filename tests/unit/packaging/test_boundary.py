"""The last-resort boundary: an unexpected error reading a package is an internal.* problem, logged.

The errors here are injected on purpose (a parser that crashes, a sandbox step that raises):
no real archive is known to reach them, which the fuzz test in tests/security keeps true.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import BinaryIO

import pytest
import typer
from typer.testing import CliRunner

from content_service.cli import validate
from content_service.domain.package import PackageState
from content_service.packaging import zipsafe
from content_service.packaging.inspect import build_from_zip, validate_zip
from content_service.packaging.limits import ImportLimits
from content_service.packaging.model import DescriptorSource, PackageRejected
from content_service.service.packages import RequestUpload, build_uploaded_package, request_upload
from tests.fakes import (
    FakeBundleStore,
    FakeClock,
    FakeContentKeys,
    FakePackageRepository,
    FakePackageStore,
    FakeUploadStore,
)
from tests.security.hostile import package

LIMITS = ImportLimits()


def _crashing_parser(source: DescriptorSource) -> object:
    raise RuntimeError("a defect in a standards parser")


def _explode(*args: object, **kwargs: object) -> object:
    raise OverflowError("a defect in the sandbox")


@pytest.fixture
def zip_path(tmp_path: Path) -> Path:
    path = tmp_path / "package.zip"
    path.write_bytes(package())
    return path


def test_validate_reports_an_unexpected_error_as_an_internal_problem_with_the_stack_logged(
    zip_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        report = validate_zip(zip_path, LIMITS, parser=_crashing_parser)  # type: ignore[arg-type]

    assert report.valid is False
    assert [problem.code for problem in report.problems] == ["internal.validation_crashed"]
    assert "RuntimeError" in report.problems[0].detail
    assert any(record.exc_info and record.exc_info[0] is RuntimeError for record in caplog.records)


def test_the_cli_prints_a_json_verdict_and_exits_1_when_the_sandbox_crashes(
    zip_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(zipsafe, "find_directory", _explode)
    application = typer.Typer()

    @application.callback()
    def main() -> None:
        """Throwaway root so that `validate` stays a subcommand."""

    validate.register(application)

    with caplog.at_level(logging.ERROR):
        result = CliRunner().invoke(application, ["validate", str(zip_path), "--json"])

    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert [problem["code"] for problem in report["problems"]] == ["internal.validation_crashed"]
    assert any(record.exc_info and record.exc_info[0] is OverflowError for record in caplog.records)


class _Store:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.stored: list[str] = []

    def put(self, sha256: str, size: int, media_type: str, spool: BinaryIO) -> None:
        if self.error is not None:
            raise self.error
        self.stored.append(sha256)


def test_building_turns_a_parser_crash_into_internal_build_crashed(zip_path: Path, tmp_path: Path) -> None:
    with pytest.raises(PackageRejected) as rejected:
        build_from_zip(zip_path, LIMITS, _Store(), workdir=tmp_path, parser=_crashing_parser)  # type: ignore[arg-type]

    assert [problem.code for problem in rejected.value.problems] == ["internal.build_crashed"]


def test_building_turns_a_crash_while_inflating_into_internal_build_crashed(
    zip_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(zipsafe, "_inflate", _explode)

    with pytest.raises(PackageRejected) as rejected:
        build_from_zip(zip_path, LIMITS, _Store(), workdir=tmp_path)

    assert [problem.code for problem in rejected.value.problems] == ["internal.build_crashed"]


def test_a_failing_blob_store_is_not_the_package_s_fault_and_propagates_for_a_retry(
    zip_path: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConnectionError):
        build_from_zip(zip_path, LIMITS, _Store(ConnectionError("S3 is away")), workdir=tmp_path)


def test_a_build_that_crashes_on_the_package_ends_failed_with_the_internal_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(zipsafe, "find_directory", _explode)
    packages, uploads, clock = FakePackageRepository(), FakeUploadStore(tmp_path), FakeClock()
    data = package()
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

    assert outcome.package is not None and outcome.package.state is PackageState.FAILED
    assert outcome.package.problem is not None
    assert outcome.package.problem.code == "internal.build_crashed"
