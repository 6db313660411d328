"""The tenant settings routes on fakes: admins read and change them; a change is partial."""

from __future__ import annotations

import pytest

from content_service.api import tenant_routes
from tests.fakes import FakeTenantSettings
from tests.unit.api.test_routes import call
from tests.unit.api.test_routes import deps as deps  # noqa: F401 (the fixture)


@pytest.fixture
def settings(deps, monkeypatch):  # noqa: F811
    store = FakeTenantSettings()
    deps.__dict__.update(tenant_settings=store)
    monkeypatch.setattr(tenant_routes, "dependencies", lambda: deps)
    return store


def test_a_tenant_without_settings_reads_the_deployments_defaults(settings) -> None:
    status, _, body = call("GET", "/v1/tenant/settings", roles="admin learner")
    assert status == 200
    assert body["zone"] == "eu" and body["revision"] == 0 and body["branding"] is None
    assert body["tamper_auto_revoke"] is True and body["tamper_auto_revoke_set"] is False


def test_an_admin_changes_only_the_fields_sent(settings) -> None:
    branding = {"name": "Acme", "primary_colour": "#0a5cff", "css_properties": {"--brand-radius": "4px"}}
    status, _, body = call(
        "PATCH", "/v1/tenant/settings", body={"branding": branding, "tamper_auto_revoke": False}, roles="admin"
    )
    assert status == 200, body
    assert body["branding"]["css_properties"] == {"--brand-radius": "4px"}
    assert body["tamper_auto_revoke"] is False and body["revision"] == 1 and body["updated_by"] == "user-1"

    status, _, body = call("PATCH", "/v1/tenant/settings", body={"tamper_auto_revoke": None}, roles="admin")
    assert status == 200
    assert body["branding"]["name"] == "Acme"
    assert body["tamper_auto_revoke"] is True and body["tamper_auto_revoke_set"] is False
    assert settings.items["tenant-a"].revision == 2


def test_moving_zones_after_the_first_write_needs_a_migration(settings) -> None:
    assert call("PATCH", "/v1/tenant/settings", body={"tamper_auto_revoke": True}, roles="admin")[0] == 200
    status, headers, body = call("PATCH", "/v1/tenant/settings", body={"zone": "us"}, roles="admin")
    assert status == 409
    assert headers["Content-Type"] == "application/problem+json"
    assert "residency migration" in body["detail"]
    assert settings.items["tenant-a"].zone == "eu"


@pytest.mark.parametrize(
    "body",
    [
        {"zone": "mars"},
        {"tamper_auto_revoke": "false"},
        {"branding": {"name": "Acme", "primary_colour": "#0a5cff", "css_properties": {"--x": "url(x)"}}},
        {"branding": {"name": "Acme\u202e", "primary_colour": "#0a5cff"}},
        {"colour": "#000000"},
    ],
    ids=["unknown-zone", "string-bool", "css-url", "bidi-name", "unknown-field"],
)
def test_bad_settings_are_a_422_that_changes_nothing(settings, body) -> None:
    status, headers, _ = call("PATCH", "/v1/tenant/settings", body=body, roles="admin")
    assert status == 422
    assert headers["Content-Type"] == "application/problem+json"
    assert settings.items == {}


@pytest.mark.parametrize("roles", ["learner", "author learner", "catalog"])
def test_only_admins_see_or_change_settings(settings, roles) -> None:
    assert call("GET", "/v1/tenant/settings", roles=roles)[0] == 403
    assert call("PATCH", "/v1/tenant/settings", body={"tamper_auto_revoke": False}, roles=roles)[0] == 403
    assert settings.items == {}
