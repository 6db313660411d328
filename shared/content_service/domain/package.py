"""The PlayPackage aggregate: one version of a tenant's learning content.

States: ``building → built → revoked`` and ``building → failed``. There is no way back;
``revoked`` and ``failed`` are final. Every transition records a domain event, which the
repository writes in the same conditional write as the state (the outbox).
"""

from __future__ import annotations

import enum
import hashlib
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from content_service.domain.errors import InvalidTransition, InvariantViolated


class Standard(enum.StrEnum):
    """The format a package arrived in."""

    NATIVE = "native"
    SCORM12 = "scorm12"
    SCORM2004 = "scorm2004"
    XAPI = "xapi"
    CMI5 = "cmi5"


class PackageState(enum.StrEnum):
    BUILDING = "building"
    BUILT = "built"
    FAILED = "failed"
    REVOKED = "revoked"


_ALLOWED: dict[PackageState, frozenset[PackageState]] = {
    PackageState.BUILDING: frozenset({PackageState.BUILT, PackageState.FAILED}),
    PackageState.BUILT: frozenset({PackageState.REVOKED}),
    PackageState.FAILED: frozenset(),
    PackageState.REVOKED: frozenset(),
}


def can_transition(source: PackageState, target: PackageState) -> bool:
    """Whether the state machine allows ``source → target``."""
    return target in _ALLOWED[source]


@dataclass(frozen=True)
class Problem:
    """Why a package was refused: a stable machine code, a human detail, and the path it concerns."""

    code: str
    detail: str
    path: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "detail": self.detail, "path": self.path}


@dataclass(frozen=True)
class DeclaredUpload:
    """What the author declared for the upload (``POST /v1/uploads``): the presigned PUT signs both.

    The build compares the stored object with it, so an upload that is not what was declared is
    refused even where the object store did not enforce the signed headers.
    """

    content_type: str
    content_length: int

    def __post_init__(self) -> None:
        if self.content_length < 0 or not self.content_type:
            raise InvariantViolated("a declared upload has a content type and a non-negative length")

    def as_dict(self) -> dict[str, Any]:
        return {"content_type": self.content_type, "content_length": self.content_length}


@dataclass(frozen=True)
class Launch:
    """One launchable unit: a SCO, an AU, an xAPI activity, or the native entry point.

    ``href`` is the package-relative path of the file that is launched (xml:base resolved,
    percent-decoding applied, no query or fragment); ``parameters`` keeps the query string
    and fragment verbatim, as the standard says they are appended at launch.
    """

    id: str
    title: str
    href: str
    parameters: str = ""
    kind: str = "entry"
    attributes: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "href": self.href,
            "parameters": self.parameters,
            "kind": self.kind,
            "attributes": dict(self.attributes),
        }


@dataclass(frozen=True)
class FileEntry:
    """One file of a built package."""

    path: str
    size: int
    media_type: str
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "media_type": self.media_type, "sha256": self.sha256}


def path_key(path: str) -> str:
    """The form two paths must not share: Unicode NFC, then case folded (and NFC again)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", path).casefold())


def content_hash(files: tuple[FileEntry, ...] | list[FileEntry]) -> str:
    """SHA-256 over the sorted file list (path, size, sha256), one line per file."""
    digest = hashlib.sha256()
    for entry in sorted(files, key=lambda f: f.path):
        digest.update(f"{entry.path}\x00{entry.size}\x00{entry.sha256}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class PackageManifest:
    """What a built package is made of. Constructing one checks its invariants."""

    standard: Standard
    title: str
    language: str | None
    launches: tuple[Launch, ...]
    files: tuple[FileEntry, ...]
    metadata: dict[str, Any] = field(default_factory=dict)
    content_hash: str = ""

    def __post_init__(self) -> None:
        if not self.launches:
            raise InvariantViolated("a built package needs at least one launch entry")
        seen: dict[str, str] = {}
        for entry in self.files:
            key = path_key(entry.path)
            if key in seen:
                raise InvariantViolated(
                    f"paths {seen[key]!r} and {entry.path!r} collide under case folding or Unicode NFC"
                )
            seen[key] = entry.path
        paths = {entry.path for entry in self.files}
        for launch in self.launches:
            if launch.href not in paths:
                raise InvariantViolated(
                    f"launch {launch.id!r} names {launch.href!r}, which is not in the package"
                )
        expected = content_hash(self.files)
        if not self.content_hash:
            object.__setattr__(self, "content_hash", expected)
        elif self.content_hash != expected:
            raise InvariantViolated("the content hash does not match the file list")

    @property
    def total_bytes(self) -> int:
        return sum(entry.size for entry in self.files)

    def as_dict(self) -> dict[str, Any]:
        return {
            "standard": self.standard.value,
            "title": self.title,
            "language": self.language,
            "launches": [launch.as_dict() for launch in self.launches],
            "files": [entry.as_dict() for entry in self.files],
            "metadata": self.metadata,
            "content_hash": self.content_hash,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PackageManifest:
        return cls(
            standard=Standard(data["standard"]),
            title=data["title"],
            language=data.get("language"),
            launches=tuple(Launch(**launch) for launch in data["launches"]),
            files=tuple(FileEntry(**entry) for entry in data["files"]),
            metadata=data.get("metadata", {}),
            content_hash=data.get("content_hash", ""),
        )


@dataclass(frozen=True)
class ContainerRef:
    """Where a package version's sealed content container is, and what it must hash to."""

    key: str
    size: int
    sha256: str
    #: The container format version (docs/container-format.md). For version 2 the object is the
    #: version's index, and its file objects live under ``objects_prefix``.
    format: int = 1
    objects_prefix: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"key": self.key, "size": self.size, "sha256": self.sha256}
        # Version 1 references keep exactly their old shape, so old manifests and records compare equal.
        if self.format != 1:
            data["format"] = self.format
            data["objects_prefix"] = self.objects_prefix
        return data


@dataclass(frozen=True)
class SealedContent:
    """A built package's content container and its content key, wrapped by the key service."""

    container: ContainerRef
    wrapped_key: str
    #: Format version 2 only: the package lineage's key, wrapped by the key service (the same
    #: blob on every version of the lineage; the service needs it to build the next version).
    wrapped_lineage_key: str | None = None


@dataclass(frozen=True)
class PackageSummary:
    """What a built package's record keeps of its manifest (the manifest itself is a stored object)."""

    standard: Standard
    title: str
    language: str | None
    file_count: int
    total_bytes: int
    launch_count: int
    content_hash: str

    @classmethod
    def of(cls, manifest: PackageManifest) -> PackageSummary:
        return cls(
            standard=manifest.standard,
            title=manifest.title,
            language=manifest.language,
            file_count=len(manifest.files),
            total_bytes=manifest.total_bytes,
            launch_count=len(manifest.launches),
            content_hash=manifest.content_hash,
        )


@dataclass(frozen=True)
class PackageEvent:
    """A domain event recorded by a PlayPackage transition (``name`` is the versioned subject)."""

    name: str
    tenant_id: str
    package_id: str
    version: int
    occurred_at: datetime
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PlayPackage:
    """One version of a tenant's package. Immutable: each transition returns a new value.

    ``revision`` counts persisted writes and is the optimistic-concurrency token: the
    repository writes a transition only if the stored revision is still the one read.
    """

    tenant_id: str
    package_id: str
    version: int
    state: PackageState
    source_key: str
    created_at: datetime
    updated_at: datetime
    revision: int = 0
    summary: PackageSummary | None = None
    sealed: SealedContent | None = None
    problem: Problem | None = None
    revoke_reason: str | None = None
    declared_upload: DeclaredUpload | None = None
    events: tuple[PackageEvent, ...] = ()

    @classmethod
    def start_building(
        cls,
        *,
        tenant_id: str,
        package_id: str,
        version: int,
        source_key: str,
        now: datetime,
        declared_upload: DeclaredUpload | None = None,
    ) -> PlayPackage:
        """A new package version whose upload has arrived and is being built."""
        if not tenant_id or not package_id:
            raise InvariantViolated("a package needs a tenant and an id")
        if version < 1:
            raise InvariantViolated("package versions start at 1")
        package = cls(
            tenant_id=tenant_id,
            package_id=package_id,
            version=version,
            state=PackageState.BUILDING,
            source_key=source_key,
            created_at=now,
            updated_at=now,
            declared_upload=declared_upload,
        )
        return package._record("content.package.building.v1", now, {"source_key": source_key})

    def mark_built(
        self, manifest: PackageManifest, now: datetime, sealed: SealedContent | None = None
    ) -> PlayPackage:
        """The build succeeded: the package now has its manifest (and, once sealed, its container)."""
        self._require(PackageState.BUILT)
        built = replace(
            self, state=PackageState.BUILT, summary=PackageSummary.of(manifest), sealed=sealed, updated_at=now
        )
        return built._record(
            "content.package.built.v1",
            now,
            {"content_hash": manifest.content_hash, "standard": manifest.standard.value},
        )

    def mark_failed(self, problem: Problem, now: datetime) -> PlayPackage:
        """The build was refused or crashed: the package keeps the problem and is final."""
        self._require(PackageState.FAILED)
        failed = replace(self, state=PackageState.FAILED, problem=problem, updated_at=now)
        return failed._record("content.package.failed.v1", now, problem.as_dict())

    def revoke(self, reason: str, now: datetime) -> PlayPackage:
        """Withdraw a built package; final."""
        self._require(PackageState.REVOKED)
        if not reason.strip():
            raise InvariantViolated("a revocation needs a reason")
        revoked = replace(self, state=PackageState.REVOKED, revoke_reason=reason, updated_at=now)
        return revoked._record("content.package.revoked.v1", now, {"reason": reason})

    def is_stale(self, now: datetime, build_timeout_seconds: float) -> bool:
        """A package still building after the timeout was abandoned by a crashed build."""
        return (
            self.state is PackageState.BUILDING
            and (now - self.updated_at).total_seconds() > build_timeout_seconds
        )

    @property
    def last_event(self) -> PackageEvent | None:
        """The event of the latest transition: the outbox record written with the state."""
        return self.events[-1] if self.events else None

    def _require(self, target: PackageState) -> None:
        if not can_transition(self.state, target):
            raise InvalidTransition(
                f"package {self.package_id} v{self.version} is {self.state.value} and cannot become {target.value}",
                state=self.state.value,
            )

    def _record(self, name: str, now: datetime, data: dict[str, Any]) -> PlayPackage:
        event = PackageEvent(
            name=name,
            tenant_id=self.tenant_id,
            package_id=self.package_id,
            version=self.version,
            occurred_at=now,
            data=data,
        )
        return replace(self, events=(*self.events, event))
