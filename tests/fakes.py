"""In-memory fakes of the service ports (fakes over mocks: they behave like the real thing)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from content_service.domain.errors import ConcurrencyConflict, NotFound, ValidationFailed
from content_service.domain.package import PackageManifest, PackageState, PlayPackage
from content_service.service.ports import Page, PresignedUpload


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

    def put(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

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

    def get_manifest(self, tenant_id: str, package_id: str, version: int) -> PackageManifest:
        try:
            return self.manifests[(tenant_id, package_id, version)]
        except KeyError:
            raise NotFound("no manifest") from None
