"""The figures the service reports: one name per figure, the dimensions it carries, and the
functions that turn a use case's outcome into figures.

Every figure carries the ``service`` dimension; the extra dimensions below are bounded sets (a
standard, a problem code, an export format, an API operation, a KMS operation), never a tenant,
a user or an id, so the number of CloudWatch metrics stays small whatever the traffic. Tenants
appear in log lines, not in metrics.

The dashboards and alarms in template.yaml name exactly these figures:
``tests/infrastructure/test_metrics_agree.py`` fails when a widget or alarm names a figure no code
emits, or code emits a figure nothing shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from content_service.domain.assistant import AssistantGeneration, GenerationState
from content_service.domain.export import ExportJob, ExportState
from content_service.domain.package import PackageState, PlayPackage
from content_service.service.outbox_ports import Metrics

# Builds (build_package, sweep_stale_builds). A rejection is the upload's fault (a problem code
# the author can act on); a failure is ours (a crash on every attempt, or abandoned).
BUILD_SUCCEEDED = "BuildSucceeded"
BUILD_REJECTED = "BuildRejected"
BUILD_FAILED = "BuildFailed"
BUILD_DURATION = "BuildDuration"
BUILD_BYTES = "BuildBytes"

# Exports (export, sweep_stale_builds), the same split.
EXPORT_SUCCEEDED = "ExportSucceeded"
EXPORT_REJECTED = "ExportRejected"
EXPORT_FAILED = "ExportFailed"
EXPORT_DURATION = "ExportDuration"
EXPORT_BYTES = "ExportBytes"

# Assistant generations (assistant, sweep_stale_builds), the same split: a rejection is the
# package's or the generator's answer (no text, an output refused); a failure is ours.
ASSISTANT_GENERATED = "AssistantGenerated"
ASSISTANT_REJECTED = "AssistantRejected"
ASSISTANT_FAILED = "AssistantFailed"
ASSISTANT_DURATION = "AssistantDuration"

# The API (api): per operation id of the policy table; a server error is a status >= 500.
API_REQUESTS = "ApiRequests"
API_SERVER_ERRORS = "ApiServerErrors"
API_CLIENT_ERRORS = "ApiClientErrors"
#: The operation of a call no route matched (an unknown path, or a method the path does not serve).
UNMATCHED_OPERATION = "unmatched"
API_LATENCY = "ApiLatency"

# KMS (api, build_package): every call timed; throttles that survived botocore's retries.
KMS_LATENCY = "KmsLatency"
KMS_THROTTLED = "KmsThrottled"

# Outbox and revocation (fan_out).
EVENTS_PUBLISHED = "EventsPublished"
EVENTS_REFUSED = "EventsRefused"
FAN_OUT_LAG = "FanOutLag"
REVOCATION_LAG = "RevocationLag"

# Tamper (fan_out, watch_bundles).
TAMPER_EVENTS = "TamperEvents"
UNCORROBORATED_TAMPER_REPORTS = "TamperReportsUncorroborated"
TAMPER_TO_REVOCATION = "TamperToRevocation"

# Devices' security signals (service/device_signals.py).
DEVICE_STATUS_FORGED = "DeviceStatusForged"
DEVICE_BRANDING_REFUSED = "DeviceBrandingRefused"

# Problem codes that mean the service failed, not the upload.
_OUR_FAILURES = frozenset(
    {
        "build.crashed",
        "build.abandoned",
        "export.crashed",
        "export.abandoned",
        "assistant.crashed",
        "assistant.abandoned",
    }
)


def record_build(metrics: Metrics, package: PlayPackage | None, *, changed: bool, seconds: float) -> None:
    """Count one build that moved a package out of ``building`` (a redelivery that changed nothing
    is not counted again)."""
    if package is None or not changed:
        return
    if package.state is PackageState.BUILT:
        metrics.count(BUILD_SUCCEEDED)
        if package.summary is not None:
            metrics.count(BUILD_SUCCEEDED, standard=package.summary.standard.value)
            metrics.bytes(BUILD_BYTES, package.summary.total_bytes)
    elif package.state is PackageState.FAILED:
        _count_build_failure(metrics, package)
    metrics.seconds(BUILD_DURATION, seconds)


def record_abandoned_builds(metrics: Metrics, packages: Iterable[PlayPackage]) -> None:
    """Count the builds the sweep failed (each is ``build.abandoned``)."""
    for package in packages:
        _count_build_failure(metrics, package)


def record_export(metrics: Metrics, job: ExportJob, *, started_at: datetime, seconds: float) -> None:
    """Count one export job this run finished (a job finished earlier, redelivered, is not counted)."""
    if job.updated_at < started_at:
        return
    if job.state is ExportState.DONE:
        metrics.count(EXPORT_SUCCEEDED)
        metrics.count(EXPORT_SUCCEEDED, format=job.format)
        if job.result is not None:
            metrics.bytes(EXPORT_BYTES, job.result.size)
    elif job.state is ExportState.FAILED:
        code = job.problem.code if job.problem else "unknown"
        if code in _OUR_FAILURES:
            metrics.count(EXPORT_FAILED)
        else:
            metrics.count(EXPORT_REJECTED)
            metrics.count(EXPORT_REJECTED, problem=code)
    else:
        return
    metrics.seconds(EXPORT_DURATION, seconds)


def record_abandoned_exports(metrics: Metrics, jobs: Iterable[ExportJob]) -> None:
    """Count the exports the sweep failed (each is ``export.abandoned``)."""
    for _ in jobs:
        metrics.count(EXPORT_FAILED)


def record_assistant_generation(
    metrics: Metrics, job: AssistantGeneration, *, started_at: datetime, seconds: float
) -> None:
    """Count one generation job this run finished (one finished earlier, redelivered, is not counted)."""
    if job.updated_at < started_at:
        return
    if job.state is GenerationState.READY:
        metrics.count(ASSISTANT_GENERATED)
    elif job.state is GenerationState.FAILED:
        code = job.problem.code if job.problem else "unknown"
        if code in _OUR_FAILURES:
            metrics.count(ASSISTANT_FAILED)
        else:
            metrics.count(ASSISTANT_REJECTED)
            metrics.count(ASSISTANT_REJECTED, problem=code)
    else:
        return
    metrics.seconds(ASSISTANT_DURATION, seconds)


def record_abandoned_assistant_generations(metrics: Metrics, jobs: Iterable[AssistantGeneration]) -> None:
    """Count the generations the sweep failed (each is ``assistant.abandoned``)."""
    for _ in jobs:
        metrics.count(ASSISTANT_FAILED)


# Each figure is named by its constant at the call, never passed in as a variable, so that the
# agreement test can read from the code which figures exist.
def _count_build_failure(metrics: Metrics, package: PlayPackage) -> None:
    code = package.problem.code if package.problem else "unknown"
    if code in _OUR_FAILURES:
        metrics.count(BUILD_FAILED)
    else:
        metrics.count(BUILD_REJECTED)
        metrics.count(BUILD_REJECTED, problem=code)


def record_api_call(metrics: Metrics, operation: str, status: int, milliseconds: float) -> None:
    """Count one API call of a route (by operation id), its server or client error if any, and its
    latency. A refusal (401, 403, 404, 422...) is a client error: a rise in them is a caller, a
    scanner or a broken client, which the dashboards show beside the calls."""
    metrics.count(API_REQUESTS, operation=operation)
    metrics.count(API_SERVER_ERRORS, 1 if status >= 500 else 0, operation=operation)
    metrics.count(API_CLIENT_ERRORS, 1 if 400 <= status < 500 else 0, operation=operation)
    metrics.milliseconds(API_LATENCY, milliseconds, operation=operation)


def record_kms_call(metrics: Metrics, operation: str, milliseconds: float, error_code: str | None) -> None:
    """Time one KMS call (``Sign``, ``GenerateDataKey``, ``Decrypt``...); count it if it was throttled."""
    metrics.milliseconds(KMS_LATENCY, milliseconds, operation=operation)
    if error_code in ("ThrottlingException", "LimitExceededException"):
        metrics.count(KMS_THROTTLED)


def record_published(metrics: Metrics, occurred: Iterable[datetime], refused: int, now: datetime) -> None:
    """Count a PutEvents round (published, refused) and how long each event waited since its write."""
    lags = [max(0.0, (now - at).total_seconds()) for at in occurred]
    if not lags and not refused:
        return
    metrics.count(EVENTS_PUBLISHED, len(lags) - refused)
    metrics.count(EVENTS_REFUSED, refused)
    for lag in lags:
        metrics.seconds(FAN_OUT_LAG, lag)
