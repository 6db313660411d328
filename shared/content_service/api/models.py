"""Request and response bodies of the API (pydantic), and the mapping from aggregates."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from content_service.domain.bundle import Bundle
from content_service.domain.device import Device
from content_service.domain.package import PackageManifest, PlayPackage
from content_service.domain.tamper import TamperEvidence


class CreateUpload(BaseModel):
    """Ask for a presigned PUT URL for a package zip."""

    model_config = ConfigDict(extra="forbid")

    content_type: Literal["application/zip", "application/x-zip-compressed"] = Field(
        description="the Content-Type the PUT must send"
    )
    content_length: int = Field(gt=0, description="the exact byte length the PUT must send")
    package_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$",
        description="upload a new version of this package instead of a new package",
    )


class ProblemDetail(BaseModel):
    code: str
    detail: str
    path: str | None = None


class PackageView(BaseModel):
    """A package version as the API shows it."""

    package_id: str
    version: int
    state: Literal["building", "built", "failed", "revoked"]
    created_at: datetime
    updated_at: datetime
    standard: str | None = None
    title: str | None = None
    language: str | None = None
    files: int | None = None
    bytes: int | None = None
    launches: int | None = None
    content_hash: str | None = None
    problem: ProblemDetail | None = None

    @classmethod
    def of(cls, package: PlayPackage) -> PackageView:
        summary = package.summary
        return cls(
            package_id=package.package_id,
            version=package.version,
            state=package.state.value,  # type: ignore[arg-type]
            created_at=package.created_at,
            updated_at=package.updated_at,
            standard=summary.standard.value if summary else None,
            title=summary.title if summary else None,
            language=summary.language if summary else None,
            files=summary.file_count if summary else None,
            bytes=summary.total_bytes if summary else None,
            launches=summary.launch_count if summary else None,
            content_hash=summary.content_hash if summary else None,
            problem=ProblemDetail(**package.problem.as_dict()) if package.problem else None,
        )


class UploadInstructions(BaseModel):
    url: str
    method: Literal["PUT"]
    headers: dict[str, str]
    expires_at: datetime


class UploadCreated(BaseModel):
    package: PackageView
    upload: UploadInstructions


class PackagePage(BaseModel):
    items: list[PackageView]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last page")


class ManifestView(BaseModel):
    """A built package's full manifest."""

    package_id: str
    version: int
    manifest: dict[str, Any]

    @classmethod
    def of(cls, package_id: str, version: int, manifest: PackageManifest) -> ManifestView:
        return cls(package_id=package_id, version=version, manifest=manifest.as_dict())


class EnrollDevice(BaseModel):
    """Enroll a device of the caller with its X25519 public key (a JWK, RFC 8037)."""

    model_config = ConfigDict(extra="forbid")

    public_key: dict[str, str] = Field(description='{"kty": "OKP", "crv": "X25519", "x": "<base64url>"}')
    name: str = Field(default="device", max_length=100)


class DeviceView(BaseModel):
    device_id: str
    user_id: str
    name: str
    state: Literal["active", "revoked"]
    public_key: dict[str, str]
    created_at: datetime

    @classmethod
    def of(cls, device: Device) -> DeviceView:
        return cls(
            device_id=device.device_id,
            user_id=device.user_id,
            name=device.name,
            state=device.state.value,  # type: ignore[arg-type]
            public_key=device.public_key,
            created_at=device.created_at,
        )


class EnrolledDeviceView(DeviceView):
    """The enrolment reply: the device, and every regional API endpoint of its zone (this one first)."""

    api_endpoints: list[str]


class DevicePageView(BaseModel):
    items: list[DeviceView]
    next_cursor: str | None


class RevokeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class BundlePackageRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    package_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
    version: int | None = Field(default=None, ge=1)


class CreateBundle(BaseModel):
    """Pack built package versions for offline use by one user's devices."""

    model_config = ConfigDict(extra="forbid")

    packages: list[BundlePackageRequest] = Field(min_length=1, max_length=100)
    user_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="the learner the bundle is for (default: the caller)",
    )
    residency_zone: str | None = Field(
        default=None, pattern=r"^[a-z]{2,8}$", description="must be the tenant's zone if given (default: it)"
    )


class ContainerView(BaseModel):
    key: str
    size: int
    sha256: str


class BundlePackageView(BaseModel):
    package_id: str
    version: int
    content_hash: str
    container: ContainerView


class BundleView(BaseModel):
    bundle_id: str
    user_id: str
    state: Literal["building", "built", "revoked"]
    residency_zone: str
    packages: list[BundlePackageView]
    manifest_key: str | None
    created_at: datetime

    @classmethod
    def of(cls, bundle: Bundle) -> BundleView:
        return cls(
            bundle_id=bundle.bundle_id,
            user_id=bundle.user_id,
            state=bundle.state.value,  # type: ignore[arg-type]
            residency_zone=bundle.residency_zone,
            packages=[BundlePackageView(**p.as_dict()) for p in bundle.packages],
            manifest_key=bundle.manifest_key,
            created_at=bundle.created_at,
        )


class BundlePageView(BaseModel):
    items: list[BundleView]
    next_cursor: str | None


class IssueLicence(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: str = Field(pattern=r"^dev_[0-9a-f]{32}$")


class LicenceView(BaseModel):
    license: str = Field(description="the licence, a compact JWS (docs/offline-bundles.md)")
    license_id: str
    expires_at: datetime


class DownloadContainer(BaseModel):
    package_id: str
    version: int
    url: str
    size: int
    sha256: str


class DownloadView(BaseModel):
    manifest_url: str
    containers: list[DownloadContainer]
    expires_at: datetime


SHA256_HEX = r"^[0-9a-f]{64}$"


class TamperEvidenceBody(BaseModel):
    """Which object the device checked, the SHA-256 the signed manifest promised, and what it found."""

    model_config = ConfigDict(extra="forbid")

    object: Literal["manifest", "container"]
    package_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
    version: int | None = Field(default=None, ge=1)
    expected_sha256: str = Field(pattern=SHA256_HEX)
    found_sha256: str = Field(pattern=SHA256_HEX)

    def as_evidence(self) -> TamperEvidence:
        return TamperEvidence(
            self.object, self.expected_sha256, self.found_sha256, self.package_id, self.version
        )


class TamperReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bundle_id: str = Field(pattern=r"^bnd_[0-9a-f]{32}$")
    kind: Literal["manifest", "container", "license"]
    detail: str = Field(default="", max_length=1000)
    evidence: TamperEvidenceBody | None = Field(
        default=None,
        description="without evidence that contradicts what the service stored, a report is recorded "
        "and alarmed but revokes nothing",
    )


class TamperReportAccepted(BaseModel):
    report_id: str
