"""Routes for the caller's tenant: its settings (zone, tamper policy, branding), for admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from content_service.api.auth import principal_of
from content_service.api.models import SAFE_TEXT, ZoneName
from content_service.api.request_shape import raw_body
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


class BrandLogoView(BaseModel):
    """The logo the branding names; its bytes are ``GET /v1/tenant/branding/logo``."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 (hex) of the logo's bytes")
    media_type: Literal["image/png", "image/jpeg", "image/webp"]
    size: int = Field(ge=1, description="bytes")


class BrandingView(BrandingModel):
    """The branding as stored: what an admin set, and the logo uploaded with ``PUT .../logo``."""

    logo: BrandLogoView | None = None


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
    branding: BrandingView | None
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
            else BrandingView(
                name=branding.name,
                primary_colour=branding.primary_colour,
                secondary_colour=branding.secondary_colour,
                css_properties=dict(branding.css_properties),
                logo=None
                if branding.logo is None
                else BrandLogoView(
                    sha256=branding.logo.sha256, media_type=branding.logo.media_type, size=branding.logo.size
                ),
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


@router.put(
    "/v1/tenant/branding/logo",
    operation_id="put_branding_logo",
    summary="Upload the tenant's logo (raw PNG, JPEG or WebP body; no SVG), which the overlay names",
)
def put_branding_logo() -> TenantSettingsView:
    deps = dependencies()
    event = router.current_event
    changed = cases.set_logo(
        principal_of(event),
        raw_body(event.body, bool(event.is_base64_encoded)),
        event.headers.get("content-type"),
        max_bytes=deps.settings.branding_logo_max_bytes,
        settings=deps.tenant_settings,
        assets=deps.branding_assets,
        zones=deps.settings.zones,
        served_zone=deps.settings.residency_zone,
        clock=deps.clock,
    )
    return _view(changed)


@router.delete(
    "/v1/tenant/branding/logo",
    operation_id="delete_branding_logo",
    summary="Remove the tenant's logo from its branding (a branding without one stays as it is)",
)
def delete_branding_logo() -> TenantSettingsView:
    deps = dependencies()
    changed = cases.remove_logo(
        principal_of(router.current_event),
        settings=deps.tenant_settings,
        zones=deps.settings.zones,
        served_zone=deps.settings.residency_zone,
        clock=deps.clock,
    )
    return _view(changed)


@router.get(
    "/v1/tenant/branding/logo",
    operation_id="get_branding_logo",
    summary="The bytes of the logo the tenant's branding overlay names (check them against its claims)",
)
def get_branding_logo():
    # No return annotation: Powertools would validate and JSON-serialise the image bytes; the
    # OpenAPI document gets this route's image responses from contract.RAW_SUCCESS instead.
    deps = dependencies()
    logo, data = cases.branding_logo(
        principal_of(router.current_event).tenant_id,
        settings=deps.tenant_settings,
        assets=deps.branding_assets,
        served_zone=deps.settings.residency_zone,
    )
    return Response(
        status_code=200,
        content_type=logo.media_type,
        body=data,
        headers={
            "ETag": f'"{logo.sha256}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'",
        },
    )
