"""ExportJob: pending → done | failed, both final."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from content_service.domain.errors import InvalidTransition, InvariantViolated
from content_service.domain.export import ExportJob, ExportResult, ExportState
from content_service.domain.package import Problem

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def a_job(fmt: str = "scorm12") -> ExportJob:
    return ExportJob.request(
        tenant_id="t1", export_id="exp_1", package_id="p1", version=1, format=fmt, options={}, now=NOW
    )


def test_a_job_is_requested_pending_and_done_once():
    job = a_job()
    assert job.state is ExportState.PENDING and job.events[-1].name == "content.export.requested.v1"
    done = job.complete(ExportResult("k", 10, "a" * 64), NOW)
    assert done.state is ExportState.DONE and done.events[-1].name == "content.export.done.v1"
    with pytest.raises(InvalidTransition):
        done.complete(ExportResult("k", 10, "a" * 64), NOW)
    with pytest.raises(InvalidTransition):
        done.fail(Problem("x", "y"), NOW)


def test_a_failed_job_keeps_its_problem_and_is_final():
    failed = a_job().fail(Problem("export.ExportError", "cannot carry"), NOW)
    assert (
        failed.problem.code == "export.ExportError" and failed.events[-1].name == "content.export.failed.v1"
    )
    with pytest.raises(InvalidTransition):
        failed.complete(ExportResult("k", 1, "b" * 64), NOW)


def test_only_known_formats_are_requested():
    with pytest.raises(InvariantViolated):
        a_job("pdf")
