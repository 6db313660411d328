"""The export function and the sweep, on moto: a crashed export ends failed, never pending forever."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from content_service.bootstrap import dependencies
from content_service.domain.export import ExportJob, ExportResult, ExportState
from content_service.local.cold_start import clear_cached_state
from tests.integration.functions.test_handlers import context, handler

EVENTS = Path(__file__).parents[3] / "events"


@pytest.fixture
def stack(aws_template, monkeypatch):
    for name, value in {
        **aws_template.environment_for("ExportFunction"),
        **aws_template.environment_for("SweepStaleBuildsFunction"),
    }.items():
        monkeypatch.setenv(name, value)
    clear_cached_state()
    yield aws_template
    clear_cached_state()


def pending_export(export_id: str, now: datetime, package_id: str = "pkg_gone") -> ExportJob:
    job = ExportJob.request(
        tenant_id="tenant-a",
        export_id=export_id,
        package_id=package_id,
        version=1,
        format="scorm12",
        options={},
        now=now,
    )
    return dependencies().exports.add(job)


def test_an_export_that_crashes_is_retried_and_fails_on_its_last_attempt(stack):
    deps = dependencies()
    # The job names a package whose manifest is not stored: every run of it crashes.
    job = pending_export("exp_0123456789abcdef0123456789abcdef", deps.clock.now())
    event = json.loads((EVENTS / "export" / "sqs_export_job.json").read_text())
    export = handler(stack, "ExportFunction")
    # A batch of one that failed entirely is raised, so Lambda returns the message to the queue.
    with pytest.raises(BatchProcessingError):
        export(event, context("export"))
    assert deps.exports.get("tenant-a", job.export_id).state is ExportState.PENDING
    last = copy.deepcopy(event)
    last["Records"][0]["attributes"]["ApproximateReceiveCount"] = str(deps.settings.export_max_attempts)
    assert export(last, context("export")) == {"batchItemFailures": []}
    failed = deps.exports.get("tenant-a", job.export_id)
    assert failed.state is ExportState.FAILED
    assert failed.problem.code == "export.crashed" and "every attempt" in failed.problem.detail


def test_the_sweep_fails_exports_left_pending_past_the_timeout_and_nothing_else(stack):
    deps = dependencies()
    now = deps.clock.now()
    old = now - timedelta(seconds=deps.settings.export_timeout_seconds + 60)
    stuck = pending_export("exp_stuck", old)
    finished = deps.exports.save(
        pending_export("exp_done", old).complete(ExportResult("k", 1, "0" * 64), old)
    )
    fresh = pending_export("exp_fresh", now - timedelta(minutes=5))
    event = json.loads((EVENTS / "sweep_stale_builds" / "scheduled.json").read_text())
    sweep = handler(stack, "SweepStaleBuildsFunction")
    assert sweep(event, context("sweep")) == {"failed": 0, "failed_exports": 1, "failed_assistant_generations": 0}
    swept = deps.exports.get("tenant-a", stuck.export_id)
    assert (swept.state, swept.problem.code) == (ExportState.FAILED, "export.abandoned")
    assert deps.exports.get("tenant-a", finished.export_id).state is ExportState.DONE
    assert deps.exports.get("tenant-a", fresh.export_id).state is ExportState.PENDING
    # A failed job leaves the sweep's index: the next sweep has nothing to do.
    assert sweep(event, context("sweep")) == {"failed": 0, "failed_exports": 0, "failed_assistant_generations": 0}
