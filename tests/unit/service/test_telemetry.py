"""The figures a use case's outcome becomes: counted once, split into ours and the upload's."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from content_service.domain.export import ExportJob, ExportResult
from content_service.domain.package import PackageState, PackageSummary, PlayPackage, Problem, Standard
from content_service.service import telemetry
from tests.outbox_fakes import FakeMetrics

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _building() -> PlayPackage:
    return PlayPackage.start_building(tenant_id="t", package_id="p", version=1, source_key="k", now=NOW)


def _built() -> PlayPackage:
    summary = PackageSummary(Standard.SCORM12, "T", None, 3, 1234, 1, "sha256:x")
    return replace(_building(), state=PackageState.BUILT, summary=summary)


def test_a_built_package_counts_a_success_overall_and_for_its_standard_with_its_bytes() -> None:
    metrics = FakeMetrics()
    telemetry.record_build(metrics, _built(), changed=True, seconds=2.5)
    assert metrics.dimensions == [
        ("BuildSucceeded", {}),
        ("BuildSucceeded", {"standard": "scorm12"}),
        ("BuildBytes", {}),
        ("BuildDuration", {}),
    ]
    assert metrics.named("BuildBytes") == [1234]
    assert metrics.named("BuildDuration") == [2.5]


def test_a_refused_upload_is_a_rejection_with_its_problem_code_not_a_failure_of_ours() -> None:
    metrics = FakeMetrics()
    refused = _building().mark_failed(Problem("zip.symlink", "a link", "a"), NOW)
    telemetry.record_build(metrics, refused, changed=True, seconds=0.1)
    assert ("BuildRejected", {"problem": "zip.symlink"}) in metrics.dimensions
    assert metrics.named("BuildFailed") == []


def test_a_crash_on_every_attempt_is_a_failure_of_ours() -> None:
    metrics = FakeMetrics()
    crashed = _building().mark_failed(Problem("build.crashed", "boom", None), NOW)
    telemetry.record_build(metrics, crashed, changed=True, seconds=0.1)
    assert metrics.named("BuildFailed") == [1]
    assert metrics.named("BuildRejected") == []


def test_a_redelivered_build_that_changed_nothing_is_not_counted_again() -> None:
    metrics = FakeMetrics()
    telemetry.record_build(metrics, _built(), changed=False, seconds=0.1)
    telemetry.record_build(metrics, None, changed=True, seconds=0.1)
    assert metrics.values == []


def test_abandoned_builds_and_exports_are_failures_of_ours() -> None:
    metrics = FakeMetrics()
    abandoned = _building().mark_failed(Problem("build.abandoned", "late", None), NOW)
    telemetry.record_abandoned_builds(metrics, [abandoned, abandoned])
    telemetry.record_abandoned_exports(metrics, ["job"])  # type: ignore[list-item]
    assert metrics.named("BuildFailed") == [1, 1]
    assert metrics.named("ExportFailed") == [1]


def _job() -> ExportJob:
    return ExportJob.request(
        tenant_id="t", export_id="e", package_id="p", version=1, format="cmi5", options={}, now=NOW
    )


def test_an_export_finished_by_this_run_counts_once_per_format_and_one_finished_earlier_not_at_all() -> None:
    metrics = FakeMetrics()
    done = _job().complete(ExportResult("k", 99, "d"), NOW + timedelta(seconds=5))
    telemetry.record_export(metrics, done, started_at=NOW, seconds=5.0)
    assert ("ExportSucceeded", {"format": "cmi5"}) in metrics.dimensions
    assert metrics.named("ExportBytes") == [99]
    before = len(metrics.values)
    telemetry.record_export(metrics, done, started_at=NOW + timedelta(minutes=1), seconds=0.1)
    assert len(metrics.values) == before


def test_api_calls_count_every_call_a_server_error_only_for_5xx_and_a_client_error_for_4xx() -> None:
    metrics = FakeMetrics()
    telemetry.record_api_call(metrics, "create_bundle", 201, 12.0)
    telemetry.record_api_call(metrics, "create_bundle", 404, 3.0)
    telemetry.record_api_call(metrics, "create_bundle", 502, 3.0)
    assert metrics.named("ApiRequests") == [1, 1, 1]
    assert metrics.named("ApiServerErrors") == [0, 0, 1]
    assert metrics.named("ApiClientErrors") == [0, 1, 0]
    assert {d["operation"] for _, d in metrics.dimensions} == {"create_bundle"}


def test_a_throttled_kms_call_is_timed_and_counted() -> None:
    metrics = FakeMetrics()
    telemetry.record_kms_call(metrics, "Sign", 40.0, None)
    telemetry.record_kms_call(metrics, "Sign", 900.0, "ThrottlingException")
    assert metrics.named("KmsLatency") == [40.0, 900.0]
    assert metrics.named("KmsThrottled") == [1]


def test_published_events_report_their_lag_and_the_refused_ones() -> None:
    metrics = FakeMetrics()
    telemetry.record_published(metrics, [NOW, NOW + timedelta(seconds=1)], 1, NOW + timedelta(seconds=3))
    assert metrics.named("EventsPublished") == [1]
    assert metrics.named("EventsRefused") == [1]
    assert metrics.named("FanOutLag") == [3.0, 2.0]
