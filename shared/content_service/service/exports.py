"""Export use cases: request an export of a built package, run it, and hand out the result."""

from __future__ import annotations

import hashlib
import json
import tempfile
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO

from content_service.domain.errors import (
    ConcurrencyConflict,
    DomainError,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from content_service.domain.export import ExportJob, ExportResult, ExportState
from content_service.domain.package import PackageState, Problem
from content_service.domain.tenant import Branding
from content_service.service.ports import (
    BlobReader,
    BrandingAssets,
    Clock,
    ExportQueue,
    ExportRepository,
    ExportStore,
    PackageRepository,
    PackageStore,
    TenantSettingsRepository,
)
from content_service.standards.export import ExportFormat, ExportOptions, export_package


def request_export(
    tenant_id: str,
    package_id: str,
    version: int | None,
    format: str,
    options: dict[str, Any],
    *,
    packages: PackageRepository,
    exports: ExportRepository,
    queue: ExportQueue,
    clock: Clock,
    branding: TenantSettingsRepository | None = None,
) -> ExportJob:
    """Record a pending export of a built package version and queue it for the export function.

    With ``branding`` (the tenant settings), the export carries the tenant's branding as it is
    now (recorded in the job's options); a tenant without branding is refused.
    """
    package = packages.get(tenant_id, package_id, version)
    if package.state is not PackageState.BUILT:
        raise NotFound(
            f"package {package_id} v{package.version} is {package.state.value}: only built packages export"
        )
    if branding is not None:
        stored = branding.get(tenant_id)
        if stored is None or stored.branding is None:
            # A conflict with the tenant's state, not a malformed request (409, like bundling an unbuilt package).
            raise InvalidTransition("the tenant has no branding to carry; set it in the tenant settings first")
        options = {**options, "branding": stored.branding.as_dict()}
    try:
        export_format = ExportFormat(format)
        checked = ExportOptions.model_validate(options).model_dump(mode="json", exclude_none=True)
    except ValueError as error:
        raise ValidationFailed(f"invalid export request: {error}") from error
    job = exports.add(
        ExportJob.request(
            tenant_id=tenant_id,
            export_id=f"exp_{uuid.uuid4().hex}",
            package_id=package_id,
            version=package.version,
            format=export_format.value,
            options=checked,
            now=clock.now(),
        )
    )
    queue.send(tenant_id, job.export_id)
    return job


def run_export(
    tenant_id: str,
    export_id: str,
    *,
    exports: ExportRepository,
    store: PackageStore,
    blobs: BlobReader,
    results: ExportStore,
    clock: Clock,
    assets: BrandingAssets | None = None,
) -> ExportJob:
    """Build the export zip from the stored manifest and blobs; idempotent on redelivery.

    A branded job whose branding names a logo reads the logo's bytes from ``assets`` (the ones
    recorded when the export was asked for: content-addressed, so a later upload changes nothing).
    """
    job = exports.get(tenant_id, export_id)
    if job.state is not ExportState.PENDING:
        return job
    manifest = store.get_manifest(tenant_id, job.package_id, job.version)
    by_path = {entry.path: entry.sha256 for entry in manifest.files}

    def read_file(path: str) -> BinaryIO:
        return blobs.open_blob(tenant_id, by_path[path])

    with tempfile.TemporaryDirectory(prefix="export-") as scratch:
        out = Path(scratch) / "export.zip"
        try:
            options = ExportOptions.model_validate(job.options)
            export_package(
                manifest,
                read_file,
                ExportFormat(job.format),
                options,
                out=out,
                logo=_branding_logo(tenant_id, options, assets),
            )
        except DomainError as refused:
            problem = Problem(f"export.{type(refused).__name__}", refused.detail, None)
            return exports.save(job.fail(problem, clock.now()))
        digest = _sha256(out)
        filename = f"{job.package_id}-v{job.version}-{job.format}.zip"
        key = results.put_export(tenant_id, export_id, filename, out)
        size = out.stat().st_size
    return exports.save(job.complete(ExportResult(key, size, digest), clock.now()))


def _branding_logo(tenant_id: str, options: ExportOptions, assets: BrandingAssets | None) -> bytes | None:
    """The bytes of the logo the job's branding names (None: it names none, or no store to ask)."""
    logo = None if options.branding is None else Branding.from_dict(options.branding).logo
    if logo is None or assets is None:
        return None
    return assets.get_logo(tenant_id, logo)


def fail_export_after_retries(
    tenant_id: str, export_id: str, reason: str, *, exports: ExportRepository, clock: Clock
) -> ExportJob:
    """An export that crashed on every delivery: fail the job instead of leaving it pending."""
    job = exports.get(tenant_id, export_id)
    if job.state is not ExportState.PENDING:
        return job
    problem = Problem("export.crashed", f"the export failed on every attempt: {reason}", None)
    try:
        return exports.save(job.fail(problem, clock.now()))
    except ConcurrencyConflict:
        # Another delivery (or the sweep) finished the job first; its outcome stands.
        return exports.get(tenant_id, export_id)


def fail_abandoned_exports(
    *, exports: ExportRepository, clock: Clock, export_timeout_seconds: int, batch: int = 100
) -> list[ExportJob]:
    """Fail every export that has been pending longer than the timeout.

    An export is abandoned when its run was killed outright (a Lambda timeout or out of memory
    stops even the last-attempt accounting) or its queue message never arrived. The sweep
    that fails abandoned builds runs this on the same schedule.
    """
    now = clock.now()
    problem = Problem(
        "export.abandoned",
        f"no export finished within {export_timeout_seconds} s of its last change (crashed or never run)",
        None,
    )
    failed = []
    for job in exports.pending_since_before(now - timedelta(seconds=export_timeout_seconds), batch):
        if not job.is_stale(now, export_timeout_seconds):
            continue
        try:
            failed.append(exports.save(job.fail(problem, now)))
        except ConcurrencyConflict:
            continue
    return failed


@dataclass(frozen=True)
class ExportView:
    job: ExportJob
    download_url: str | None


def get_export(
    tenant_id: str, export_id: str, *, exports: ExportRepository, results: ExportStore, url_ttl_seconds: int
) -> ExportView:
    job = exports.get(tenant_id, export_id)
    url = results.presign_get(job.result.key, url_ttl_seconds) if job.result else None
    return ExportView(job, url)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for chunk in iter(lambda: source.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def export_job_of(message_body: str) -> tuple[str, str]:
    """The (tenant, export id) an export-queue message names."""
    try:
        message = json.loads(message_body)
        return str(message["tenant_id"]), str(message["export_id"])
    except (ValueError, KeyError, TypeError) as error:
        raise ValidationFailed("the message is not an export job") from error
