"""Tenant settings: a zone chosen once, branding that cannot smuggle markup, a tamper policy."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from content_service.domain.errors import InvalidTransition, ValidationFailed
from content_service.domain.tenant import UNSET, Branding, TenantSettings
from content_service.domain.zones import DEFAULT_ZONES, Zones

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
ZONES = Zones.parse(DEFAULT_ZONES)


def test_the_default_zones_are_eu_and_us_with_their_primary_first() -> None:
    assert ZONES.names == ("eu", "us")
    assert ZONES.get("eu").regions == ("eu-west-1", "eu-central-1")
    assert ZONES.get("us").primary == "us-east-1"
    with pytest.raises(ValidationFailed, match="unknown residency zone 'ap'"):
        ZONES.get("ap")


@pytest.mark.parametrize(
    "text",
    ["", "eu", "eu=", "EU=eu-west-1", "eu=eu-west", "eu=eu-west-1;eu=eu-central-1", "eu=eu-west-1;us=eu-west-1"],
)
def test_a_malformed_zone_configuration_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="RESIDENCY_ZONES"):
        Zones.parse(text)


def test_a_tenant_without_settings_has_the_deployments_zone_and_default_policy() -> None:
    settings = TenantSettings.defaults("acme", "eu")
    assert (settings.zone, settings.revision, settings.branding) == ("eu", 0, None)
    assert settings.auto_revoke(default=True) is True
    assert settings.auto_revoke(default=False) is False


def test_the_zone_is_chosen_once_and_then_only_a_migration_moves_it() -> None:
    first = TenantSettings.defaults("acme", "eu").change(zones=ZONES, by="root", now=NOW, zone="us")
    assert (first.zone, first.updated_by, first.updated_at) == ("us", "root", NOW)
    stored = TenantSettings(**{**first.__dict__, "revision": 1})
    with pytest.raises(InvalidTransition, match="residency migration"):
        stored.change(zones=ZONES, by="root", now=NOW, zone="eu")
    assert stored.change(zones=ZONES, by="root", now=NOW, zone="us").zone == "us"
    with pytest.raises(ValidationFailed):
        TenantSettings.defaults("acme", "eu").change(zones=ZONES, by="root", now=NOW, zone="mars")


def test_a_change_leaves_unset_fields_and_none_removes_them() -> None:
    branded = TenantSettings.defaults("acme", "eu").change(
        zones=ZONES, by="root", now=NOW, tamper_auto_revoke=False, branding=Branding("Acme", "#112233")
    )
    assert branded.auto_revoke(default=True) is False
    kept = branded.change(zones=ZONES, by="root", now=NOW, tamper_auto_revoke=UNSET, branding=UNSET)
    assert (kept.tamper_auto_revoke, kept.branding) == (False, Branding("Acme", "#112233"))
    cleared = branded.change(zones=ZONES, by="root", now=NOW, tamper_auto_revoke=None, branding=None)
    assert (cleared.tamper_auto_revoke, cleared.branding) == (None, None)


def test_a_bundle_gets_the_tenants_zone_and_another_zone_is_refused() -> None:
    settings = TenantSettings.defaults("acme", "eu")
    assert settings.require_zone(None, "eu") == "eu"
    assert settings.require_zone("eu", "eu") == "eu"
    with pytest.raises(InvalidTransition, match="in zone eu, not us"):
        settings.require_zone("us", "eu")
    with pytest.raises(InvalidTransition, match="served from zone eu"):
        settings.require_zone(None, "us")


@pytest.mark.parametrize(
    "branding",
    [
        {"name": "", "primary_colour": "#112233"},
        {"name": "A" * 101, "primary_colour": "#112233"},
        {"name": "Acme\u202e", "primary_colour": "#112233"},
        {"name": "Ac\x00me", "primary_colour": "#112233"},
        {"name": "Acme", "primary_colour": "red"},
        {"name": "Acme", "primary_colour": "#112233", "secondary_colour": "#12345"},
        {"name": "Acme", "primary_colour": "#112233", "css_properties": (("color", "red"),)},
        {"name": "Acme", "primary_colour": "#112233", "css_properties": (("--x", "red;}body{"),)},
        {"name": "Acme", "primary_colour": "#112233", "css_properties": (("--x", "url(https://evil)"),)},
        {"name": "Acme", "primary_colour": "#112233", "css_properties": (("--x", "<script>"),)},
        {"name": "Acme", "primary_colour": "#112233", "css_properties": (("--x", "a /* b"),)},
        {"name": "Acme", "primary_colour": "#112233", "css_properties": (("--x", "1"), ("--x", "2"))},
        {"name": "Acme", "primary_colour": "#112233", "css_properties": tuple((f"--p{i}", "1") for i in range(51))},
    ],
)
def test_branding_that_could_hide_text_or_inject_css_is_refused(branding: dict) -> None:
    with pytest.raises(ValidationFailed):
        Branding(**branding)


def test_plain_branding_is_kept_with_its_name_trimmed() -> None:
    branding = Branding(" Acme Learning ", "#0A5CFF", "#ffffff", (("--brand-radius", "4px"), ("--font", "'Inter', sans-serif")))
    assert branding.name == "Acme Learning"
    assert dict(branding.css_properties)["--font"] == "'Inter', sans-serif"
