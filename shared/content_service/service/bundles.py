"""Bundle use cases: create (signed manifest), read, list, licence a device, signed download URLs."""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from content_service.crypto.licence import wrap_content_key
from content_service.domain.bundle import Bundle, BundlePackage, BundleState
from content_service.domain.errors import ConcurrencyConflict, InvalidTransition, InvariantViolated, NotFound
from content_service.domain.licence import LicenceTerms, licence_claims, require_licensable
from content_service.domain.package import PackageState
from content_service.service.ports import (
    BundlePage,
    BundleRepository,
    BundleStore,
    Clock,
    ContentKeyService,
    DeviceRepository,
    IssuedLicence,
    LicenceRecords,
    PackageRepository,
    TamperReportRecord,
    TamperReports,
    TokenSigner,
    UrlSigner,
)

MANIFEST_TYPE = "bundle-manifest+jwt"
LICENCE_TYPE = "license+jwt"


@dataclass(frozen=True)
class PackageRequest:
    package_id: str
    version: int | None = None


def create_bundle(
    tenant_id: str,
    user_id: str,
    requested: list[PackageRequest],
    residency_zone: str,
    *,
    packages: PackageRepository,
    bundles: BundleRepository,
    store: BundleStore,
    signer: TokenSigner,
    clock: Clock,
) -> Bundle:
    """Pack built package versions of the caller's tenant into a bundle with a signed manifest.

    No content is encrypted here: each package version's container was sealed once, at build.
    """
    members = []
    for request in requested:
        package = packages.get(tenant_id, request.package_id, request.version)
        if package.state is not PackageState.BUILT or package.sealed is None or package.summary is None:
            raise InvariantViolated(
                f"package {package.package_id} v{package.version} is {package.state.value}: only built packages can be bundled"
            )
        members.append(
            BundlePackage(
                package.package_id, package.version, package.summary.content_hash, package.sealed.container
            )
        )
    now = clock.now()
    bundle = Bundle.create(
        tenant_id=tenant_id,
        bundle_id=f"bnd_{uuid.uuid4().hex}",
        user_id=user_id,
        residency_zone=residency_zone,
        packages=tuple(members),
        now=now,
    )
    token = signer.sign(bundle.manifest_claims(int(now.timestamp())), typ=MANIFEST_TYPE)
    key = store.put_manifest(tenant_id, bundle.bundle_id, token)
    return bundles.add(bundle.mark_built(key, hashlib.sha256(token.encode()).hexdigest(), now))


def get_bundle(tenant_id: str, bundle_id: str, *, bundles: BundleRepository) -> Bundle:
    return bundles.get(tenant_id, bundle_id)


def list_bundles(tenant_id: str, *, bundles: BundleRepository, cursor: str | None, limit: int) -> BundlePage:
    return bundles.list(tenant_id, cursor, limit)


def issue_licence(
    tenant_id: str,
    bundle_id: str,
    device_id: str,
    *,
    bundles: BundleRepository,
    devices: DeviceRepository,
    packages: PackageRepository,
    keys: ContentKeyService,
    signer: TokenSigner,
    records: LicenceRecords,
    clock: Clock,
    terms: LicenceTerms,
) -> IssuedLicence:
    """A licence for one device: the bundle's content keys, each wrapped to that device only.

    Idempotent: while the last licence for this bundle and device has more than half of its
    validity left, the same licence is returned. No content is re-encrypted.
    """
    bundle = bundles.get(tenant_id, bundle_id)
    device = devices.get(tenant_id, device_id)
    require_licensable(bundle, device)
    now = clock.now()
    latest = records.latest(tenant_id, bundle_id, device_id)
    if latest is not None and latest.expires_at - now > terms.validity / 2:
        return latest
    wrapped = []
    for member in bundle.packages:
        package = packages.get(tenant_id, member.package_id, member.version)
        if package.sealed is None:
            raise NotFound(f"package {member.package_id} v{member.version} has no content key")
        content_key = keys.unwrap(
            base64.b64decode(package.sealed.wrapped_key), tenant_id, member.package_id, member.version
        )
        jwe = wrap_content_key(content_key, device.public_key, bundle_id=bundle_id, device_id=device_id)
        wrapped.append({"package_id": member.package_id, "version": member.version, "jwe": jwe})
    licence_id = f"lic_{uuid.uuid4().hex}"
    claims = licence_claims(
        licence_id=licence_id,
        bundle=bundle,
        device=device,
        manifest_sha256=bundle.manifest_sha256 or "",
        wrapped_keys=wrapped,
        issued_at=now,
        terms=terms,
    )
    issued = IssuedLicence(
        tenant_id=tenant_id,
        bundle_id=bundle_id,
        device_id=device_id,
        licence_id=licence_id,
        token=signer.sign(claims, typ=LICENCE_TYPE),
        issued_at=now,
        expires_at=datetime.fromtimestamp(claims["exp"], tz=now.tzinfo),
    )
    records.put(issued)
    return issued


@dataclass(frozen=True)
class SignedDownload:
    manifest_url: str
    containers: list[dict[str, object]]
    expires_at: datetime


def download_urls(
    tenant_id: str,
    bundle_id: str,
    device_id: str,
    *,
    bundles: BundleRepository,
    devices: DeviceRepository,
    urls: UrlSigner,
    clock: Clock,
    ttl: timedelta,
) -> SignedDownload:
    """Short-lived CDN signed URLs for a bundle's manifest and containers, for one active device."""
    bundle = bundles.get(tenant_id, bundle_id)
    device = devices.get(tenant_id, device_id)
    require_licensable(bundle, device)
    expires_at = clock.now() + ttl
    containers: list[dict[str, object]] = [
        {
            "package_id": member.package_id,
            "version": member.version,
            "url": urls.signed_url(member.container.key, expires_at),
            "size": member.container.size,
            "sha256": member.container.sha256,
        }
        for member in bundle.packages
    ]
    return SignedDownload(urls.signed_url(bundle.manifest_key or "", expires_at), containers, expires_at)


def report_tamper(
    tenant_id: str,
    device_id: str,
    bundle_id: str,
    kind: str,
    detail: str,
    *,
    bundles: BundleRepository,
    devices: DeviceRepository,
    reports: TamperReports,
    clock: Clock,
) -> str:
    """Record a device's tamper report; it becomes ``content.bundle.tampered.v1`` on the stream."""
    device = devices.get(tenant_id, device_id)
    bundle = bundles.get(tenant_id, bundle_id)
    if device.user_id != bundle.user_id:
        raise NotFound(f"bundle {bundle_id} not found for device {device_id}")
    report_id = f"tmp_{uuid.uuid4().hex}"
    reports.add(
        TamperReportRecord(tenant_id, report_id, device_id, bundle_id, kind, detail[:1000], clock.now())
    )
    return report_id


def revoke_bundle(
    tenant_id: str, bundle_id: str, reason: str, *, bundles: BundleRepository, clock: Clock
) -> Bundle:
    """Revoke a built bundle in one conditional write; revoking a revoked bundle returns it unchanged.

    From then on it gets no licence and no download URL, and its id is never reused.
    """
    bundle = bundles.get(tenant_id, bundle_id)
    if bundle.state is BundleState.REVOKED:
        return bundle
    return bundles.save(bundle.revoke(reason, clock.now()))


def revoke_for_tamper(
    tenant_id: str, bundle_id: str, reason: str, *, bundles: BundleRepository, clock: Clock, attempts: int = 3
) -> Bundle | None:
    """Revoke a bundle because it was tampered with; None if it no longer exists or is not built yet.

    Idempotent like :func:`revoke_bundle`; a concurrent change (another revocation) is re-read and
    retried, so two tamper reports racing end with one revocation.
    """
    for attempt in range(attempts):
        try:
            return revoke_bundle(tenant_id, bundle_id, reason, bundles=bundles, clock=clock)
        except NotFound:
            return None
        except InvalidTransition:
            return None
        except ConcurrencyConflict:
            if attempt == attempts - 1:
                raise
    return None
