"""Branding: plain text, #rrggbb colours and CSS custom properties that cannot smuggle anything."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from content_service.domain.errors import InvalidTransition, ValidationFailed
from content_service.domain.tenant import MAX_CSS_PROPERTIES, Branding, TenantSettings
from content_service.domain.zones import DEFAULT_ZONES, Zones

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
ZONES = Zones.parse(DEFAULT_ZONES)


def refused(message: str):
    return pytest.raises(ValidationFailed, match="^" + re.escape(message) + "$")


def test_a_brand_name_is_stripped_and_kept() -> None:
    branding = Branding("  Acme Learning ", "#A1b2C3", "#000000", (("--accent", "#fff"),))
    assert branding.name == "Acme Learning"
    assert branding.as_dict() == {
        "name": "Acme Learning",
        "primary_colour": "#A1b2C3",
        "secondary_colour": "#000000",
        "css_properties": {"--accent": "#fff"},
    }
    assert Branding("x" * 100, "#000000").name == "x" * 100
    assert Branding("A", "#000000").as_dict()["secondary_colour"] is None


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_a_brand_name_needs_1_to_100_characters(name: str) -> None:
    with refused("the brand name needs 1 to 100 characters"):
        Branding(name, "#000000")


@pytest.mark.parametrize("name", ["Acme\u202eevil", "Ac\u200bme", "Acme\x07", "Acme\ue000", "Acme\u0378"])
def test_a_brand_name_with_invisible_or_control_characters_is_refused(name: str) -> None:
    with refused("the brand name contains control or invisible characters"):
        Branding(name, "#000000")


@pytest.mark.parametrize(
    ("primary", "secondary"), [("#00000", None), ("000000", None), ("#0000000", None), ("#00000g", None),
                               ("#000000", "red"), ("#000000", "#12345")]
)
def test_colours_must_be_hash_rrggbb(primary: str, secondary: str | None) -> None:
    bad = secondary if secondary is not None else primary
    with refused(f"colour {bad!r} is not #rrggbb"):
        Branding("A", primary, secondary)


def test_at_most_fifty_css_properties_each_named_once() -> None:
    many = tuple((f"--p{i}", "1px") for i in range(MAX_CSS_PROPERTIES))
    assert len(Branding("A", "#000000", None, many).css_properties) == 50
    with refused("at most 50 CSS custom properties"):
        Branding("A", "#000000", None, (*many, ("--extra", "1px")))
    with refused("a CSS custom property appears twice"):
        Branding("A", "#000000", None, (("--a", "1px"), ("--a", "2px")))


@pytest.mark.parametrize("name", ["color", "-a", "--A", "--1a", "--a_b", "--" + "a" * 64])
def test_a_css_property_name_must_be_a_lowercase_custom_property(name: str) -> None:
    with refused(f"{name!r} is not a CSS custom property name (--lowercase-name)"):
        Branding("A", "#000000", None, ((name, "1px"),))
    assert Branding("A", "#000000", None, (("--a" + "b" * 62, "1px"),))


@pytest.mark.parametrize(
    "value",
    ["", "red;", "a{b}", "<b>", "a\\b", "url(x)", "URL (x)", "expression(x)", "a @import", "a /* b", "x" * 201],
)
def test_a_css_value_that_could_escape_its_declaration_is_refused(value: str) -> None:
    with refused("the value of --a is not a plain CSS value"):
        Branding("A", "#000000", None, (("--a", value),))


def test_plain_css_values_are_accepted() -> None:
    values = ("#fff", "12px", "1.5em", "'Open Sans', serif", "rgba(0, 0, 0, 0.5)", "calc(100% - 2px)", "x" * 200)
    branding = Branding("A", "#000000", None, tuple((f"--v{i}", v) for i, v in enumerate(values)))
    assert dict(branding.css_properties)["--v4"] == "rgba(0, 0, 0, 0.5)"


def test_branding_from_its_dict_form_round_trips_with_sorted_properties() -> None:
    data = {"name": "A", "primary_colour": "#000000", "secondary_colour": None,
            "css_properties": {"--b": "1px", "--a": "2px"}}
    branding = Branding.from_dict(data)
    assert branding == Branding("A", "#000000", None, (("--a", "2px"), ("--b", "1px")))
    assert Branding.from_dict(branding.as_dict()) == branding
    assert Branding.from_dict({"name": "A", "primary_colour": "#000000"}).css_properties == ()
    assert Branding.from_dict({"name": "A", "primary_colour": "#000000", "css_properties": None}) == Branding(
        "A", "#000000"
    )
    assert Branding.from_dict({"name": "A", "primary_colour": "#000000", "secondary_colour": "#111111"}) == (
        Branding("A", "#000000", "#111111")
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "branding is not an object"),
        ("A", "branding is not an object"),
        ({"name": "A", "primary_colour": "#000000", "css_properties": ["--a"]}, "css_properties is not an object of strings"),
        ({"name": "A", "primary_colour": "#000000", "css_properties": {"--a": 1}}, "css_properties is not an object of strings"),
        ({"name": "A", "primary_colour": "#000000", "css_properties": {1: "x"}}, "css_properties is not an object of strings"),
        ({"primary_colour": "#000000"}, "branding needs a name and colours as strings"),
        ({"name": "A"}, "branding needs a name and colours as strings"),
        ({"name": "A", "primary_colour": 1}, "branding needs a name and colours as strings"),
        ({"name": 1, "primary_colour": "#000000"}, "branding needs a name and colours as strings"),
        ({"name": "A", "primary_colour": "#000000", "secondary_colour": 5}, "branding needs a name and colours as strings"),
        ({"name": "", "primary_colour": "#000000"}, "the brand name needs 1 to 100 characters"),
    ],
)
def test_branding_from_a_bad_dict_is_refused(data: object, message: str) -> None:
    with refused(message):
        Branding.from_dict(data)


def test_branding_claims_carry_issuer_tenant_revision_time_and_branding() -> None:
    settings = TenantSettings("t1", "eu", branding=Branding("A", "#000000"), revision=3)
    assert settings.branding_claims(1700) == {
        "iss": "content-service",
        "tenant_id": "t1",
        "revision": 3,
        "iat": 1700,
        "branding": Branding("A", "#000000").as_dict(),
    }
    assert TenantSettings("t1", "eu").branding_claims(1700) is None


def test_the_branding_revision_devices_hold_is_the_settings_revision_or_0_unbranded() -> None:
    assert TenantSettings("t1", "eu", branding=Branding("A", "#000000"), revision=3).branding_revision == 3
    assert TenantSettings("t1", "eu", tamper_auto_revoke=True, revision=4).branding_revision == 0


def test_defaults_are_the_served_zone_unwritten_and_unbranded() -> None:
    assert TenantSettings.defaults("t1", "us") == TenantSettings("t1", "us", None, None, 0, None, None)


def test_a_change_records_who_and_when_and_leaves_unset_fields_alone() -> None:
    branded = TenantSettings("t1", "eu", tamper_auto_revoke=True, branding=Branding("A", "#000000"), revision=2)
    changed = branded.change(zones=ZONES, by="admin", now=NOW)
    assert (changed.tamper_auto_revoke, changed.branding, changed.zone) == (True, Branding("A", "#000000"), "eu")
    assert (changed.updated_at, changed.updated_by) == (NOW, "admin")
    removed = branded.change(zones=ZONES, by="admin", now=NOW, tamper_auto_revoke=None, branding=None)
    assert (removed.tamper_auto_revoke, removed.branding) == (None, None)
    assert branded.change(zones=ZONES, by="a", now=NOW, zone="eu").zone == "eu"


def test_the_zone_is_chosen_once() -> None:
    fresh = TenantSettings("t1", "eu")
    assert fresh.change(zones=ZONES, by="a", now=NOW, zone="us").zone == "us"
    with pytest.raises(ValidationFailed):
        fresh.change(zones=ZONES, by="a", now=NOW, zone="ap")
    with pytest.raises(InvalidTransition, match="^tenant t1 is in zone eu; moving it needs a residency migration$"):
        TenantSettings("t1", "eu", revision=1).change(zones=ZONES, by="a", now=NOW, zone="us")


def test_a_bundle_gets_the_tenant_zone_and_only_where_that_zone_is_served() -> None:
    settings = TenantSettings("t1", "eu")
    assert settings.require_zone(None, "eu") == "eu"
    assert settings.require_zone("eu", "eu") == "eu"
    with pytest.raises(InvalidTransition, match="^tenant t1 is in zone eu, not us$") as raised:
        settings.require_zone("us", "eu")
    assert raised.value.extensions == {"zone": "eu"}
    with pytest.raises(InvalidTransition, match="^tenant t1 is served from zone eu; this deployment serves us$"):
        settings.require_zone(None, "us")


def test_the_stylesheet_puts_colours_and_custom_properties_on_root_once_each() -> None:
    css = Branding("A", "#000000", None, (("--brand-primary", "red"), ("--gap", "4px"))).stylesheet()
    assert css == ":root {\n  --brand-primary: #000000;\n  --gap: 4px;\n}\n"
    assert "--brand-secondary: #111111;" in Branding("A", "#000000", "#111111").stylesheet()
