"""Settings: one pydantic model parsed once from the environment; nothing else reads os.environ."""

from __future__ import annotations

import json
from datetime import timedelta
from functools import lru_cache
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from content_service.adapters.background_uploads import DEFAULT_THREADS as DEFAULT_UPLOAD_THREADS
from content_service.adapters.background_uploads import MAX_THREADS as MAX_UPLOAD_THREADS
from content_service.domain.bundle import TamperPolicy
from content_service.domain.licence import LicenceTerms
from content_service.domain.logo import DEFAULT_LOGO_MAX_BYTES, LOGO_HARD_MAX_BYTES
from content_service.domain.zones import DEFAULT_ZONES, Zones
from content_service.packaging.limits import ImportLimits


class MigrationTarget(BaseModel):
    """Where another zone keeps tenants: its primary region's table and buckets, its API endpoints."""

    model_config = ConfigDict(extra="forbid")

    region: str
    table_name: str
    buckets: dict[Literal["bundles", "packages", "exports"], str]
    api_endpoints: list[str] = Field(min_length=1)


class Settings(BaseSettings):
    """Everything the functions and the CLI are configured with.

    Field names map to upper-case environment variables (``TABLE_NAME``...); the import
    limits read ``IMPORT_LIMITS__MAX_FILES`` and friends.
    """

    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore")

    table_name: str = "content-service-table"
    idempotency_table_name: str = "content-service-idempotency"
    uploads_bucket: str = "content-service-uploads"
    packages_bucket: str = "content-service-packages"
    aws_region: str = Field(default="eu-west-1", validation_alias="AWS_DEFAULT_REGION")
    upload_url_ttl_seconds: int = Field(default=900, ge=60, le=7 * 24 * 3600)
    upload_endpoint_url: str = Field(
        default="",
        description=(
            "where presigned upload URLs point instead of the S3 endpoint: the local S3 front, which"
            " enforces them as S3 does; empty on AWS"
        ),
    )
    content_format_version: int = Field(
        default=1,
        ge=1,
        le=2,
        description=(
            "the container format new package versions are sealed in (docs/container-format.md): 1, one"
            " container per version; 2, content-addressed file objects and an index, so devices download"
            " only the files a new version changed. Both are always readable"
        ),
    )
    build_timeout_seconds: int = Field(
        default=18_000,
        ge=60,
        description=(
            "a package still building this long after its last change was abandoned; longer than every"
            " SQS attempt of its build (maxReceiveCount x VisibilityTimeout)"
        ),
    )
    build_max_attempts: int = Field(
        default=3,
        ge=1,
        description="the build queue's maxReceiveCount: the last attempt fails the package on a crash",
    )
    blob_upload_threads: int = Field(
        default=DEFAULT_UPLOAD_THREADS,
        ge=1,
        le=MAX_UPLOAD_THREADS,
        description=(
            "files of one build uploaded to the packages bucket at the same time (and in container"
            " format 2 as many file objects to the bundles bucket besides)"
        ),
    )
    export_timeout_seconds: int = Field(
        default=18_000,
        ge=60,
        description=(
            "an export still pending this long after its last change was abandoned; longer than every"
            " SQS attempt of its run (the export queue's maxReceiveCount x VisibilityTimeout)"
        ),
    )
    export_max_attempts: int = Field(
        default=3,
        ge=1,
        description="the export queue's maxReceiveCount: the last attempt fails the job on a crash",
    )
    assistant_job_timeout_seconds: int = Field(
        default=6_000,
        ge=60,
        description=(
            "an assistant generation still pending this long after its last change was abandoned; longer"
            " than every SQS attempt of its run (the assistant queue's maxReceiveCount x VisibilityTimeout)"
        ),
    )
    assistant_job_max_attempts: int = Field(
        default=3,
        ge=1,
        description="the assistant queue's maxReceiveCount: the last attempt fails the job on a crash",
    )
    page_size_default: int = Field(default=25, ge=1, le=100)
    import_limits: ImportLimits = Field(default_factory=ImportLimits)

    bundles_bucket: str = "content-service-bundles"
    content_key_id: str = Field(
        default="alias/content-service-content", description="KMS key for content data keys"
    )
    signing_key_ids: str = Field(
        default="alias/content-service-signing",
        description="comma-separated KMS keys; the first signs, all are published in the JWKS",
    )
    retired_signing_key_ids: str = Field(
        default="",
        description=(
            "comma-separated KMS keys retired from signing and verifying; they still sign the JWKS"
            " document so devices move to the current keys and drop these"
        ),
    )
    signing_digest_large_messages: bool = Field(
        default=True,
        description=(
            "sign tokens over KMS's 4096-byte RAW limit as a SHA-256 digest (AWS); the local stack turns"
            " it off because moto's DIGEST signing is wrong"
        ),
    )
    cdn_key_secret_arn: str = Field(
        default="", description="Secrets Manager secret: key_pair_id + private_key_pem"
    )
    cursor_key_secret_arn: str = Field(
        default="",
        description="Secrets Manager secret that seals list cursors; empty: a random key per process",
    )
    cdn_domain: str = ""
    cdn_base_url: str = Field(default="", description="overrides https://{cdn_domain} (the local edge)")
    residency_zone: str = Field(default="eu", description="the zone this deployment serves")
    residency_zones: str = Field(
        default=DEFAULT_ZONES,
        description="zone=region[,region...] separated by ';', primary region first",
    )
    api_url: str = Field(
        default="", description="this region's API base URL; default https://{domainName}/{stage} of the request"
    )
    peer_api_url: str = Field(default="", description="the peer region's API base URL (PEER_API_URL)")
    device_cap: int = Field(default=5, ge=1, le=100, description="active devices per user")
    branding_logo_max_bytes: int = Field(
        default=DEFAULT_LOGO_MAX_BYTES,
        ge=1024,
        le=LOGO_HARD_MAX_BYTES,
        description="the largest brand logo an admin may upload (BRANDING_LOGO_MAX_BYTES)",
    )
    licence_validity_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    offline_grace_seconds: int = Field(default=7 * 24 * 3600, ge=0)
    status_interval_seconds: int = Field(default=12 * 3600, ge=60)
    download_url_ttl_seconds: int = Field(default=300, ge=10, le=3600)
    exports_bucket: str = "content-service-exports"
    export_queue_url: str = ""
    assistant_queue_url: str = ""
    export_url_ttl_seconds: int = Field(default=900, ge=60, le=7 * 24 * 3600)
    withdrawal_queue_url: str = Field(default="", description="SQS queue of package-withdrawal chunks")
    withdrawal_chunk_size: int = Field(
        default=25, ge=1, le=500, description="holding bundles per withdrawal chunk (one SQS message)"
    )
    withdrawal_threads: int = Field(
        default=8, ge=1, le=64, description="bundles of one withdrawal chunk revoked at the same time"
    )
    migration_queue_url: str = Field(default="", description="SQS queue that runs residency migrations")
    migration_grace_seconds: int = Field(
        default=7 * 24 * 3600,
        ge=0,
        description=(
            "how long a migrated tenant's copies stay in the old zone after the switch (devices finish"
            " what they started there); longer than a licence's offline grace is not needed"
        ),
    )
    migration_batch_size: int = Field(
        default=100, ge=1, le=1000, description="objects or items one saved batch of a migration moves"
    )
    migration_targets: str = Field(
        default="",
        description=(
            'JSON: zone -> {"region", "table_name", "buckets": {"bundles", "packages", "exports"},'
            ' "api_endpoints": [...]}, the other zones a tenant may migrate to (their primary region)'
        ),
    )
    migration_peer_buckets: str = Field(
        default="",
        description=(
            "region=bucket,... : this zone's other regions' bundles buckets; a migration's clean-up"
            " deletes there too (S3 replication does not carry deletes)"
        ),
    )
    event_bus_name: str = Field(default="content-service-events", description="EventBridge bus for events")
    inbox_ttl_seconds: int = Field(
        default=7 * 24 * 3600,
        ge=24 * 3600,
        description="how long a consumer remembers an event id; longer than the stream's 24 h retention",
    )
    tamper_auto_revoke: bool = Field(
        default=True, description="a tamper event revokes the bundle, by default"
    )
    tamper_auto_revoke_overrides: str = Field(
        default="",
        description="per-tenant policy, comma-separated tenant=on|off (for example 'acme=off,beta=on')",
    )
    assistant_generator: Literal["local", "bedrock"] = Field(
        default="local",
        description="who writes assistant configs: the local extractive generator, or Amazon Bedrock",
    )
    assistant_model_id: str = Field(
        default="anthropic.claude-3-haiku-20240307-v1:0",
        description="the Bedrock model (or inference profile) id of the Converse calls",
    )
    assistant_max_input_tokens: int = Field(default=24_000, ge=500, le=1_000_000)
    assistant_max_output_tokens: int = Field(default=2_048, ge=256, le=32_000)
    assistant_max_attempts: int = Field(default=3, ge=1, le=10, description="botocore's total attempts")
    assistant_timeout_seconds: float = Field(
        default=25, gt=0, le=120, description="read timeout of one Bedrock call (the API answers within 29 s)"
    )
    local_metrics_file: str = Field(
        default="", description="the local stack: also append every figure here (content-service local metrics)"
    )
    metrics_namespace: str = Field(
        default="ContentService",
        validation_alias=AliasChoices("POWERTOOLS_METRICS_NAMESPACE", "METRICS_NAMESPACE"),
        description="CloudWatch namespace of EMF metrics",
    )
    service_name: str = Field(
        default="content-service",
        validation_alias="POWERTOOLS_SERVICE_NAME",
        description="the service dimension of every metric (and the service field of log lines)",
    )

    @property
    def signing_keys(self) -> list[str]:
        return [key.strip() for key in self.signing_key_ids.split(",") if key.strip()]

    @property
    def retired_signing_keys(self) -> list[str]:
        return [key.strip() for key in self.retired_signing_key_ids.split(",") if key.strip()]

    @property
    def cdn_url(self) -> str:
        return self.cdn_base_url.rstrip("/") or f"https://{self.cdn_domain}"

    @property
    def migration_target_map(self) -> dict[str, MigrationTarget]:
        """The zones a tenant may migrate to, parsed from ``MIGRATION_TARGETS`` (a ValueError if malformed)."""
        if not self.migration_targets.strip():
            return {}
        raw = json.loads(self.migration_targets)
        if not isinstance(raw, dict):
            raise ValueError("MIGRATION_TARGETS is not a JSON object of zones")
        return {str(zone): MigrationTarget.model_validate(value) for zone, value in raw.items()}

    @property
    def migration_peers(self) -> list[tuple[str, str]]:
        """(region, bundles bucket) of this zone's other regions."""
        peers = []
        for entry in filter(None, (part.strip() for part in self.migration_peer_buckets.split(","))):
            region, _, bucket = entry.partition("=")
            if not region.strip() or not bucket.strip():
                raise ValueError(f"MIGRATION_PEER_BUCKETS: {entry!r} is not region=bucket")
            peers.append((region.strip(), bucket.strip()))
        return peers

    @property
    def zones(self) -> Zones:
        return Zones.parse(self.residency_zones)

    @property
    def tamper_policy(self) -> TamperPolicy:
        overrides = []
        for item in filter(None, (part.strip() for part in self.tamper_auto_revoke_overrides.split(","))):
            tenant, _, value = item.partition("=")
            if not tenant.strip() or value.strip() not in ("on", "off"):
                raise ValueError(f"TAMPER_AUTO_REVOKE_OVERRIDES: {item!r} is not tenant=on|off")
            overrides.append((tenant.strip(), value.strip() == "on"))
        return TamperPolicy(self.tamper_auto_revoke, tuple(overrides))

    @property
    def licence_terms(self) -> LicenceTerms:
        return LicenceTerms(
            validity=timedelta(seconds=self.licence_validity_seconds),
            offline_grace=timedelta(seconds=self.offline_grace_seconds),
            status_interval=timedelta(seconds=self.status_interval_seconds),
        )

    @property
    def download_url_ttl(self) -> timedelta:
        return timedelta(seconds=self.download_url_ttl_seconds)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, parsed once."""
    return Settings()
