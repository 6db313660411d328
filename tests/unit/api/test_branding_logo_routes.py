"""The logo routes on fakes: admins upload (raw image body) and remove it; everyone reads it."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from content_service.domain.tenant import Branding, TenantSettings
from tests.fakes import FakeBrandingAssets
from tests.logos import SVG, jpeg_header, png
from tests.unit.api.test_routes import api_event, call, resolve, with_content_type
from tests.unit.api.test_routes import deps as deps  # noqa: F401 (the fixture)
from tests.unit.api.test_tenant_routes import settings as settings  # noqa: F401 (the fixture)

LOGO = "/v1/tenant/branding/logo"


@pytest.fixture
def store(deps, settings):  # noqa: F811
    """The tenant branded (no logo yet), and the assets its logo would be stored in."""
    settings.items["tenant-a"] = TenantSettings("tenant-a", "eu", branding=Branding("Acme", "#0a5cff"), revision=1)
    assets = FakeBrandingAssets()
    deps.__dict__.update(branding_assets=assets)
    return settings, assets


def raw(method: str, data: bytes | None = None, content_type: str | None = "image/png", roles: str = "admin"):
    """A request with a raw body, as API Gateway hands a binary media type over (base64)."""
    event = with_content_type(api_event(method, LOGO, roles=roles), content_type)
    event["body"] = None if data is None else base64.b64encode(data).decode()
    event["isBase64Encoded"] = data is not None
    status, headers, response = resolve(event)
    body = response["body"] or ""
    return status, headers, base64.b64decode(body) if response.get("isBase64Encoded") else body


def test_an_admin_uploads_a_logo_the_branding_then_names_and_everyone_reads(store) -> None:
    settings, assets = store
    data = png()
    status, _, body = raw("PUT", data)
    assert status == 200, body
    view = json.loads(body)
    logo = {"sha256": hashlib.sha256(data).hexdigest(), "media_type": "image/png", "size": len(data)}
    assert view["branding"]["logo"] == logo and view["branding"]["name"] == "Acme"
    assert view["revision"] == 2  # the branding's revision moved on: devices fetch the overlay again
    assert assets.objects == {("tenant-a", logo["sha256"]): data}

    status, headers, served = raw("GET", roles="learner")
    assert status == 200 and served == data
    assert headers["Content-Type"] == "image/png" and headers["X-Content-Type-Options"] == "nosniff"
    assert headers["ETag"] == f'"{logo["sha256"]}"'

    # A later branding change (PATCH) keeps the logo; the overlay's claims carry it.
    status, _, patched = call(
        "PATCH", "/v1/tenant/settings", body={"branding": {"name": "Acme 2", "primary_colour": "#000000"}}, roles="admin"
    )
    assert status == 200 and patched["branding"]["logo"] == logo
    claims = settings.items["tenant-a"].branding_claims(1)
    assert claims is not None and claims["branding"]["logo"] == logo  # type: ignore[index]


def test_the_same_logo_again_is_the_same_object_and_delete_removes_it_from_the_branding(store) -> None:
    settings, assets = store
    assert raw("PUT", png())[0] == 200 and raw("PUT", png())[0] == 200
    assert len(assets.objects) == 1
    status, _, body = raw("DELETE")
    assert status == 200 and json.loads(body)["branding"]["logo"] is None
    assert settings.items["tenant-a"].branding.name == "Acme"  # type: ignore[union-attr]
    revision = settings.items["tenant-a"].revision
    assert raw("DELETE")[0] == 200 and settings.items["tenant-a"].revision == revision  # nothing to remove
    status, headers, body = raw("GET", roles="learner")
    assert status == 404 and headers["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("data", "content_type", "status", "problem"),
    [
        (SVG, "image/svg+xml", 415, "unsupported-media-type"),
        (png(), None, 415, "unsupported-media-type"),
        (png(), "application/json", 415, "unsupported-media-type"),
        (png(), "image/jpeg", 422, "validation-failed"),
        (jpeg_header(), "image/png", 422, "validation-failed"),
        (SVG, "image/png", 422, "validation-failed"),
        (b"", "image/png", 422, "validation-failed"),
        (png() + b"\x00" * (256 * 1024), "image/png", 413, "payload-too-large"),
    ],
    ids=["svg", "no-type", "json-type", "png-declared-jpeg", "jpeg-declared-png", "svg-declared-png", "empty", "too-big"],
)
def test_bad_logos_are_a_problem_that_writes_nothing(store, data, content_type, status, problem) -> None:
    settings, assets = store
    before = settings.items["tenant-a"]
    got, headers, body = raw("PUT", data, content_type)
    assert got == status, body
    assert headers["Content-Type"] == "application/problem+json"
    assert json.loads(body)["type"].endswith(problem)
    assert settings.items["tenant-a"] == before and assets.objects == {}


def test_a_logo_for_a_tenant_without_branding_is_a_409_that_writes_nothing(store) -> None:
    settings, assets = store
    settings.items.clear()
    status, headers, body = raw("PUT", png())
    assert status == 409 and "set the branding first" in json.loads(body)["detail"]
    assert settings.items == {} and assets.objects == {}
    assert raw("GET", roles="learner")[0] == 404


@pytest.mark.parametrize("roles", ["learner", "author learner", "catalog"])
def test_only_admins_upload_or_remove_a_logo(store, roles) -> None:
    settings, assets = store
    before = settings.items["tenant-a"]
    assert raw("PUT", png(), roles=roles)[0] == 403
    assert raw("DELETE", roles=roles)[0] == 403
    assert settings.items["tenant-a"] == before and assets.objects == {}
