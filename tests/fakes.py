"""In-memory fakes of the service ports (fakes over mocks: they behave like the real thing)."""

from __future__ import annotations

import io
import os
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from content_service.domain.device import Device, DeviceKeyAlreadyEnrolled
from content_service.domain.device_slots import DeviceSlots, DeviceSlotsChanged
from content_service.domain.errors import ConcurrencyConflict, NotFound, ValidationFailed
from content_service.domain.export import ExportJob, ExportState
from content_service.domain.logo import BrandLogo
from content_service.domain.package import PackageManifest, PackageState, PlayPackage
from content_service.domain.tenant import TenantSettings
from content_service.service.ports import (
    BundlePage,
    DataKey,
    DevicePage,
    IssuedLicence,
    Page,
    PresignedUpload,
    StoredUpload,
    TamperReportRecord,
)


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class FakePackageRepository:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, int], PlayPackage] = {}
        self.writes = 0

    def add(self, package: PlayPackage) -> PlayPackage:
        key = (package.tenant_id, package.package_id, package.version)
        if key in self.rows:
            raise ConcurrencyConflict("exists")
        stored = replace(package, revision=1, events=())
        self.rows[key] = stored
        self.writes += 1
        return stored

    def save(self, package: PlayPackage) -> PlayPackage:
        key = (package.tenant_id, package.package_id, package.version)
        if key not in self.rows or self.rows[key].revision != package.revision:
            raise ConcurrencyConflict("changed")
        stored = replace(package, revision=package.revision + 1, events=())
        self.rows[key] = stored
        self.writes += 1
        return stored

    def get(self, tenant_id: str, package_id: str, version: int | None = None) -> PlayPackage:
        versions = sorted(
            (p for (t, i, _), p in self.rows.items() if t == tenant_id and i == package_id),
            key=lambda p: p.version,
        )
        if version is not None:
            versions = [p for p in versions if p.version == version]
        if not versions:
            raise NotFound(f"package {package_id} not found")
        return versions[-1]

    def list(self, tenant_id: str, cursor: str | None, limit: int) -> Page:
        items = sorted(
            (p for (t, _, _), p in self.rows.items() if t == tenant_id),
            key=lambda p: (p.created_at, p.package_id, p.version),
            reverse=True,
        )
        start = int(cursor) if cursor else 0
        page = items[start : start + limit]
        more = start + limit < len(items)
        return Page(page, str(start + limit) if more else None)

    def building_since_before(self, cutoff: datetime, limit: int) -> list[PlayPackage]:
        return [p for p in self.rows.values() if p.state is PackageState.BUILDING and p.updated_at < cutoff][
            :limit
        ]


class FakeUploadStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.presigned: list[tuple[str, str, int]] = []
        self.content_types: dict[str, str] = {}

    def presign_put(
        self, key: str, content_type: str, content_length: int, ttl_seconds: int
    ) -> PresignedUpload:
        self.presigned.append((key, content_type, content_length))
        return PresignedUpload(
            f"https://uploads.example/{key}",
            "PUT",
            {"Content-Type": content_type, "Content-Length": str(content_length)},
            datetime(2026, 11, 28, tzinfo=UTC),
        )

    def put(self, key: str, data: bytes, content_type: str = "application/zip") -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.content_types[key] = content_type

    def head(self, key: str) -> StoredUpload:
        source = self.root / key
        if not source.exists():
            raise NotFound(key)
        return StoredUpload(source.stat().st_size, self.content_types.get(key, "application/zip"))

    def download(self, key: str, destination: Path, max_bytes: int) -> int:
        source = self.root / key
        if not source.exists():
            raise NotFound(key)
        if source.stat().st_size > max_bytes:
            raise ValidationFailed("too large")
        shutil.copyfile(source, destination)
        return source.stat().st_size


class FakeBlobs:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def put(self, sha256: str, size: int, media_type: str, spool: BinaryIO) -> None:
        self.blobs.setdefault(sha256, spool.read())


class FakePackageStore:
    def __init__(self) -> None:
        self.tenants: dict[str, FakeBlobs] = {}
        self.manifests: dict[tuple[str, str, int], PackageManifest] = {}

    def blobs(self, tenant_id: str) -> FakeBlobs:
        return self.tenants.setdefault(tenant_id, FakeBlobs())

    def put_manifest(self, tenant_id: str, package_id: str, version: int, manifest: PackageManifest) -> str:
        self.manifests[(tenant_id, package_id, version)] = manifest
        return f"{tenant_id}/{package_id}/{version}"

    def open_blob(self, tenant_id: str, sha256: str) -> BinaryIO:
        return io.BytesIO(self.blobs(tenant_id).blobs[sha256])

    def get_manifest(self, tenant_id: str, package_id: str, version: int) -> PackageManifest:
        try:
            return self.manifests[(tenant_id, package_id, version)]
        except KeyError:
            raise NotFound("no manifest") from None


class FakeContentKeys:
    """Wraps keys by remembering them under a random handle, bound to the version's context."""

    def __init__(self) -> None:
        self.keys: dict[bytes, tuple[bytes, tuple[str, str, int]]] = {}

    def generate(self, tenant_id: str, package_id: str, version: int) -> DataKey:
        plaintext, handle = os.urandom(32), os.urandom(16)
        self.keys[handle] = (plaintext, (tenant_id, package_id, version))
        return DataKey(plaintext, handle)

    def unwrap(self, wrapped: bytes, tenant_id: str, package_id: str, version: int) -> bytes:
        plaintext, context = self.keys[wrapped]
        if context != (tenant_id, package_id, version):
            raise ValueError("encryption context mismatch")
        return plaintext

    def generate_lineage(self, tenant_id: str, package_id: str) -> DataKey:
        plaintext, handle = os.urandom(32), os.urandom(16)
        self.keys[handle] = (plaintext, (tenant_id, package_id, 0))
        return DataKey(plaintext, handle)

    def unwrap_lineage(self, wrapped: bytes, tenant_id: str, package_id: str) -> bytes:
        # Version 0 stands for the lineage context: a version's key never unwraps as a lineage key.
        return self.unwrap(wrapped, tenant_id, package_id, 0)


class FakeBundleStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put_container(
        self, tenant_id: str, package_id: str, version: int, content_hash: str, path: Path
    ) -> str:
        key = f"tenants/{tenant_id}/containers/{package_id}/v{version}/{content_hash}.cspc"
        self.objects[key] = path.read_bytes()
        return key

    def put_manifest(self, tenant_id: str, bundle_id: str, token: str) -> str:
        key = f"tenants/{tenant_id}/bundles/{bundle_id}/manifest.jws"
        self.objects[key] = token.encode()
        return key

    @staticmethod
    def objects_prefix(tenant_id: str, package_id: str) -> str:
        return f"tenants/{tenant_id}/objects/{package_id}/"

    def put_index(self, tenant_id: str, package_id: str, version: int, content_hash: str, path: Path) -> str:
        key = f"tenants/{tenant_id}/containers/{package_id}/v{version}/{content_hash}.csix"
        self.objects[key] = path.read_bytes()
        return key

    def content_objects(self, tenant_id: str, package_id: str) -> FakeContentObjects:
        return FakeContentObjects(self.objects, self.objects_prefix(tenant_id, package_id))


class FakeContentObjects:
    """A lineage's file objects in ``objects`` under ``prefix``, each stored before ``put_file`` returns."""

    def __init__(self, objects: dict[str, bytes], prefix: str) -> None:
        self._objects = objects
        self._prefix = prefix
        self.uploaded: list[str] = []

    def put_file(self, name: str, path: Path) -> None:
        key = self._prefix + name
        if key not in self._objects:
            self._objects[key] = path.read_bytes()
            self.uploaded.append(name)

    def stored(self) -> list[tuple[str, bytes]]:
        """This sink's objects in the order they were stored: (name, bytes)."""
        return [(name, self._objects[self._prefix + name]) for name in self.uploaded]

    def finish(self) -> None:
        pass

    def abandon(self) -> None:
        pass


class _Rows:
    """A dict of aggregates keyed by (tenant, id) with conditional add/save like the real store."""

    def __init__(self, id_field: str) -> None:
        self.rows: dict[tuple[str, str], object] = {}
        self.id_field = id_field

    def _key(self, item) -> tuple[str, str]:
        return (item.tenant_id, getattr(item, self.id_field))

    def add(self, item):
        if self._key(item) in self.rows:
            raise ConcurrencyConflict("exists")
        stored = replace(item, revision=1, events=())
        self.rows[self._key(item)] = stored
        return stored

    def save(self, item):
        current = self.rows.get(self._key(item))
        if current is None or current.revision != item.revision:
            raise ConcurrencyConflict("changed")
        stored = replace(item, revision=item.revision + 1, events=())
        self.rows[self._key(item)] = stored
        return stored

    def get(self, tenant_id: str, item_id: str):
        try:
            return self.rows[(tenant_id, item_id)]
        except KeyError:
            raise NotFound(f"{item_id} not found") from None


class FakeDeviceRepository(_Rows):
    """Devices, slots records and key claims; ``add`` stays as a test helper that skips the cap."""

    def __init__(self) -> None:
        super().__init__("device_id")
        self.slot_rows: dict[tuple[str, str], DeviceSlots] = {}
        self.key_claims: dict[tuple[str, str], str] = {}

    def list_for_user(self, tenant_id: str, user_id: str, cursor: str | None, limit: int) -> DevicePage:
        items = [d for (t, _), d in self.rows.items() if t == tenant_id and d.user_id == user_id]
        return DevicePage(items[:limit], None)

    def enroll(self, device: Device, slots: DeviceSlots, key_thumbprint: str) -> Device:
        # The same three conditions as the DynamoDB transaction, checked before anything changes.
        key = (slots.tenant_id, slots.user_id)
        stored_slots = self.slot_rows.get(key)
        if (stored_slots.revision if stored_slots else 0) != slots.revision:
            raise DeviceSlotsChanged("changed")
        if (device.tenant_id, key_thumbprint) in self.key_claims:
            raise DeviceKeyAlreadyEnrolled("key exists")
        stored = self.add(device)
        self.slot_rows[key] = replace(slots, revision=slots.revision + 1)
        self.key_claims[(device.tenant_id, key_thumbprint)] = device.device_id
        return stored

    def slots(self, tenant_id: str, user_id: str) -> DeviceSlots:
        stored = self.slot_rows.get((tenant_id, user_id))
        if stored is not None:
            return stored
        active = [
            d.device_id for d in self.list_for_user(tenant_id, user_id, None, 10**6).items if d.is_active
        ]
        return DeviceSlots.first(tenant_id, user_id, active)

    def save_slots(self, slots: DeviceSlots) -> DeviceSlots:
        stored = self.slot_rows.get((slots.tenant_id, slots.user_id))
        if (stored.revision if stored else 0) != slots.revision:
            raise DeviceSlotsChanged("changed")
        self.slot_rows[(slots.tenant_id, slots.user_id)] = replace(slots, revision=slots.revision + 1)
        return self.slot_rows[(slots.tenant_id, slots.user_id)]


class FakeBundleRepository(_Rows):
    def __init__(self) -> None:
        super().__init__("bundle_id")

    def list(self, tenant_id: str, cursor: str | None, limit: int) -> BundlePage:
        return BundlePage([b for (t, _), b in self.rows.items() if t == tenant_id][:limit], None)

    def list_for_user(self, tenant_id: str, user_id: str, cursor: str | None, limit: int) -> BundlePage:
        mine = [b for (t, _), b in self.rows.items() if t == tenant_id and b.user_id == user_id]
        return BundlePage(mine[:limit], None)


class FakeLicenceRecords:
    def __init__(self) -> None:
        self.records: dict[tuple[str, str, str], IssuedLicence] = {}
        self.device_revisions: dict[tuple[str, str], int] = {}

    def latest(self, tenant_id: str, bundle_id: str, device_id: str) -> IssuedLicence | None:
        return self.records.get((tenant_id, bundle_id, device_id))

    def latest_expiry(self, tenant_id: str, device_id: str) -> datetime | None:
        expiries = [r.expires_at for (t, _, d), r in self.records.items() if (t, d) == (tenant_id, device_id)]
        return max(expiries, default=None)

    def put(self, licence: IssuedLicence, device_revision: int) -> None:
        # The device-revision condition is DynamoDB's; tests/integration/adapters proves it there.
        self.device_revisions[(licence.tenant_id, licence.device_id)] = device_revision
        self.records[(licence.tenant_id, licence.bundle_id, licence.device_id)] = licence


class FakeTamperReports:
    def __init__(self) -> None:
        self.reports: list[TamperReportRecord] = []

    def add(self, report: TamperReportRecord) -> None:
        self.reports.append(report)


class FakeUrlSigner:
    def signed_url(self, key: str, expires_at: datetime) -> str:
        return f"https://cdn.example/{key}?Expires={int(expires_at.timestamp())}&Signature=fake"

    def signed_prefix_url(self, path: str, prefix: str, expires_at: datetime) -> str:
        return f"https://cdn.example/{path}?Policy=prefix:{prefix}&Signature=fake"


class FakeExportRepository(_Rows):
    def __init__(self) -> None:
        super().__init__("export_id")

    def pending_since_before(self, cutoff: datetime, limit: int) -> list[ExportJob]:
        pending = [job for job in self.rows.values() if job.state is ExportState.PENDING]
        return sorted((job for job in pending if job.updated_at < cutoff), key=lambda job: job.updated_at)[
            :limit
        ]


class FakeExportStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put_export(self, tenant_id: str, export_id: str, filename: str, path: Path) -> str:
        key = f"tenants/{tenant_id}/exports/{export_id}/{filename}"
        self.objects[key] = path.read_bytes()
        return key

    def presign_get(self, key: str, ttl_seconds: int) -> str:
        return f"https://exports.example/{key}?ttl={ttl_seconds}"


class FakeExportQueue:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, tenant_id: str, export_id: str) -> None:
        self.sent.append((tenant_id, export_id))


class FakeTenantSettings:
    """Tenant settings in memory, with DynamoTenantSettings' revision check."""

    def __init__(self) -> None:
        self.items: dict[str, TenantSettings] = {}

    def get(self, tenant_id: str) -> TenantSettings | None:
        return self.items.get(tenant_id)

    def save(self, settings: TenantSettings) -> TenantSettings:
        stored = self.items.get(settings.tenant_id)
        if (stored.revision if stored else 0) != settings.revision:
            raise ConcurrencyConflict(f"the settings of tenant {settings.tenant_id} changed concurrently")
        saved = replace(settings, revision=settings.revision + 1)
        self.items[settings.tenant_id] = saved
        return saved


class FakeBrandingAssets:
    """The branding assets in memory, keyed as S3BrandingAssets keys them (tenant, SHA-256)."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.puts = 0

    def put_logo(self, tenant_id: str, logo: BrandLogo, data: bytes) -> str:
        self.puts += 1
        self.objects[tenant_id, logo.sha256] = data
        return f"tenants/{tenant_id}/branding/logo/{logo.sha256}"

    def get_logo(self, tenant_id: str, logo: BrandLogo) -> bytes:
        try:
            return self.objects[tenant_id, logo.sha256][: logo.size + 1]
        except KeyError:
            raise NotFound("the tenant's logo is not stored") from None
