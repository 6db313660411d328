"""Request and response bodies of the API (pydantic), and the mapping from aggregates."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict

from content_service.domain.bundle import Bundle
from content_service.domain.device import Device
from content_service.domain.identifiers import PACKAGE_ID, USER_ID
from content_service.domain.package import PackageManifest, PlayPackage
from content_service.domain.tamper import TamperEvidence
from content_service.domain.zones import DEFAULT_ZONES, Zones
from content_service.packaging.limits import ImportLimits

#: Request bodies take JSON as it is: no "100" for 100, no true for 1, no unknown members.
STRICT = ConfigDict(extra="forbid", strict=True)

#: Text a person names or explains something with: no C0/C1 controls (NUL, ESC...), no bidi
#: controls (RLO and friends, which make a name display as something else), no line separators.
#: Written with \u escapes so pydantic's regex engine, JSON Schema (ECMA-262) and Python's re
#: read it alike, and a client can check it before sending.
SAFE_TEXT = (
    r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$"
)


def _integral_number(value: Any) -> Any:
    # JSON has one number type: 175.0 is the integer 175 (as JSON Schema says), 175.5 is not.
    # Strings and booleans stay what they are, and strict validation refuses them.
    if type(value) is float and value.is_integer():
        return int(value)
    return value


#: An integer as JSON means it: 100 or 100.0, never "100" or true.
JsonInt = Annotated[int, Strict(), BeforeValidator(_integral_number)]
#: A package version number. The constraint sits inside the type and before the validator, or
#: pydantic leaves it out of the JSON schema of ``JsonVersion | None``.
JsonVersion = Annotated[int, Field(strict=True, ge=1), BeforeValidator(_integral_number)]

ZONE = r"^[a-z]{2,8}$"
#: Zones are configuration (RESIDENCY_ZONES): the document lists the default deployment's, and a
#: deployment refuses a zone it does not configure with a 422. The enum is only in the schema, so
#: a deployment with other zones still takes its own.
ZONE_SCHEMA = {"enum": list(Zones.parse(DEFAULT_ZONES).names)}
ZoneName = Annotated[str, Field(pattern=ZONE, json_schema_extra=ZONE_SCHEMA)]

#: The largest upload any configuration allows (the tenant's limit may be lower: then a 413).
MAX_UPLOAD_BYTES = ImportLimits.model_fields["max_upload_bytes"].default


class CreateUpload(BaseModel):
    """Ask for a presigned PUT URL for a package zip."""

    model_config = STRICT

    content_type: Literal["application/zip", "application/x-zip-compressed"] = Field(
        description="the Content-Type the PUT must send"
    )
    content_length: JsonInt = Field(
        gt=0, le=MAX_UPLOAD_BYTES, description="the exact byte length the PUT must send"
    )
    package_id: str | None = Field(
        default=None,
        pattern=PACKAGE_ID,
        description="upload a new version of this package instead of a new package",
    )


class ProblemDetail(BaseModel):
    code: str
    detail: str
    path: str | None = None


class ProblemError(BaseModel):
    """One entry of a problem's ``errors``: the shape of the 422 validation problem's entries."""

    loc: list[str] = Field(description="where: the parts of the path to the offending value")
    type: str = Field(description="a stable machine code for what is wrong")
    msg: str = Field(description="why, for a human")


class ProblemDocument(BaseModel):
    """RFC 9457 problem details kept on a resource (a failed job), without the HTTP ``status``."""

    type: str = Field(description="a URI naming the problem (docs/api.md lists them)")
    title: str
    detail: str
    errors: list[ProblemError] = Field(default_factory=list)


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


class X25519PublicJwk(BaseModel):
    """A device's public key as a JWK (RFC 8037): OKP, X25519, never a private part.

    ``x`` is the unpadded base64url of the 32-byte key, canonical (the two spare bits of the last
    character are zero) and with the top bit of the key clear (RFC 7748 u below 2^255), which the
    pattern states: enrolment refuses other encodings, and small-order keys, with a 422.
    """

    model_config = STRICT

    kty: Literal["OKP"]
    crv: Literal["X25519"]
    x: str = Field(pattern=r"^[A-Za-z0-9_-]{41}[A-HQ-Xg-nw-z0-3][AEIMQUYcgkosw048]$")
    kid: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")
    alg: Literal["ECDH-ES+A256KW"] | None = None
    use: Literal["enc"] | None = None

    def as_jwk(self) -> dict[str, str]:
        return self.model_dump(exclude_none=True)


class EnrollDevice(BaseModel):
    """Enroll a device of the caller with its X25519 public key (a JWK, RFC 8037)."""

    model_config = STRICT

    public_key: X25519PublicJwk
    name: str = Field(default="device", min_length=1, max_length=100, pattern=SAFE_TEXT)


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
    model_config = STRICT

    reason: str = Field(min_length=1, max_length=500, pattern=SAFE_TEXT)


class BundlePackageRequest(BaseModel):
    model_config = STRICT

    package_id: str = Field(pattern=PACKAGE_ID)
    version: JsonVersion | None = None


class CreateBundle(BaseModel):
    """Pack built package versions for offline use by one user's devices."""

    model_config = STRICT

    packages: list[BundlePackageRequest] = Field(min_length=1, max_length=100)
    user_id: str | None = Field(
        default=None,
        pattern=USER_ID,
        description="the learner the bundle is for (default: the calling person; a service must name one, or it is a 403)",
    )
    residency_zone: ZoneName | None = Field(
        default=None,
        description="must be the tenant's zone if given (default: it); another zone is a 409",
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
    model_config = STRICT

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
    objects_url: str | None = Field(
        default=None,
        description=(
            "container format 2 only: a CDN URL signed for every file object of the package lineage;"
            " put an object's name (from the index) after its path, keep its query string"
        ),
    )


class DownloadView(BaseModel):
    manifest_url: str
    containers: list[DownloadContainer]
    expires_at: datetime


SHA256_HEX = r"^[0-9a-f]{64}$"


class TamperEvidenceBody(BaseModel):
    """Which object the device checked, the SHA-256 the signed manifest promised, and what it found."""

    model_config = STRICT

    object: Literal["manifest", "container"]
    package_id: str | None = Field(default=None, pattern=PACKAGE_ID)
    version: JsonVersion | None = None
    expected_sha256: str = Field(pattern=SHA256_HEX)
    found_sha256: str = Field(pattern=SHA256_HEX)

    def as_evidence(self) -> TamperEvidence:
        return TamperEvidence(
            self.object, self.expected_sha256, self.found_sha256, self.package_id, self.version
        )


class TamperReport(BaseModel):
    model_config = STRICT

    bundle_id: str = Field(pattern=r"^bnd_[0-9a-f]{32}$")
    kind: Literal["manifest", "container", "license"]
    detail: str = Field(default="", max_length=1000, pattern=SAFE_TEXT)
    evidence: TamperEvidenceBody | None = Field(
        default=None,
        description="without evidence that contradicts what the service stored, a report is recorded "
        "and alarmed but revokes nothing",
    )


class TamperReportAccepted(BaseModel):
    report_id: str
