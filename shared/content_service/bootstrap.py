"""The composition root: the one place that wires adapters to the use cases' ports."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cached_property, lru_cache
from typing import Any

import boto3

from content_service.adapters.dynamodb import DynamoPackageRepository
from content_service.adapters.entities import (
    DynamoBundleRepository,
    DynamoDeviceRepository,
    DynamoLicenceRecords,
    DynamoTamperReports,
)
from content_service.adapters.s3 import S3BundleStore, S3PackageStore, S3UploadStore, s3_client
from content_service.crypto.cdn import CdnSigner
from content_service.crypto.keys import ContentKeys
from content_service.crypto.signing import KeyRing, KmsSigner
from content_service.service.ports import (
    BundleRepository,
    BundleStore,
    Clock,
    ContentKeyService,
    DeviceRepository,
    LicenceRecords,
    PackageRepository,
    PackageStore,
    TamperReports,
    UploadStore,
    UrlSigner,
)
from content_service.settings import Settings, get_settings


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class Dependencies:
    """The adapters, built from settings on first use (a Lambda container builds each once)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clock: Clock = SystemClock()

    @cached_property
    def _s3(self) -> Any:
        return s3_client(self.settings.aws_region)

    @cached_property
    def _kms(self) -> Any:
        return boto3.client("kms", region_name=self.settings.aws_region)

    @cached_property
    def packages(self) -> PackageRepository:
        return DynamoPackageRepository(self.settings.table_name, self.settings.aws_region)

    @cached_property
    def devices(self) -> DeviceRepository:
        return DynamoDeviceRepository(self.settings.table_name, self.settings.aws_region)

    @cached_property
    def bundles(self) -> BundleRepository:
        return DynamoBundleRepository(self.settings.table_name, self.settings.aws_region)

    @cached_property
    def licences(self) -> LicenceRecords:
        return DynamoLicenceRecords(self.settings.table_name, self.settings.aws_region)

    @cached_property
    def tamper_reports(self) -> TamperReports:
        return DynamoTamperReports(self.settings.table_name, self.settings.aws_region)

    @cached_property
    def uploads(self) -> UploadStore:
        return S3UploadStore(self._s3, self.settings.uploads_bucket)

    @cached_property
    def store(self) -> PackageStore:
        return S3PackageStore(self._s3, self.settings.packages_bucket)

    @cached_property
    def bundle_store(self) -> BundleStore:
        return S3BundleStore(self._s3, self.settings.bundles_bucket)

    @cached_property
    def content_keys(self) -> ContentKeyService:
        return ContentKeys(self._kms, self.settings.content_key_id)

    @cached_property
    def key_ring(self) -> KeyRing:
        digest = self.settings.signing_digest_large_messages
        return KeyRing(
            [KmsSigner(self._kms, key_id, digest_large_messages=digest) for key_id in self.settings.signing_keys]
        )

    @property
    def signer(self) -> KeyRing:
        return self.key_ring

    @cached_property
    def url_signer(self) -> UrlSigner:
        secrets = boto3.client("secretsmanager", region_name=self.settings.aws_region)
        return CdnSigner.from_secret(secrets, self.settings.cdn_key_secret_arn, self.settings.cdn_url)


def bootstrap(settings: Settings | None = None) -> Dependencies:
    """Build the dependencies from settings (adapters are made lazily, on first use)."""
    return Dependencies(settings or get_settings())


@lru_cache(maxsize=1)
def dependencies() -> Dependencies:
    """The process's dependencies, built once per Lambda container."""
    return bootstrap()
