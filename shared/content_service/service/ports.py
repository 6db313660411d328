"""Ports: the small abstractions the use cases need from the outside world.

Adapters implement them against AWS (``content_service.adapters``); tests use fakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from content_service.domain.package import PackageManifest, PlayPackage
from content_service.packaging.inspect import BlobStore


@dataclass(frozen=True)
class Page:
    """One page of a list and the opaque cursor of the next (None on the last page)."""

    items: list[PlayPackage]
    next_cursor: str | None


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


class UploadStore(Protocol):
    """The bucket authors upload source zips to."""

    def presign_put(
        self, key: str, content_type: str, content_length: int, ttl_seconds: int
    ) -> PresignedUpload:
        """A URL that accepts exactly one PUT of this content type and byte length."""
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
