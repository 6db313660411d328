"""The composition root: the one place that wires adapters to the use cases' ports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from content_service.adapters.dynamodb import DynamoPackageRepository
from content_service.adapters.s3 import S3PackageStore, S3UploadStore, s3_client
from content_service.service.ports import Clock, PackageRepository, PackageStore, UploadStore
from content_service.settings import Settings, get_settings


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class Dependencies:
    settings: Settings
    packages: PackageRepository
    uploads: UploadStore
    store: PackageStore
    clock: Clock


def bootstrap(settings: Settings | None = None) -> Dependencies:
    """Build the adapters from settings."""
    settings = settings or get_settings()
    s3 = s3_client(settings.aws_region)
    return Dependencies(
        settings=settings,
        packages=DynamoPackageRepository(settings.table_name, settings.aws_region),
        uploads=S3UploadStore(s3, settings.uploads_bucket),
        store=S3PackageStore(s3, settings.packages_bucket),
        clock=SystemClock(),
    )


@lru_cache(maxsize=1)
def dependencies() -> Dependencies:
    """The process's dependencies, built once per Lambda container."""
    return bootstrap()
