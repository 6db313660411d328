"""The Bundle aggregate: package versions packed for offline use, with a signed manifest.

States: ``building → built → revoked``; no way back, and a revoked bundle's id is never reused.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from content_service.domain.errors import InvalidTransition, InvariantViolated
from content_service.domain.events import DomainEvent
from content_service.domain.package import ContainerRef


class BundleState(enum.StrEnum):
    BUILDING = "building"
    BUILT = "built"
    REVOKED = "revoked"


_ALLOWED = {
    BundleState.BUILDING: frozenset({BundleState.BUILT}),
    BundleState.BUILT: frozenset({BundleState.REVOKED}),
    BundleState.REVOKED: frozenset(),
}

MAX_PACKAGES = 100


@dataclass(frozen=True)
class BundlePackage:
    """One package version in a bundle, as the signed manifest lists it."""

    package_id: str
    version: int
    content_hash: str
    container: ContainerRef

    def as_dict(self) -> dict[str, Any]:
        return {
            "package_id": self.package_id,
            "version": self.version,
            "content_hash": self.content_hash,
            "container": self.container.as_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BundlePackage:
        return cls(
            data["package_id"], int(data["version"]), data["content_hash"], ContainerRef(**data["container"])
        )


@dataclass(frozen=True)
class Bundle:
    tenant_id: str
    bundle_id: str
    user_id: str
    residency_zone: str
    packages: tuple[BundlePackage, ...]
    state: BundleState
    created_at: datetime
    updated_at: datetime
    revision: int = 0
    manifest_key: str | None = None
    manifest_sha256: str | None = None
    request_hash: str | None = None
    revoke_reason: str | None = None
    withdrawal_id: str | None = None
    """Set when the bundle was revoked by withdrawing one of its package versions."""
    events: tuple[DomainEvent, ...] = ()

    @classmethod
    def create(
        cls,
        *,
        tenant_id: str,
        bundle_id: str,
        user_id: str,
        residency_zone: str,
        packages: tuple[BundlePackage, ...],
        now: datetime,
        request_hash: str | None = None,
    ) -> Bundle:
        """A new bundle of built package versions (the caller checked they are built and the tenant's)."""
        if not packages:
            raise InvariantViolated("a bundle needs at least one package")
        if len(packages) > MAX_PACKAGES:
            raise InvariantViolated(f"a bundle holds at most {MAX_PACKAGES} packages")
        versions = [(p.package_id, p.version) for p in packages]
        if len(set(versions)) != len(versions):
            raise InvariantViolated("a package version appears twice in the bundle")
        if len({p.package_id for p in packages}) != len(packages):
            raise InvariantViolated("a bundle holds one version of each package")
        bundle = cls(
            tenant_id=tenant_id,
            bundle_id=bundle_id,
            user_id=user_id,
            residency_zone=residency_zone,
            packages=packages,
            state=BundleState.BUILDING,
            created_at=now,
            updated_at=now,
            request_hash=request_hash,
        )
        return bundle._record("content.bundle.building.v1", now, {"user_id": user_id})

    def mark_built(self, manifest_key: str, manifest_sha256: str, now: datetime) -> Bundle:
        """The signed manifest is stored: devices may now get licences and downloads."""
        self._require(BundleState.BUILT)
        built = replace(
            self,
            state=BundleState.BUILT,
            manifest_key=manifest_key,
            manifest_sha256=manifest_sha256,
            updated_at=now,
        )
        return built._record(
            "content.bundle.created.v1",
            now,
            {
                "user_id": self.user_id,
                "residency_zone": self.residency_zone,
                "packages": [{"package_id": p.package_id, "version": p.version} for p in self.packages],
            },
        )

    def revoke(self, reason: str, now: datetime, withdrawal_id: str | None = None) -> Bundle:
        """Withdraw the bundle: no more licences or downloads, and devices unmount it.

        ``withdrawal_id`` names the package-version withdrawal that revokes it: that withdrawal's
        chunked fan-out, not the stream's per-event projection, then tells the devices.
        """
        self._require(BundleState.REVOKED)
        if not reason.strip():
            raise InvariantViolated("a revocation needs a reason")
        revoked = replace(
            self,
            state=BundleState.REVOKED,
            revoke_reason=reason.strip(),
            withdrawal_id=withdrawal_id,
            updated_at=now,
        )
        data: dict[str, Any] = {"reason": reason.strip(), "user_id": self.user_id}
        if withdrawal_id is not None:
            data["withdrawal_id"] = withdrawal_id
        return revoked._record("content.bundle.revoked.v1", now, data)

    def holds(self, package_id: str, version: int) -> bool:
        """Whether this bundle packs that package version."""
        return any(p.package_id == package_id and p.version == version for p in self.packages)

    def require_deliverable(self) -> None:
        """Licences and downloads exist only for a built bundle."""
        if self.state is not BundleState.BUILT:
            raise InvalidTransition(
                f"bundle {self.bundle_id} is {self.state.value}: no licence or download",
                state=self.state.value,
            )

    def manifest_claims(self, issued_at: int) -> dict[str, Any]:
        """The claims of the signed bundle manifest (docs/offline-bundles.md)."""
        return {
            "iss": "content-service",
            "ver": 1,
            "bundle_id": self.bundle_id,
            "tenant_id": self.tenant_id,
            "residency_zone": self.residency_zone,
            "iat": issued_at,
            "packages": [p.as_dict() for p in self.packages],
        }

    def _require(self, target: BundleState) -> None:
        if target not in _ALLOWED[self.state]:
            raise InvalidTransition(
                f"bundle {self.bundle_id} is {self.state.value} and cannot become {target.value}",
                state=self.state.value,
            )

    def _record(self, name: str, now: datetime, data: dict[str, Any]) -> Bundle:
        return replace(
            self, events=(*self.events, DomainEvent(name, self.tenant_id, self.bundle_id, now, data))
        )


@dataclass(frozen=True)
class TamperPolicy:
    """Whether a tamper event revokes the bundle: on by default, with per-tenant overrides."""

    default: bool = True
    overrides: tuple[tuple[str, bool], ...] = ()

    def auto_revoke_for(self, tenant_id: str) -> bool:
        return dict(self.overrides).get(tenant_id, self.default)
