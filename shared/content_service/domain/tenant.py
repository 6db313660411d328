"""A tenant's settings: its residency zone, its branding and its tamper policy (one aggregate).

The zone is chosen once, when the settings are first written; afterwards only a residency
migration moves a tenant (copying and verifying its data first), never an edit here.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime

from content_service.domain.errors import InvalidTransition, ValidationFailed
from content_service.domain.logo import BrandLogo
from content_service.domain.zones import Zones

COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
CSS_PROPERTY = re.compile(r"^--[a-z][a-z0-9-]{0,62}$")
# A custom property's value: colours, lengths, font names, simple functions; nothing that can
# close the declaration (;{}), open markup (<>), escape (\) or load a resource (url, @import).
CSS_VALUE = re.compile(r"^[A-Za-z0-9#%.,()\s'\"+-]{1,200}$")
FORBIDDEN_CSS = re.compile(r"url\s*\(|expression\s*\(|@import|/\*", re.IGNORECASE)
MAX_CSS_PROPERTIES = 50
# What ``--brand-logo`` may point at: the export's logo file beside the stylesheet, or the bytes.
LOGO_URL = re.compile(
    r"^(?:content-branding-logo\.(?:png|jpg|webp)|data:image/(?:png|jpeg|webp);base64,[A-Za-z0-9+/]*={0,2})$"
)


def _plain_text(value: str, what: str, limit: int) -> str:
    text = value.strip()
    if not text or len(text) > limit:
        raise ValidationFailed(f"{what} needs 1 to {limit} characters")
    # Control, format (bidi overrides, zero-width) and unassigned characters hide what text says.
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Cn", "Co", "Cs"} for ch in text):
        raise ValidationFailed(f"{what} contains control or invisible characters")
    return text


@dataclass(frozen=True)
class Branding:
    """White-label branding; delivered to devices as a signed overlay, outside the content hash."""

    name: str
    primary_colour: str
    secondary_colour: str | None = None
    css_properties: tuple[tuple[str, str], ...] = ()
    #: The logo, the overlay's one asset (its bytes beside the bundles, named by their SHA-256).
    logo: BrandLogo | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", _plain_text(self.name, "the brand name", 100))
        for colour in (self.primary_colour, self.secondary_colour):
            if colour is not None and not COLOUR.fullmatch(colour):
                raise ValidationFailed(f"colour {colour!r} is not #rrggbb")
        if len(self.css_properties) > MAX_CSS_PROPERTIES:
            raise ValidationFailed(f"at most {MAX_CSS_PROPERTIES} CSS custom properties")
        names = [name for name, _ in self.css_properties]
        if len(set(names)) != len(names):
            raise ValidationFailed("a CSS custom property appears twice")
        for name, value in self.css_properties:
            if not CSS_PROPERTY.fullmatch(name):
                raise ValidationFailed(f"{name!r} is not a CSS custom property name (--lowercase-name)")
            if not CSS_VALUE.fullmatch(value) or FORBIDDEN_CSS.search(value):
                raise ValidationFailed(f"the value of {name} is not a plain CSS value")

    def stylesheet(self, logo_url: str | None = None) -> str:
        """The branding as CSS custom properties on ``:root`` (what a launcher or export injects).

        Safe to put inside a ``<style>`` element: every value passed the rules above (no ``;{}<>\\``).
        ``logo_url``, when the branding has a logo, becomes ``--brand-logo: url("...")``: the
        export's file name or the device's ``data:`` URL of the checked bytes, never a tenant's text.
        """
        declarations = [("--brand-primary", self.primary_colour)]
        if self.secondary_colour is not None:
            declarations.append(("--brand-secondary", self.secondary_colour))
        if self.logo is not None and logo_url is not None:
            if not LOGO_URL.fullmatch(logo_url):
                raise ValidationFailed("the logo URL is neither a logo file name nor a base64 data: URL")
            declarations.append(("--brand-logo", f'url("{logo_url}")'))
        declarations += [(name, value) for name, value in self.css_properties if name not in dict(declarations)]
        return ":root {\n" + "".join(f"  {name}: {value};\n" for name, value in declarations) + "}\n"

    def as_dict(self) -> dict[str, object]:
        """The dict form (overlay claims, exports, stored items); ``logo`` only when there is one."""
        data: dict[str, object] = {
            "name": self.name,
            "primary_colour": self.primary_colour,
            "secondary_colour": self.secondary_colour,
            "css_properties": dict(self.css_properties),
        }
        if self.logo is not None:
            data["logo"] = self.logo.as_dict()
        return data

    @classmethod
    def from_dict(cls, data: object) -> Branding:
        """Branding from its dict form, checked by every rule again (a ValidationFailed if not)."""
        if not isinstance(data, dict):
            raise ValidationFailed("branding is not an object")
        css = data.get("css_properties") or {}
        if not isinstance(css, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in css.items()):
            raise ValidationFailed("css_properties is not an object of strings")
        name, primary, secondary = data.get("name"), data.get("primary_colour"), data.get("secondary_colour")
        if not isinstance(name, str) or not isinstance(primary, str) or not isinstance(secondary, str | None):
            raise ValidationFailed("branding needs a name and colours as strings")
        logo = data.get("logo")
        return cls(
            name,
            primary,
            secondary,
            tuple(sorted(css.items())),
            None if logo is None else BrandLogo.from_dict(logo),
        )


class _Unset:
    """Marks a field a change leaves as it is (None means: remove it)."""


UNSET = _Unset()


@dataclass(frozen=True)
class TenantSettings:
    tenant_id: str
    zone: str
    tamper_auto_revoke: bool | None = None  # None: the deployment's default policy
    branding: Branding | None = None
    revision: int = 0  # 0: never written (the deployment's defaults)
    updated_at: datetime | None = None
    updated_by: str | None = None

    @classmethod
    def defaults(cls, tenant_id: str, zone: str) -> TenantSettings:
        """What a tenant without stored settings has: this deployment's zone and policies."""
        return cls(tenant_id=tenant_id, zone=zone)

    def change(
        self,
        *,
        zones: Zones,
        by: str,
        now: datetime,
        zone: str | None = None,
        tamper_auto_revoke: bool | None | _Unset = UNSET,
        branding: Branding | None | _Unset = UNSET,
        logo: BrandLogo | None | _Unset = UNSET,
    ) -> TenantSettings:
        """The settings with the given fields changed; the zone only while nothing was stored.

        New branding keeps the logo held (the logo changes only through ``logo``); no branding
        drops it. A logo needs branding to belong to (an ``InvalidTransition`` otherwise).
        """
        changed = self
        if zone is not None and zone != self.zone:
            zones.get(zone)
            if self.revision > 0:
                raise InvalidTransition(
                    f"tenant {self.tenant_id} is in zone {self.zone}; moving it needs a residency migration",
                    zone=self.zone,
                )
            changed = replace(changed, zone=zone)
        if not isinstance(tamper_auto_revoke, _Unset):
            changed = replace(changed, tamper_auto_revoke=tamper_auto_revoke)
        if not isinstance(branding, _Unset):
            kept = None if self.branding is None else self.branding.logo
            changed = replace(changed, branding=None if branding is None else replace(branding, logo=kept))
        if not isinstance(logo, _Unset):
            if changed.branding is None:
                raise InvalidTransition("the tenant has no branding for a logo; set the branding first")
            changed = replace(changed, branding=replace(changed.branding, logo=logo))
        return replace(changed, updated_at=now, updated_by=by)

    def branding_claims(self, issued_at: int) -> dict[str, object] | None:
        """The claims of the signed branding overlay devices apply at launch; None if unbranded.

        It rides beside the content and outside every content hash: changing it re-seals nothing.
        """
        if self.branding is None:
            return None
        return {
            "iss": "content-service",
            "tenant_id": self.tenant_id,
            "revision": self.revision,
            "iat": issued_at,
            "branding": self.branding.as_dict(),
        }

    @property
    def branding_revision(self) -> int:
        """The revision of the overlay devices should hold: the settings' revision, 0 if unbranded.

        Every sync status carries it, so a device fetches the overlay only when it changed.
        """
        return self.revision if self.branding is not None else 0

    def auto_revoke(self, default: bool) -> bool:
        """Whether a corroborated tamper report revokes the bundle for this tenant."""
        return default if self.tamper_auto_revoke is None else self.tamper_auto_revoke

    def require_zone(self, requested: str | None, served_zone: str) -> str:
        """The zone a new bundle gets: the tenant's. Another zone in the request conflicts with the
        tenant's settings (a 409); a tenant of another zone than this deployment's is refused (its
        data never lands here)."""
        if requested is not None and requested != self.zone:
            raise InvalidTransition(
                f"tenant {self.tenant_id} is in zone {self.zone}, not {requested}", zone=self.zone
            )
        if self.zone != served_zone:
            raise InvalidTransition(
                f"tenant {self.tenant_id} is served from zone {self.zone}; this deployment serves {served_zone}",
                zone=self.zone,
            )
        return self.zone
