"""The composition root: the one place that wires adapters to the use cases' ports."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import boto3
from cryptography.fernet import Fernet

from content_service.adapters.ai.bedrock import BedrockAIClient, BedrockSettings, bedrock_client_config
from content_service.adapters.ai.local import LocalExtractiveGenerator
from content_service.adapters.assistant_configs import (
    DynamoAssistantGenerationRepository,
    DynamoAssistantRepository,
)
from content_service.adapters.bundle_objects import DynamoStorageTamperLog, S3ObjectDigests
from content_service.adapters.cursors import FernetCursorSeal, fernet_for
from content_service.adapters.dynamodb import DynamoPackageRepository
from content_service.adapters.entities import (
    DynamoBundleRepository,
    DynamoDeviceRepository,
    DynamoExportRepository,
    DynamoLicenceRecords,
    DynamoTamperReports,
    DynamoTenantSettings,
)
from content_service.adapters.eventbus import EventBridgeBus
from content_service.adapters.feed import DynamoSyncStore
from content_service.adapters.inbox import DynamoInbox
from content_service.adapters.metrics import EmfMetrics, instrument_kms
from content_service.adapters.migrations import (
    DynamoMigrationRepository,
    DynamoZoneItems,
    S3ZoneObjects,
    SqsMigrationQueue,
)
from content_service.adapters.s3 import (
    S3BrandingAssets,
    S3BundleStore,
    S3ExportStore,
    S3PackageStore,
    S3UploadStore,
    s3_client,
)
from content_service.adapters.sqs import SqsAssistantQueue, SqsExportQueue, SqsWithdrawalQueue
from content_service.adapters.withdrawals import DynamoHolderIndex, DynamoWithdrawalLog
from content_service.crypto.cdn import CdnSigner
from content_service.crypto.keys import ContentKeys
from content_service.crypto.signing import KeyRing, KmsSigner
from content_service.domain.assistant_ai import AIClient
from content_service.domain.errors import ValidationFailed
from content_service.service.assistant import AssistantGenerationRepository, AssistantRepository
from content_service.service.fan_out import FanOut
from content_service.service.migration import MigrationQueue, MigrationRepository, Migrations, ZoneData
from content_service.service.outbox_ports import EventBus, Inbox, Metrics, SyncStore
from content_service.service.ports import (
    AssistantQueue,
    BrandingAssets,
    BundleRepository,
    BundleStore,
    Clock,
    ContentKeyService,
    DeviceRepository,
    ExportQueue,
    ExportRepository,
    ExportStore,
    LicenceRecords,
    PackageRepository,
    PackageStore,
    TamperReports,
    TenantSettingsRepository,
    UploadStore,
    UrlSigner,
)
from content_service.service.storage_watch import ObjectDigests, StorageTamperLog
from content_service.service.withdrawal import WithdrawalLog, Withdrawals
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
        return instrument_kms(boto3.client("kms", region_name=self.settings.aws_region), self.metrics)

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
    def tenant_settings(self) -> TenantSettingsRepository:
        return DynamoTenantSettings(self.settings.table_name, self.settings.aws_region)

    @cached_property
    def tamper_reports(self) -> TamperReports:
        return DynamoTamperReports(self.settings.table_name, self.settings.aws_region)

    @cached_property
    def uploads(self) -> UploadStore:
        presigner = None
        if self.settings.upload_endpoint_url:
            presigner = s3_client(self.settings.aws_region, endpoint_url=self.settings.upload_endpoint_url)
        return S3UploadStore(self._s3, self.settings.uploads_bucket, presigner=presigner)

    @cached_property
    def store(self) -> PackageStore:
        return S3PackageStore(
            self._s3, self.settings.packages_bucket, upload_threads=self.settings.blob_upload_threads
        )

    @cached_property
    def bundle_store(self) -> BundleStore:
        return S3BundleStore(
            self._s3, self.settings.bundles_bucket, upload_threads=self.settings.blob_upload_threads
        )

    @cached_property
    def branding_assets(self) -> BrandingAssets:
        return S3BrandingAssets(self._s3, self.settings.bundles_bucket)

    @cached_property
    def content_keys(self) -> ContentKeyService:
        return ContentKeys(self._kms, self.settings.content_key_id)

    @cached_property
    def key_ring(self) -> KeyRing:
        digest = self.settings.signing_digest_large_messages
        return KeyRing(
            [
                KmsSigner(self._kms, key_id, digest_large_messages=digest)
                for key_id in self.settings.signing_keys
            ],
            retired=[
                KmsSigner(self._kms, key_id, digest_large_messages=digest)
                for key_id in self.settings.retired_signing_keys
            ],
        )

    @property
    def signer(self) -> KeyRing:
        return self.key_ring

    @cached_property
    def url_signer(self) -> UrlSigner:
        secrets = boto3.client("secretsmanager", region_name=self.settings.aws_region)
        return CdnSigner.from_secret(secrets, self.settings.cdn_key_secret_arn, self.settings.cdn_url)

    @cached_property
    def cursor_secret(self) -> str:
        """The secret list cursors are sealed with ("" when none is configured)."""
        if not self.settings.cursor_key_secret_arn:
            return ""
        secrets = boto3.client("secretsmanager", region_name=self.settings.aws_region)
        return str(secrets.get_secret_value(SecretId=self.settings.cursor_key_secret_arn)["SecretString"])

    @cached_property
    def cursor_fernet(self) -> Fernet:
        """What seals list cursors: the configured secret's, or a random one for this process."""
        return fernet_for(self.cursor_secret or secrets.token_urlsafe(32))

    @cached_property
    def cursor_seal(self) -> FernetCursorSeal:
        """What seals the device sync feed's cursors (the same key as the list cursors')."""
        return FernetCursorSeal(self.cursor_fernet)

    @cached_property
    def _dynamodb(self) -> Any:
        return boto3.client("dynamodb", region_name=self.settings.aws_region)

    @cached_property
    def event_bus(self) -> EventBus:
        return EventBridgeBus(
            boto3.client("events", region_name=self.settings.aws_region), self.settings.event_bus_name
        )

    @cached_property
    def inbox(self) -> Inbox:
        return DynamoInbox(self._dynamodb, self.settings.table_name, self.settings.inbox_ttl_seconds)

    @cached_property
    def sync_store(self) -> SyncStore:
        return DynamoSyncStore(self._dynamodb, self.settings.table_name)

    @cached_property
    def metrics(self) -> Metrics:
        local_log = Path(self.settings.local_metrics_file) if self.settings.local_metrics_file else None
        return EmfMetrics(self.settings.metrics_namespace, self.settings.service_name, local_log)

    @cached_property
    def fan_out(self) -> FanOut:
        return FanOut(
            bus=self.event_bus,
            inbox=self.inbox,
            store=self.sync_store,
            bundles=self.bundles,
            metrics=self.metrics,
            clock=self.clock,
            tamper_policy=self.settings.tamper_policy,
            tenant_settings=self.tenant_settings,
            withdrawals=self.withdrawals,
        )

    @cached_property
    def withdrawal_log(self) -> WithdrawalLog:
        return DynamoWithdrawalLog(self._dynamodb, self.settings.table_name)

    @cached_property
    def withdrawals(self) -> Withdrawals:
        return Withdrawals(
            holders=DynamoHolderIndex(self._dynamodb, self.settings.table_name),
            log=self.withdrawal_log,
            queue=SqsWithdrawalQueue(
                boto3.client("sqs", region_name=self.settings.aws_region), self.settings.withdrawal_queue_url
            ),
            bundles=self.bundles,
            store=self.sync_store,
            metrics=self.metrics,
            clock=self.clock,
            chunk_size=self.settings.withdrawal_chunk_size,
            threads=self.settings.withdrawal_threads,
        )

    @cached_property
    def migrations(self) -> MigrationRepository:
        return DynamoMigrationRepository(self._dynamodb, self.settings.table_name)

    @cached_property
    def migration_queue(self) -> MigrationQueue:
        return SqsMigrationQueue(
            boto3.client("sqs", region_name=self.settings.aws_region), self.settings.migration_queue_url
        )

    @cached_property
    def migration_worker(self) -> Migrations:
        settings = self.settings
        peers = {"bundles": [(s3_client(region), bucket) for region, bucket in settings.migration_peers]}
        endpoints = tuple(url for url in (settings.api_url, settings.peer_api_url) if url)
        source = ZoneData(
            settings.residency_zone,
            S3ZoneObjects(self._s3, self._bucket_roles, peers),
            DynamoZoneItems(self._dynamodb, settings.table_name),
            self.sync_store,
            endpoints,
        )
        return Migrations(
            migrations=self.migrations,
            settings=self.tenant_settings,
            source=source,
            targets=self._migration_target,
            metrics=self.metrics,
            clock=self.clock,
            batch_size=settings.migration_batch_size,
        )

    @property
    def _bucket_roles(self) -> dict[str, str]:
        s = self.settings
        return {"bundles": s.bundles_bucket, "packages": s.packages_bucket, "exports": s.exports_bucket}

    def zone_api_endpoints(self, zone: str) -> tuple[str, ...]:
        """Another zone's API endpoints, as ``MIGRATION_TARGETS`` names them (none if it does not)."""
        target = self.settings.migration_target_map.get(zone)
        return tuple(target.api_endpoints) if target is not None else ()

    def _migration_target(self, zone: str) -> ZoneData:
        target = self.settings.migration_target_map.get(zone)
        if target is None:
            raise ValidationFailed(f"zone {zone} is not configured as a migration target (MIGRATION_TARGETS)")
        dynamodb = boto3.client("dynamodb", region_name=target.region)
        return ZoneData(
            zone,
            S3ZoneObjects(s3_client(target.region), dict(target.buckets)),
            DynamoZoneItems(dynamodb, target.table_name),
            DynamoSyncStore(dynamodb, target.table_name),
            tuple(target.api_endpoints),
        )

    @cached_property
    def bundle_digests(self) -> ObjectDigests:
        return S3ObjectDigests(self._s3, self.settings.bundles_bucket)

    @cached_property
    def storage_tampers(self) -> StorageTamperLog:
        return DynamoStorageTamperLog(self.settings.table_name, self.settings.aws_region)

    @cached_property
    def exports(self) -> ExportRepository:
        return DynamoExportRepository(self.settings.table_name, self.settings.aws_region)

    @cached_property
    def export_store(self) -> ExportStore:
        return S3ExportStore(self._s3, self.settings.exports_bucket)

    @cached_property
    def export_queue(self) -> ExportQueue:
        return SqsExportQueue(
            boto3.client("sqs", region_name=self.settings.aws_region), self.settings.export_queue_url
        )

    @cached_property
    def assistants(self) -> AssistantRepository:
        return DynamoAssistantRepository(self.settings.table_name, self.settings.aws_region)

    @cached_property
    def assistant_generations(self) -> AssistantGenerationRepository:
        return DynamoAssistantGenerationRepository(self.settings.table_name, self.settings.aws_region)

    @cached_property
    def assistant_queue(self) -> AssistantQueue:
        return SqsAssistantQueue(
            boto3.client("sqs", region_name=self.settings.aws_region), self.settings.assistant_queue_url
        )

    @cached_property
    def ai(self) -> AIClient:
        if self.settings.assistant_generator == "local":
            return LocalExtractiveGenerator()
        bedrock = BedrockSettings(
            model_id=self.settings.assistant_model_id,
            max_input_tokens=self.settings.assistant_max_input_tokens,
            max_output_tokens=self.settings.assistant_max_output_tokens,
            max_attempts=self.settings.assistant_max_attempts,
            read_timeout_seconds=self.settings.assistant_timeout_seconds,
        )
        client = boto3.client(
            "bedrock-runtime", region_name=self.settings.aws_region, config=bedrock_client_config(bedrock)
        )
        return BedrockAIClient(client, bedrock)


def bootstrap(settings: Settings | None = None) -> Dependencies:
    """Build the dependencies from settings (adapters are made lazily, on first use)."""
    return Dependencies(settings or get_settings())


@lru_cache(maxsize=1)
def dependencies() -> Dependencies:
    """The process's dependencies, built once per Lambda container."""
    return bootstrap()
