"""Tenant settings: read them (stored, or this deployment's defaults) and change them (admins)."""

from __future__ import annotations

from content_service.crypto.overlay import BRANDING_TYPE
from content_service.domain.errors import Forbidden, NotFound
from content_service.domain.logo import BrandLogo
from content_service.domain.principal import Principal, Role
from content_service.domain.tenant import UNSET, Branding, TenantSettings
from content_service.domain.zones import Zones
from content_service.service.ports import BrandingAssets, Clock, TenantSettingsRepository, TokenSigner


def settings_of(tenant_id: str, *, settings: TenantSettingsRepository, served_zone: str) -> TenantSettings:
    """The tenant's settings; a tenant that never wrote any is in this deployment's zone."""
    return settings.get(tenant_id) or TenantSettings.defaults(tenant_id, served_zone)


def change_settings(
    principal: Principal,
    *,
    zone: str | None = None,
    tamper_auto_revoke: bool | None | object = UNSET,
    branding: Branding | None | object = UNSET,
    settings: TenantSettingsRepository,
    zones: Zones,
    served_zone: str,
    clock: Clock,
) -> TenantSettings:
    """Change the caller's tenant's settings in one conditional write (admins only)."""
    if not principal.has_any({Role.ADMIN}):
        raise Forbidden("changing tenant settings needs the admin role")
    current = settings_of(principal.tenant_id, settings=settings, served_zone=served_zone)
    changed = current.change(
        zones=zones,
        by=principal.principal_id,
        now=clock.now(),
        zone=zone,
        tamper_auto_revoke=tamper_auto_revoke,  # type: ignore[arg-type]
        branding=branding,  # type: ignore[arg-type]
    )
    return settings.save(changed)


def branding_overlay(
    tenant_id: str,
    *,
    settings: TenantSettingsRepository,
    signer: TokenSigner,
    clock: Clock,
    served_zone: str,
) -> tuple[str | None, int]:
    """The tenant's signed branding overlay (None when unbranded) and its settings revision."""
    current = settings_of(tenant_id, settings=settings, served_zone=served_zone)
    claims = current.branding_claims(int(clock.now().timestamp()))
    return (None if claims is None else signer.sign(claims, typ=BRANDING_TYPE)), current.revision


def set_logo(
    principal: Principal,
    data: bytes,
    content_type: str | None,
    *,
    max_bytes: int,
    settings: TenantSettingsRepository,
    assets: BrandingAssets,
    zones: Zones,
    served_zone: str,
    clock: Clock,
) -> TenantSettings:
    """Make uploaded bytes the tenant's logo (admins only); the branding's revision moves on.

    The bytes and the change are checked before anything is written (a 415, 413, 422 or 409
    writes nothing); the bytes are stored first and the settings after, so settings never name a
    logo that is not stored.
    """
    if not principal.has_any({Role.ADMIN}):
        raise Forbidden("changing the tenant's logo needs the admin role")
    logo = BrandLogo.of(data, content_type, max_bytes=max_bytes)
    current = settings_of(principal.tenant_id, settings=settings, served_zone=served_zone)
    changed = current.change(zones=zones, by=principal.principal_id, now=clock.now(), logo=logo)
    assets.put_logo(principal.tenant_id, logo, data)
    return settings.save(changed)


def remove_logo(
    principal: Principal,
    *,
    settings: TenantSettingsRepository,
    zones: Zones,
    served_zone: str,
    clock: Clock,
) -> TenantSettings:
    """The tenant's branding without its logo (admins only); nothing changes when it has none.

    The stored bytes stay: they are named by their SHA-256 and an overlay a device still holds
    may name them until the device's next sync.
    """
    if not principal.has_any({Role.ADMIN}):
        raise Forbidden("changing the tenant's logo needs the admin role")
    current = settings_of(principal.tenant_id, settings=settings, served_zone=served_zone)
    if current.branding is None or current.branding.logo is None:
        return current
    return settings.save(current.change(zones=zones, by=principal.principal_id, now=clock.now(), logo=None))


def branding_logo(
    tenant_id: str, *, settings: TenantSettingsRepository, assets: BrandingAssets, served_zone: str
) -> tuple[BrandLogo, bytes]:
    """The logo the tenant's overlay names and its bytes; NotFound when the branding has none."""
    current = settings_of(tenant_id, settings=settings, served_zone=served_zone)
    logo = None if current.branding is None else current.branding.logo
    if logo is None:
        raise NotFound("the tenant's branding has no logo")
    return logo, assets.get_logo(tenant_id, logo)
