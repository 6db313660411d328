"""Export jobs: exactly what each transition changes and records."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from content_service.domain.errors import InvalidTransition, InvariantViolated
from content_service.domain.events import DomainEvent
from content_service.domain.export import FORMATS, ExportJob, ExportResult, ExportState
from content_service.domain.package import Problem
from tests.unit.domain.test_export import NOW

LATER = NOW + timedelta(minutes=2)


def a_job(options: dict | None = None) -> ExportJob:
    return ExportJob.request(
        tenant_id="t1", export_id="exp_1", package_id="p1", version=2, format="scorm12",
        options=options if options is not None else {"a": 1}, now=NOW,
    )


def test_a_request_is_pending_with_a_copy_of_its_options_and_one_event() -> None:
    options = {"a": 1}
    job = a_job(options)
    options["a"] = 2
    assert (job.tenant_id, job.export_id, job.package_id, job.version, job.format, job.options) == (
        "t1", "exp_1", "p1", 2, "scorm12", {"a": 1}
    )
    assert (job.state, job.created_at, job.updated_at, job.revision, job.result, job.problem) == (
        ExportState.PENDING, NOW, NOW, 0, None, None
    )
    assert job.events == (DomainEvent("content.export.requested.v1", "t1", "exp_1", NOW, {"package_id": "p1", "format": "scorm12"}),)
    message = f"unknown export format 'pdf'; one of {sorted(FORMATS)}"
    with pytest.raises(InvariantViolated, match="^" + re.escape(message) + "$"):
        ExportJob.request(tenant_id="t", export_id="e", package_id="p", version=1, format="pdf", options={}, now=NOW)


def test_completion_and_failure_record_their_outcome_once() -> None:
    result = ExportResult("exports/k.zip", 99, "s" * 64)
    done = a_job().complete(result, LATER)
    assert (done.state, done.result, done.updated_at, done.created_at) == (ExportState.DONE, result, LATER, NOW)
    assert done.events[-1] == DomainEvent("content.export.done.v1", "t1", "exp_1", LATER, {"key": "exports/k.zip", "size": 99})
    problem = Problem("export.too_big", "too big")
    failed = a_job().fail(problem, LATER)
    assert (failed.state, failed.problem, failed.updated_at) == (ExportState.FAILED, problem, LATER)
    assert failed.events[-1] == DomainEvent("content.export.failed.v1", "t1", "exp_1", LATER, problem.as_dict())
    with pytest.raises(InvalidTransition, match="^export exp_1 is done$") as raised:
        done.fail(problem, LATER)
    assert raised.value.extensions == {"state": "done"}
    with pytest.raises(InvalidTransition, match="^export exp_1 is failed$"):
        failed.complete(result, LATER)


def test_a_pending_job_is_stale_strictly_past_the_timeout() -> None:
    job = a_job()
    assert not job.is_stale(NOW + timedelta(seconds=30), 30)
    assert job.is_stale(NOW + timedelta(seconds=31), 30)
    assert not job.complete(ExportResult("k", 1, "s"), NOW).is_stale(NOW + timedelta(days=1), 30)
