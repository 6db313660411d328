"""Ports: the small abstractions the use cases need from the outside world.

Adapters implement them against AWS (``content_service.adapters``); tests use fakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from content_service.crypto.keys import DataKey
from content_service.domain.bundle import Bundle
from content_service.domain.device import Device
from content_service.domain.device_slots import DeviceSlots
from content_service.domain.export import ExportJob
from content_service.domain.logo import BrandLogo
from content_service.domain.package import PackageManifest, PlayPackage
from content_service.domain.tamper import TamperEvidence
from content_service.domain.tenant import TenantSettings
from content_service.packaging.inspect import BlobStore


@dataclass(frozen=True)
class Page:
    """One page of a list and the opaque cursor of the next (None on the last page)."""

    items: list[PlayPackage]
    next_cursor: str | None


class CursorSeal(Protocol):
    """Seals a position into an opaque, tamper-evident cursor and opens it again."""

    def seal(self, position: dict[str, Any]) -> str: ...

    def open(self, cursor: str) -> dict[str, Any]:
        """The sealed position; raises ValidationFailed for a cursor this service did not seal."""
        ...


class PackageRepository(Protocol):
    """Persistence of PlayPackage versions; every write is one conditional write."""

    def add(self, package: PlayPackage) -> PlayPackage:
        """Store a new version with its pending events; returns it with the events cleared.

        Raises ConcurrencyConflict if that version already exists.
        """
        ...

    def save(self, package: PlayPackage) -> PlayPackage:
        """Store a transition if the stored revision is still ``package.revision``; raises ConcurrencyConflict."""
        ...

    def get(self, tenant_id: str, package_id: str, version: int | None = None) -> PlayPackage:
        """The given version (default: the latest) of a tenant's package; raises NotFound."""
        ...

    def list(self, tenant_id: str, cursor: str | None, limit: int) -> Page:
        """A tenant's package versions, newest first; raises ValidationFailed for a bad cursor."""
        ...

    def building_since_before(self, cutoff: datetime, limit: int) -> list[PlayPackage]:
        """Packages (of any tenant) that are building and unchanged since before ``cutoff``."""
        ...


@dataclass(frozen=True)
class PresignedUpload:
    url: str
    method: str
    headers: dict[str, str]
    expires_at: datetime


@dataclass(frozen=True)
class StoredUpload:
    """What the object store holds for an upload: its byte length and Content-Type."""

    size: int
    content_type: str


class UploadStore(Protocol):
    """The bucket authors upload source zips to."""

    def presign_put(
        self, key: str, content_type: str, content_length: int, ttl_seconds: int
    ) -> PresignedUpload:
        """A URL that accepts exactly one PUT of this content type and byte length."""
        ...

    def head(self, key: str) -> StoredUpload:
        """The stored upload's size and Content-Type, without reading it; raises NotFound."""
        ...

    def download(self, key: str, destination: Path, max_bytes: int) -> int:
        """Stream an upload to a local file; refuses (ValidationFailed) past ``max_bytes``."""
        ...


class PackageStore(Protocol):
    """The packages bucket: each tenant's content-addressed files, and manifests."""

    def blobs(self, tenant_id: str) -> BlobStore:
        """Where a tenant's files go, keyed by their SHA-256."""
        ...

    def put_manifest(self, tenant_id: str, package_id: str, version: int, manifest: PackageManifest) -> str:
        """Store a built package's manifest; returns its key. Idempotent."""
        ...

    def get_manifest(self, tenant_id: str, package_id: str, version: int) -> PackageManifest: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class DeviceRepository(Protocol):
    """Persistence of devices and of each user's device slots (``domain.device_slots``).

    A device is created only by :meth:`enroll`, in one transaction with the user's slots and the
    claim on its public key, so neither the cap nor key uniqueness can be raced past.
    """

    def enroll(self, device: Device, slots: DeviceSlots, key_thumbprint: str) -> Device:
        """Store a new device, ``slots`` (which give it a slot) and its key claim, all or nothing.

        ``slots.revision`` is the revision read; the write holds only if it is still stored.
        Raises DeviceSlotsChanged if the slots changed meanwhile (re-read and retry),
        DeviceKeyAlreadyEnrolled if a device of the tenant (even a revoked one) has that key,
        ConcurrencyConflict if the device id exists. Returns the device with events cleared.
        """
        ...

    def slots(self, tenant_id: str, user_id: str) -> DeviceSlots:
        """The user's slots as stored (consistent read); a user without a record gets
        ``DeviceSlots.first`` over their active devices, at revision 0."""
        ...

    def save_slots(self, slots: DeviceSlots) -> DeviceSlots:
        """Store changed slots if ``slots.revision`` is still stored; raises DeviceSlotsChanged."""
        ...

    def save(self, device: Device) -> Device: ...

    def get(self, tenant_id: str, device_id: str) -> Device:
        """Raises NotFound (also for another tenant's device)."""
        ...

    def list_for_user(self, tenant_id: str, user_id: str, cursor: str | None, limit: int) -> DevicePage: ...


@dataclass(frozen=True)
class DevicePage:
    items: list[Device]
    next_cursor: str | None


@dataclass(frozen=True)
class BundlePage:
    items: list[Bundle]
    next_cursor: str | None


class BundleRepository(Protocol):
    def add(self, bundle: Bundle) -> Bundle:
        """Store a new bundle; raises ConcurrencyConflict if the id exists (ids are never reused)."""
        ...

    def save(self, bundle: Bundle) -> Bundle: ...

    def get(self, tenant_id: str, bundle_id: str) -> Bundle: ...

    def list(self, tenant_id: str, cursor: str | None, limit: int) -> BundlePage: ...

    def list_for_user(self, tenant_id: str, user_id: str, cursor: str | None, limit: int) -> BundlePage:
        """One user's bundles, newest first."""
        ...


@dataclass(frozen=True)
class IssuedLicence:
    tenant_id: str
    bundle_id: str
    device_id: str
    licence_id: str
    token: str
    issued_at: datetime
    expires_at: datetime


class LicenceRecords(Protocol):
    """Which devices hold a licence for a bundle (revocation fans out to them)."""

    def latest(self, tenant_id: str, bundle_id: str, device_id: str) -> IssuedLicence | None: ...

    def latest_expiry(self, tenant_id: str, device_id: str) -> datetime | None:
        """The latest expiry of any licence recorded for the device (any bundle); None if none."""
        ...

    def put(self, licence: IssuedLicence, device_revision: int) -> None:
        """Record the licence, only while the device still has ``device_revision``
        (ConcurrencyConflict otherwise: it was revoked or changed meanwhile)."""
        ...


class BundleStore(Protocol):
    """The bundles bucket, served to devices through the CDN."""

    def put_container(
        self, tenant_id: str, package_id: str, version: int, content_hash: str, path: Path
    ) -> str:
        """Upload a sealed container; returns its object key."""
        ...

    def put_manifest(self, tenant_id: str, bundle_id: str, token: str) -> str:
        """Store a bundle's signed manifest; returns its object key."""
        ...


class ContentKeyService(Protocol):
    """One content key per package version, wrapped by a key service with the version as context."""

    def generate(self, tenant_id: str, package_id: str, version: int) -> DataKey: ...

    def unwrap(self, wrapped: bytes, tenant_id: str, package_id: str, version: int) -> bytes: ...

    # Container format version 2 only (docs/container-format.md): one lineage key per package.
    def generate_lineage(self, tenant_id: str, package_id: str) -> DataKey: ...

    def unwrap_lineage(self, wrapped: bytes, tenant_id: str, package_id: str) -> bytes: ...


class ContentObjectStore(Protocol):
    """Version 2 containers in the bundles bucket: per-version indexes and per-lineage file objects."""

    def objects_prefix(self, tenant_id: str, package_id: str) -> str:
        """The key prefix under which a package lineage's file objects live."""
        ...

    def put_index(self, tenant_id: str, package_id: str, version: int, content_hash: str, path: Path) -> str:
        """Upload a sealed index; returns its object key."""
        ...

    def content_objects(self, tenant_id: str, package_id: str) -> ContentObjects:
        """Where one build puts a package lineage's file objects."""
        ...


class ContentObjects(Protocol):
    """One build's file objects of a package lineage (``packaging.delta.ObjectSink``).

    ``put_file`` may take the file and store it in the background: ``finish`` returns once every
    object handed over is stored (raising the first error storing one did), ``abandon`` drops
    what is still held after a failed build.
    """

    def put_file(self, name: str, path: Path) -> None:
        """Store the object at ``path`` as ``name`` unless the lineage holds it; may move the file."""
        ...

    def finish(self) -> None: ...

    def abandon(self) -> None: ...


class TokenSigner(Protocol):
    """Signs JWS tokens (bundle manifests, licences) with the current signing key."""

    @property
    def kid(self) -> str: ...

    def sign(self, claims: dict[str, Any], *, typ: str) -> str: ...


class UrlSigner(Protocol):
    """Signs CDN URLs for objects of the bundles bucket."""

    def signed_url(self, key: str, expires_at: datetime) -> str: ...

    def signed_prefix_url(self, path: str, prefix: str, expires_at: datetime) -> str:
        """A URL for ``path`` whose signature covers every object under ``prefix``."""
        ...


@dataclass(frozen=True)
class TamperReportRecord:
    tenant_id: str
    report_id: str
    device_id: str
    bundle_id: str
    kind: str
    detail: str
    reported_at: datetime
    corroborated: bool = False
    evidence: TamperEvidence | None = None


class TamperReports(Protocol):
    def add(self, report: TamperReportRecord) -> None:
        """Store a report with its ``content.bundle.tampered.v1`` event (one write, the outbox)."""
        ...


class ExportRepository(Protocol):
    def add(self, job: ExportJob) -> ExportJob: ...

    def save(self, job: ExportJob) -> ExportJob: ...

    def get(self, tenant_id: str, export_id: str) -> ExportJob: ...

    def pending_since_before(self, cutoff: datetime, limit: int) -> list[ExportJob]:
        """Up to ``limit`` exports of any tenant still pending, last changed before ``cutoff``."""
        ...


class ExportStore(Protocol):
    """The exports bucket: finished export zips, handed out by presigned GET."""

    def put_export(self, tenant_id: str, export_id: str, filename: str, path: Path) -> str: ...

    def presign_get(self, key: str, ttl_seconds: int) -> str: ...


class ExportQueue(Protocol):
    """Hands an export job to the export function."""

    def send(self, tenant_id: str, export_id: str) -> None: ...


class AssistantQueue(Protocol):
    """Hands an assistant generation job to the assistant function."""

    def send(self, tenant_id: str, generation_id: str) -> None: ...


class BlobReader(Protocol):
    """Reads a tenant's content-addressed files."""

    def open_blob(self, tenant_id: str, sha256: str) -> BinaryIO: ...


class BrandingAssets(Protocol):
    """The branding overlay's assets (the logo) beside the bundles, named by their SHA-256."""

    def put_logo(self, tenant_id: str, logo: BrandLogo, data: bytes) -> str:
        """Store the logo's bytes unless they are there already; returns the object key."""
        ...

    def get_logo(self, tenant_id: str, logo: BrandLogo) -> bytes:
        """The logo's stored bytes (at most its size plus one byte); NotFound if there are none."""
        ...


class TenantSettingsRepository(Protocol):
    """Tenants' settings; a tenant that never wrote any has none stored."""

    def get(self, tenant_id: str) -> TenantSettings | None: ...

    def save(self, settings: TenantSettings) -> TenantSettings:
        """Write over the revision read (0: first write); ConcurrencyConflict if it changed."""
        ...
