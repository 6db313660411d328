"""Bundle use cases: create (signed manifest), read, list, licence a device, signed download URLs."""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from content_service.crypto.licence import wrap_content_key
from content_service.domain.bundle import Bundle, BundlePackage, BundleState
from content_service.domain.device import Device
from content_service.domain.errors import (
    ConcurrencyConflict,
    Forbidden,
    InvalidTransition,
    NotFound,
)
from content_service.domain.licence import LicenceTerms, licence_claims, require_licensable
from content_service.domain.package import PackageState
from content_service.domain.principal import Principal, PrincipalKind
from content_service.domain.tamper import TamperEvidence, corroborates
from content_service.service.access import bundle_for, device_for
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


def bundle_owner(principal: Principal, requested_user_id: str | None) -> str:
    """The user a new bundle is for: the named user, or the calling person by default.

    Only catalog and admin may create bundles at all (the policy table); a service client must name
    the user, since it has no devices of its own.
    """
    if requested_user_id is not None:
        if not principal.may_act_for(requested_user_id):
            raise Forbidden("creating a bundle for another user needs the catalog or admin role")
        return requested_user_id
    if principal.kind is PrincipalKind.SERVICE:
        # A service holds no devices, so it may not own a bundle: that is who, not what, is wrong.
        raise Forbidden("a service may not own a bundle: name the learner in user_id")
    return principal.principal_id


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
            # A valid request the package's state does not allow yet (or any more): a conflict.
            raise InvalidTransition(
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


def get_bundle(principal: Principal, bundle_id: str, *, bundles: BundleRepository) -> Bundle:
    """One bundle: a learner's own, or any of the tenant for catalog and admin."""
    return bundle_for(principal, bundle_id, bundles)


def list_bundles(
    principal: Principal,
    *,
    bundles: BundleRepository,
    cursor: str | None,
    limit: int,
    user_id: str | None = None,
) -> BundlePage:
    """A learner's own bundles; for catalog and admin the tenant's, or one user's with ``user_id``."""
    if user_id is None and principal.is_tenant_wide:
        return bundles.list(principal.tenant_id, cursor, limit)
    owner = user_id or principal.principal_id
    if not principal.may_act_for(owner):
        raise Forbidden("listing another user's bundles needs the catalog or admin role")
    return bundles.list_for_user(principal.tenant_id, owner, cursor, limit)


def issue_licence(
    principal: Principal,
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
    validity left, the same licence is returned. No content is re-encrypted. Only the owner of both
    the device and the bundle gets one; anyone else learns nothing, not even that they exist.
    """
    tenant_id = principal.tenant_id
    bundle, device = _owned_pair(principal, bundle_id, device_id, bundles, devices)
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
    records.put(issued, device_revision=device.revision)
    return issued


@dataclass(frozen=True)
class SignedDownload:
    manifest_url: str
    containers: list[dict[str, object]]
    expires_at: datetime


def _owned_pair(
    principal: Principal,
    bundle_id: str,
    device_id: str,
    bundles: BundleRepository,
    devices: DeviceRepository,
) -> tuple[Bundle, Device]:
    device = device_for(principal, device_id, devices, owner_only=True)
    bundle = bundle_for(principal, bundle_id, bundles, owner_only=True)
    return bundle, device


def download_urls(
    principal: Principal,
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
    bundle, device = _owned_pair(principal, bundle_id, device_id, bundles, devices)
    require_licensable(bundle, device)
    expires_at = clock.now() + ttl
    containers: list[dict[str, object]] = []
    for member in bundle.packages:
        listing: dict[str, object] = {
            "package_id": member.package_id,
            "version": member.version,
            "url": urls.signed_url(member.container.key, expires_at),
            "size": member.container.size,
            "sha256": member.container.sha256,
        }
        prefix = member.container.objects_prefix
        if member.container.format == 2 and prefix:
            # One custom-policy signature covers every file object of the lineage: the device
            # appends an object's name to this URL's path, and the index says which it needs.
            listing["objects_url"] = urls.signed_prefix_url(prefix, prefix, expires_at)
        containers.append(listing)
    return SignedDownload(urls.signed_url(bundle.manifest_key or "", expires_at), containers, expires_at)


def report_tamper(
    principal: Principal,
    device_id: str,
    bundle_id: str,
    kind: str,
    detail: str,
    evidence: TamperEvidence | None,
    *,
    bundles: BundleRepository,
    devices: DeviceRepository,
    reports: TamperReports,
    clock: Clock,
) -> str:
    """Record a device's tamper report; it becomes ``content.bundle.tampered.v1`` on the stream.

    Only the owner of the device may report, and only for a bundle that device holds (every bundle of
    its user is delivered to each of the user's devices). The report is marked corroborated when its
    evidence contradicts what the service stored (:func:`~content_service.domain.tamper.corroborates`);
    only a corroborated report can revoke the bundle.
    """
    bundle, device = _owned_pair(principal, bundle_id, device_id, bundles, devices)
    report_id = f"tmp_{uuid.uuid4().hex}"
    reports.add(
        TamperReportRecord(
            principal.tenant_id,
            report_id,
            device.device_id,
            bundle.bundle_id,
            kind,
            detail[:1000],
            clock.now(),
            corroborated=corroborates(bundle, evidence),
            evidence=evidence,
        )
    )
    return report_id


def revoke_bundle(
    principal: Principal, bundle_id: str, reason: str, *, bundles: BundleRepository, clock: Clock
) -> Bundle:
    """Revoke a built bundle in one conditional write; revoking a revoked bundle returns it unchanged.

    From then on it gets no licence and no download URL, and its id is never reused.
    """
    return _revoke(bundle_for(principal, bundle_id, bundles), reason, bundles, clock)


def _revoke(bundle: Bundle, reason: str, bundles: BundleRepository, clock: Clock) -> Bundle:
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
            return _revoke(bundles.get(tenant_id, bundle_id), reason, bundles, clock)
        except NotFound:
            return None
        except InvalidTransition:
            return None
        except ConcurrencyConflict:
            if attempt == attempts - 1:
                raise
    return None
