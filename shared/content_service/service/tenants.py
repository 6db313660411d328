"""Tenant settings: read them (stored, or this deployment's defaults) and change them (admins)."""

from __future__ import annotations

from content_service.crypto.overlay import BRANDING_TYPE
from content_service.domain.errors import Forbidden
from content_service.domain.principal import Principal, Role
from content_service.domain.tenant import UNSET, Branding, TenantSettings
from content_service.domain.zones import Zones
from content_service.service.ports import Clock, TenantSettingsRepository, TokenSigner


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
