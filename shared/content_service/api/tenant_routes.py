"""Routes for the caller's tenant: its settings (zone, tamper policy, branding), for admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from content_service.api.auth import principal_of
from content_service.api.models import SAFE_TEXT, ZoneName
from content_service.bootstrap import dependencies
from content_service.domain.tenant import CSS_PROPERTY, CSS_VALUE, UNSET, Branding, TenantSettings
from content_service.service import tenants as cases

router = Router()



class BrandingModel(BaseModel):
    """White-label branding; delivered beside bundles, never part of a content hash."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=100, pattern=SAFE_TEXT)
    primary_colour: str = Field(pattern=r"^#[0-9a-fA-F]{6}$", examples=["#0a5cff"])
    secondary_colour: str | None = Field(default=None, pattern=r"^#[0-9a-fA-F]{6}$")
    css_properties: dict[
        Annotated[str, StringConstraints(pattern=CSS_PROPERTY.pattern)],
        Annotated[str, StringConstraints(pattern=CSS_VALUE.pattern)],
    ] = Field(
        default_factory=dict,
        max_length=50,
        # Only the names the pattern allows: any other key is refused, so the schema says so.
        json_schema_extra={"additionalProperties": False},
        description="CSS custom properties (--name: plain value; no url(), no ; { } < > \\)",
        examples=[{"--brand-radius": "4px"}],
    )

    def to_domain(self) -> Branding:
        return Branding(
            self.name, self.primary_colour, self.secondary_colour, tuple(sorted(self.css_properties.items()))
        )


class TenantSettingsChange(BaseModel):
    """Fields to change; a field left out stays as it is, ``null`` removes branding or a policy."""

    model_config = ConfigDict(extra="forbid", strict=True)

    zone: ZoneName | None = Field(
        default=None,
        description="only before the settings were first written",
    )
    tamper_auto_revoke: bool | None = Field(
        default=None, description="a corroborated tamper report revokes the bundle; null: the default"
    )
    branding: BrandingModel | None = None


class TenantSettingsView(BaseModel):
    tenant_id: str
    zone: str
    tamper_auto_revoke: bool = Field(description="the policy in force (the tenant's or the default)")
    tamper_auto_revoke_set: bool = Field(description="whether the tenant chose it (else: the default)")
    branding: BrandingModel | None
    revision: int = Field(description="0 while the tenant has only this deployment's defaults")
    updated_at: datetime | None
    updated_by: str | None

    @classmethod
    def of(cls, settings: TenantSettings, default_auto_revoke: bool) -> TenantSettingsView:
        branding = settings.branding
        return cls(
            tenant_id=settings.tenant_id,
            zone=settings.zone,
            tamper_auto_revoke=settings.auto_revoke(default_auto_revoke),
            tamper_auto_revoke_set=settings.tamper_auto_revoke is not None,
            branding=None
            if branding is None
            else BrandingModel(
                name=branding.name,
                primary_colour=branding.primary_colour,
                secondary_colour=branding.secondary_colour,
                css_properties=dict(branding.css_properties),
            ),
            revision=settings.revision,
            updated_at=settings.updated_at,
            updated_by=settings.updated_by,
        )


def _view(settings: TenantSettings) -> TenantSettingsView:
    policy = dependencies().settings.tamper_policy
    return TenantSettingsView.of(settings, policy.auto_revoke_for(settings.tenant_id))


@router.get("/v1/tenant/settings", operation_id="get_tenant_settings", summary="The caller's tenant's settings")
def get_tenant_settings() -> TenantSettingsView:
    deps = dependencies()
    principal = principal_of(router.current_event)
    return _view(
        cases.settings_of(
            principal.tenant_id, settings=deps.tenant_settings, served_zone=deps.settings.residency_zone
        )
    )


class BrandingOverlayView(BaseModel):
    overlay: str | None = Field(
        description="compact JWS (typ branding-overlay+jwt) verified with /v1/.well-known/jwks.json; null: unbranded"
    )
    revision: int


@router.get(
    "/v1/tenant/branding",
    operation_id="get_branding_overlay",
    summary="The tenant's signed branding overlay, which devices apply at launch",
)
def get_branding_overlay() -> BrandingOverlayView:
    deps = dependencies()
    overlay, revision = cases.branding_overlay(
        principal_of(router.current_event).tenant_id,
        settings=deps.tenant_settings,
        signer=deps.signer,
        clock=deps.clock,
        served_zone=deps.settings.residency_zone,
    )
    return BrandingOverlayView(overlay=overlay, revision=revision)


@router.patch(
    "/v1/tenant/settings",
    operation_id="update_tenant_settings",
    summary="Change the caller's tenant's settings (fields left out stay as they are)",
)
def update_tenant_settings(body: TenantSettingsChange) -> TenantSettingsView:
    deps = dependencies()
    given = body.model_fields_set
    changed = cases.change_settings(
        principal_of(router.current_event),
        zone=body.zone,
        tamper_auto_revoke=body.tamper_auto_revoke if "tamper_auto_revoke" in given else UNSET,
        branding=(body.branding.to_domain() if body.branding else None) if "branding" in given else UNSET,
        settings=deps.tenant_settings,
        zones=deps.settings.zones,
        served_zone=deps.settings.residency_zone,
        clock=deps.clock,
    )
    return _view(changed)
