"""Pydantic models of the published events, one class per versioned subject.

An event is an envelope (id, subject, version, tenant, time) around a subject-specific ``data``
body. The envelope ``id`` is derived from the outbox row (table key, revision, position), so a
redelivered stream record yields the same id and consumers can deduplicate on it. A breaking
change to a body is a new subject (``...v2``), never an edit of a published one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SOURCE = "content-service"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PackageRef(_Body):
    package_id: str
    version: int = Field(ge=1)


class PackageBuiltData(_Body):
    package_id: str
    version: int = Field(ge=1)
    content_hash: str = Field(description="SHA-256 over the package's sorted file list")
    standard: str


class PackageFailedData(_Body):
    package_id: str
    version: int = Field(ge=1)
    code: str = Field(description="a stable machine code of the problem")
    detail: str
    path: str | None = None


class BundleCreatedData(_Body):
    bundle_id: str
    user_id: str
    residency_zone: str
    packages: list[PackageRef]


class BundleRevokedData(_Body):
    bundle_id: str
    user_id: str
    reason: str


class BundleTamperedData(_Body):
    bundle_id: str
    source: Literal["device", "storage"] = Field(
        default="device",
        description="a device's tamper report, or a write to the bundles bucket the service did not make",
    )
    kind: str = Field(description="manifest | container | license for devices; the S3 event for storage")
    device_id: str | None = None
    report_id: str | None = None
    object_key: str | None = None
    corroborated: bool = Field(
        default=False,
        description="the evidence contradicts what the service stored (always so for storage); "
        "only a corroborated tamper event can revoke the bundle",
    )


class DeviceEnrolledData(_Body):
    device_id: str
    user_id: str


class DeviceRevokedData(_Body):
    device_id: str
    user_id: str
    reason: str


class LicenceIssuedData(_Body):
    licence_id: str
    bundle_id: str
    device_id: str
    expires_at: datetime


class AssistantConfigGeneratedData(_Body):
    config_id: str = Field(description="the revision, v{version}r{n}")
    package_id: str
    version: int = Field(ge=1)
    generator: str
    model_id: str
    prompt_template_id: str
    prompt_template_sha256: str
    input_sha256: str = Field(description="SHA-256 of the input digest: content hash and files read")
    content_hash: str
    output_sha256: str = Field(description="SHA-256 of the configuration's RFC 8785 canonical JSON")
    requested_by: str


class AssistantConfigApprovedData(_Body):
    config_id: str
    package_id: str
    version: int = Field(ge=1)
    output_sha256: str
    approved_by: str
    retired_config_id: str | None = Field(default=None, description="the revision this one replaces")


class Envelope(BaseModel):
    """What every published event shares; subclasses pin ``subject`` and type ``data``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="deterministic from the outbox row: redelivery gives the same id")
    subject: str
    version: int = Field(ge=1)
    source: Literal["content-service"] = SOURCE
    tenant_id: str
    occurred_at: datetime


class PackageBuiltV1(Envelope):
    subject: Literal["content.package.built.v1"] = "content.package.built.v1"
    version: Literal[1] = 1
    data: PackageBuiltData


class PackageFailedV1(Envelope):
    subject: Literal["content.package.failed.v1"] = "content.package.failed.v1"
    version: Literal[1] = 1
    data: PackageFailedData


class BundleCreatedV1(Envelope):
    subject: Literal["content.bundle.created.v1"] = "content.bundle.created.v1"
    version: Literal[1] = 1
    data: BundleCreatedData


class BundleRevokedV1(Envelope):
    subject: Literal["content.bundle.revoked.v1"] = "content.bundle.revoked.v1"
    version: Literal[1] = 1
    data: BundleRevokedData


class BundleTamperedV1(Envelope):
    subject: Literal["content.bundle.tampered.v1"] = "content.bundle.tampered.v1"
    version: Literal[1] = 1
    data: BundleTamperedData


class DeviceEnrolledV1(Envelope):
    subject: Literal["content.device.enrolled.v1"] = "content.device.enrolled.v1"
    version: Literal[1] = 1
    data: DeviceEnrolledData


class DeviceRevokedV1(Envelope):
    subject: Literal["content.device.revoked.v1"] = "content.device.revoked.v1"
    version: Literal[1] = 1
    data: DeviceRevokedData


class LicenceIssuedV1(Envelope):
    subject: Literal["content.licence.issued.v1"] = "content.licence.issued.v1"
    version: Literal[1] = 1
    data: LicenceIssuedData


class AssistantConfigGeneratedV1(Envelope):
    subject: Literal["content.assistant_config.generated.v1"] = "content.assistant_config.generated.v1"
    version: Literal[1] = 1
    data: AssistantConfigGeneratedData


class AssistantConfigApprovedV1(Envelope):
    subject: Literal["content.assistant_config.approved.v1"] = "content.assistant_config.approved.v1"
    version: Literal[1] = 1
    data: AssistantConfigApprovedData


IntegrationEvent = (
    PackageBuiltV1
    | PackageFailedV1
    | BundleCreatedV1
    | BundleRevokedV1
    | BundleTamperedV1
    | DeviceEnrolledV1
    | DeviceRevokedV1
    | LicenceIssuedV1
    | AssistantConfigGeneratedV1
    | AssistantConfigApprovedV1
)

#: Every published subject and its model; a domain event with another name stays internal.
EVENT_MODELS: dict[str, type[Envelope]] = {
    model.model_fields["subject"].default: model
    for model in (
        PackageBuiltV1,
        PackageFailedV1,
        BundleCreatedV1,
        BundleRevokedV1,
        BundleTamperedV1,
        DeviceEnrolledV1,
        DeviceRevokedV1,
        LicenceIssuedV1,
        AssistantConfigGeneratedV1,
        AssistantConfigApprovedV1,
    )
}
