"""Request and response bodies of the API (pydantic), and the mapping from aggregates."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from content_service.domain.package import PackageManifest, PlayPackage


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
