"""PlayPackage use cases: request an upload, build an upload, read, list, fail abandoned builds."""

from __future__ import annotations

import base64
import logging
import re
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from content_service.crypto.keys import DataKey
from content_service.domain import identifiers
from content_service.domain.errors import (
    ConcurrencyConflict,
    NotFound,
    PayloadTooLarge,
    ValidationFailed,
)
from content_service.domain.package import (
    ContainerRef,
    DeclaredUpload,
    PackageManifest,
    PackageState,
    PlayPackage,
    Problem,
    SealedContent,
)
from content_service.packaging.containers import BuiltPackage, build_and_seal
from content_service.packaging.delta import build_and_seal_objects
from content_service.packaging.limits import ImportLimits
from content_service.packaging.model import PackageRejected
from content_service.service.ports import (
    BundleStore,
    Clock,
    ContentKeyService,
    ContentObjectStore,
    PackageRepository,
    PackageStore,
    Page,
    UploadStore,
)

logger = logging.getLogger(__name__)

ZIP_CONTENT_TYPES = frozenset({"application/zip", "application/x-zip-compressed"})
_ID_PATTERN = re.compile(identifiers.PACKAGE_ID)
_UPLOAD_KEY = re.compile(
    r"^uploads/(?P<tenant>[A-Za-z0-9_-]{1,64})/(?P<package>[A-Za-z0-9_-]{1,64})/v(?P<version>[0-9]{1,9})/source\.zip$"
)


def upload_key(tenant_id: str, package_id: str, version: int) -> str:
    """Where a package version's source zip is uploaded; the build learns everything from it."""
    return f"uploads/{tenant_id}/{package_id}/v{version}/source.zip"


@dataclass(frozen=True)
class UploadKey:
    tenant_id: str
    package_id: str
    version: int

    @classmethod
    def parse(cls, key: str) -> UploadKey:
        match = _UPLOAD_KEY.fullmatch(key)
        if not match:
            raise ValidationFailed(f"{key!r} is not an upload key this service issued")
        return cls(match["tenant"], match["package"], int(match["version"]))


@dataclass(frozen=True)
class RequestUpload:
    """Command: an author wants to upload a zip (a new package, or a new version of one)."""

    tenant_id: str
    user_id: str
    content_type: str
    content_length: int
    package_id: str | None = None


@dataclass(frozen=True)
class UploadTicket:
    package: PlayPackage
    url: str
    method: str
    headers: dict[str, str]
    expires_at: datetime


def request_upload(
    command: RequestUpload,
    *,
    packages: PackageRepository,
    uploads: UploadStore,
    clock: Clock,
    limits: ImportLimits,
    url_ttl_seconds: int,
) -> UploadTicket:
    """Register a new package version in ``building`` and hand out a presigned PUT for its zip.

    The URL signs the content type and the declared byte length, so the upload cannot be
    swapped for a larger or different object; lengths over the limit are refused here.
    """
    if command.content_type not in ZIP_CONTENT_TYPES:
        raise ValidationFailed(
            f"content_type must be one of {sorted(ZIP_CONTENT_TYPES)}, not {command.content_type!r}"
        )
    if command.content_length > limits.max_upload_bytes:
        raise PayloadTooLarge(
            f"the upload declares {command.content_length} bytes; the limit is {limits.max_upload_bytes}",
            limit=limits.max_upload_bytes,
        )
    now = clock.now()
    if command.package_id is None:
        package_id, version = f"pkg_{uuid.uuid4().hex}", 1
    else:
        if not _ID_PATTERN.fullmatch(command.package_id):
            raise ValidationFailed("package_id must be 1-64 letters, digits, '-' or '_'")
        package_id = command.package_id
        version = packages.get(command.tenant_id, package_id).version + 1
    key = upload_key(command.tenant_id, package_id, version)
    package = packages.add(
        PlayPackage.start_building(
            tenant_id=command.tenant_id,
            package_id=package_id,
            version=version,
            source_key=key,
            now=now,
            declared_upload=DeclaredUpload(command.content_type, command.content_length),
        )
    )
    presigned = uploads.presign_put(key, command.content_type, command.content_length, url_ttl_seconds)
    return UploadTicket(package, presigned.url, presigned.method, presigned.headers, presigned.expires_at)


@dataclass(frozen=True)
class BuildOutcome:
    """What a build event did; ``package`` is None when the event named no package of this service."""

    package: PlayPackage | None
    changed: bool

    @property
    def state(self) -> str:
        return self.package.state.value if self.package is not None else "unknown"


def build_uploaded_package(
    key: str,
    *,
    packages: PackageRepository,
    uploads: UploadStore,
    store: PackageStore,
    keys: ContentKeyService,
    containers: BundleStore,
    clock: Clock,
    limits: ImportLimits,
    content_format: int = 1,
) -> BuildOutcome:
    """Build the package version an uploaded zip belongs to, moving it to ``built`` or ``failed``.

    ``content_format`` 2 seals the version as content-addressed file objects and an index
    (docs/container-format.md), so a device that holds an earlier version of the lineage
    downloads only the files that changed; 1 seals one container, as before.

    A built version has every file stored content-addressed, its manifest, and its content
    container sealed once with a fresh content key (only the wrapped key is kept): bundling it
    for any number of devices later never re-encrypts.

    Idempotent: a redelivered event for a package that is no longer building changes nothing,
    and two racing builds of the same upload both compute the same content-addressed result,
    of which one conditional write wins.
    """
    found = _package_of_upload(key, packages)
    if found is None:
        return BuildOutcome(None, changed=False)
    ref, package = found
    if package.state is not PackageState.BUILDING:
        logger.info("upload %s already processed (%s); nothing to do", key, package.state.value)
        return BuildOutcome(package, changed=False)
    stored = uploads.head(key)
    mismatch = _undeclared_upload(package, stored.size, stored.content_type)
    if mismatch is not None:
        return _finish(package.mark_failed(mismatch, clock.now()), packages)
    with tempfile.TemporaryDirectory(prefix="build-") as scratch:
        workdir = Path(scratch)
        source = workdir / "source.zip"
        try:
            downloaded = uploads.download(key, source, limits.max_upload_bytes)
            # The object may have been replaced between the HEAD and the GET: check what was read.
            mismatch = _undeclared_upload(package, downloaded)
            if mismatch is not None:
                return _finish(package.mark_failed(mismatch, clock.now()), packages)
            data_keys: list[DataKey] = []
            lineage: list[tuple[bytes, str]] = []
            if content_format == 2:
                objects: ContentObjectStore = containers  # type: ignore[assignment]
                built = build_and_seal_objects(
                    source,
                    limits,
                    store.blobs(ref.tenant_id),
                    lambda: _new_content_key(ref, keys, data_keys),
                    lambda: _lineage_key(ref, packages, keys, lineage),
                    objects.content_objects(ref.tenant_id, ref.package_id),
                    workdir / "content.csix",
                    workdir=workdir,
                )
            else:
                built = build_and_seal(
                    source,
                    limits,
                    store.blobs(ref.tenant_id),
                    lambda: _new_content_key(ref, keys, data_keys),
                    workdir / "content.cspc",
                    workdir=workdir,
                )
        except PackageRejected as rejected:
            return _finish(package.mark_failed(rejected.problems[0], clock.now()), packages)
        except ValidationFailed as refused:
            problem = Problem("upload.too_large", refused.detail, None)
            return _finish(package.mark_failed(problem, clock.now()), packages)
        if content_format == 2:
            sealed = _store_index(ref, built, data_keys[0], lineage[0][1], objects=containers)  # type: ignore[arg-type]
        else:
            sealed = _store_container(ref, built, data_keys[0], containers=containers)
    store.put_manifest(ref.tenant_id, ref.package_id, ref.version, built.manifest)
    return _finish(package.mark_built(built.manifest, clock.now(), sealed), packages)


def _package_of_upload(key: str, packages: PackageRepository) -> tuple[UploadKey, PlayPackage] | None:
    """The package an upload key belongs to, or None (logged) for a key this service never issued.

    Such an event can never succeed, so it is dropped: retrying it would only end in the DLQ.
    """
    try:
        ref = UploadKey.parse(key)
        return ref, packages.get(ref.tenant_id, ref.package_id, ref.version)
    except (ValidationFailed, NotFound) as unknown:
        logger.warning("dropped a build event for %r: %s", key, unknown.detail)
        return None


def _undeclared_upload(package: PlayPackage, size: int, content_type: str | None = None) -> Problem | None:
    """The problem with a stored upload that is not the one declared, or None when it matches.

    On AWS, S3 already refuses a presigned PUT whose signed Content-Type or Content-Length differ;
    this is the defence in depth that holds wherever the store did not enforce them. Versions
    registered before the declaration was recorded have nothing to compare with.
    """
    declared = package.declared_upload
    if declared is None:
        return None
    if size != declared.content_length:
        return Problem(
            "upload.length_mismatch",
            f"the upload is {size} bytes; {declared.content_length} were declared",
            None,
        )
    if content_type is not None and _media_type(content_type) != _media_type(declared.content_type):
        return Problem(
            "upload.content_type_mismatch",
            f"the upload's Content-Type is {content_type!r}; {declared.content_type!r} was declared",
            None,
        )
    return None


def _media_type(value: str) -> str:
    # Media type names are case-insensitive (RFC 9110, 8.3.1); parameters are kept and must match.
    return value.strip().lower()


def _new_content_key(ref: UploadKey, keys: ContentKeyService, made: list[DataKey]) -> bytes:
    """A fresh content key for the version, asked for only once the package passed its checks."""
    made.append(keys.generate(ref.tenant_id, ref.package_id, ref.version))
    return made[-1].plaintext


def _lineage_key(
    ref: UploadKey, packages: PackageRepository, keys: ContentKeyService, held: list[tuple[bytes, str]]
) -> bytes:
    """The package lineage's key: unwrapped from the newest earlier version 2 build, or a new one.

    Two versions built at the same moment may each make a new lineage key; they then share no
    objects, which costs bytes, never correctness.
    """
    for version in range(ref.version - 1, 0, -1):
        try:
            earlier = packages.get(ref.tenant_id, ref.package_id, version)
        except NotFound:
            continue
        wrapped = earlier.sealed.wrapped_lineage_key if earlier.sealed is not None else None
        if wrapped is not None:
            key = keys.unwrap_lineage(base64.b64decode(wrapped), ref.tenant_id, ref.package_id)
            held.append((key, wrapped))
            return key
    made = keys.generate_lineage(ref.tenant_id, ref.package_id)
    held.append((made.plaintext, base64.b64encode(made.wrapped).decode()))
    return made.plaintext


def _store_index(
    ref: UploadKey, built: BuiltPackage, data_key: DataKey, wrapped_lineage: str, *, objects: ContentObjectStore
) -> SealedContent:
    sealed = built.container
    key = objects.put_index(ref.tenant_id, ref.package_id, ref.version, built.manifest.content_hash, sealed.path)
    prefix = objects.objects_prefix(ref.tenant_id, ref.package_id)
    container = ContainerRef(key, sealed.summary.size, sealed.sha256, format=2, objects_prefix=prefix)
    return SealedContent(container, base64.b64encode(data_key.wrapped).decode(), wrapped_lineage)


def _store_container(
    ref: UploadKey, built: BuiltPackage, data_key: DataKey, *, containers: BundleStore
) -> SealedContent:
    sealed = built.container
    key = containers.put_container(
        ref.tenant_id, ref.package_id, ref.version, built.manifest.content_hash, sealed.path
    )
    container = ContainerRef(key, sealed.summary.size, sealed.sha256)
    return SealedContent(container, base64.b64encode(data_key.wrapped).decode())


def _finish(package: PlayPackage, packages: PackageRepository) -> BuildOutcome:
    try:
        return BuildOutcome(packages.save(package), changed=True)
    except ConcurrencyConflict:
        # Another delivery of the same upload finished first; its result stands.
        current = packages.get(package.tenant_id, package.package_id, package.version)
        return BuildOutcome(current, changed=False)


def fail_build_after_retries(
    key: str, reason: str, *, packages: PackageRepository, clock: Clock
) -> BuildOutcome:
    """A build that crashed on every delivery: fail the package instead of leaving it building."""
    found = _package_of_upload(key, packages)
    if found is None:
        return BuildOutcome(None, changed=False)
    _, package = found
    if package.state is not PackageState.BUILDING:
        return BuildOutcome(package, changed=False)
    problem = Problem("build.crashed", f"the build failed on every attempt: {reason}", None)
    return _finish(package.mark_failed(problem, clock.now()), packages)


def get_package(
    tenant_id: str, package_id: str, *, packages: PackageRepository, version: int | None = None
) -> PlayPackage:
    return packages.get(tenant_id, package_id, version)


def get_manifest(
    tenant_id: str,
    package_id: str,
    *,
    packages: PackageRepository,
    store: PackageStore,
    version: int | None = None,
) -> PackageManifest:
    package = packages.get(tenant_id, package_id, version)
    if package.state is not PackageState.BUILT:
        raise NotFound(
            f"package {package_id} v{package.version} has no manifest (it is {package.state.value})"
        )
    return store.get_manifest(tenant_id, package_id, package.version)


def list_packages(tenant_id: str, *, packages: PackageRepository, cursor: str | None, limit: int) -> Page:
    return packages.list(tenant_id, cursor, limit)


def fail_abandoned_builds(
    *, packages: PackageRepository, clock: Clock, build_timeout_seconds: int, batch: int = 100
) -> list[PlayPackage]:
    """Fail every package that has been building longer than the timeout.

    A package is abandoned when its upload never arrived, or when its build crashed in a way
    that stopped even the retry accounting (a killed runtime). The sweep runs on a schedule.
    """
    now = clock.now()
    failed = []
    for package in packages.building_since_before(now - timedelta(seconds=build_timeout_seconds), batch):
        if not package.is_stale(now, build_timeout_seconds):
            continue
        problem = Problem(
            "build.abandoned",
            f"no build finished within {build_timeout_seconds} s of the last change (upload missing or build crashed)",
            None,
        )
        try:
            failed.append(packages.save(package.mark_failed(problem, now)))
        except ConcurrencyConflict:
            continue
    return failed
