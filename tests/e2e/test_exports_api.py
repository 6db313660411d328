"""Exports over real HTTP on the local stack: request (Idempotency-Key) → export function → download."""

from __future__ import annotations

import io
import time
import uuid
import zipfile
from collections.abc import Iterator

import pytest
import requests

from content_service.client import ApiClient
from content_service.local.runner import RunnerSettings
from content_service.local.stack import LocalStack
from content_service.samples import sample_zip_bytes
from tests.e2e.uploads import upload_and_build


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(
        home=tmp_path_factory.mktemp("home"), runner_settings=RunnerSettings(schedules_enabled=False)
    ) as running:
        yield running


@pytest.fixture(scope="module")
def package_id(stack: LocalStack) -> str:
    client = ApiClient(stack.api_url, stack.mint_token("tenant-a", "admin-1", roles=["admin"]))
    package = upload_and_build(client, sample_zip_bytes("welcome"))
    return package["package_id"]


def call(stack: LocalStack, method: str, path: str, tenant: str = "tenant-a", **kwargs) -> requests.Response:
    headers = {
        "Authorization": f"Bearer {stack.mint_token(tenant, 'admin-1', roles=['admin'])}",
        **kwargs.pop("headers", {}),
    }
    return requests.request(method, stack.api_url + path, headers=headers, timeout=30, **kwargs)


def wait_done(stack: LocalStack, export_id: str) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        view = call(stack, "GET", f"/v1/exports/{export_id}").json()
        if view["state"] != "pending":
            return view
        time.sleep(0.1)
    pytest.fail(f"export {export_id} still pending")


@pytest.mark.parametrize(("fmt", "descriptor"), [("scorm2004", "imsmanifest.xml"), ("cmi5", "cmi5.xml")])
def test_an_export_is_built_by_the_export_function_and_downloadable(stack, package_id, fmt, descriptor):
    body = {"format": fmt, "options": {"mastery_score": 0.8, "reporting": "passed/failed"}}
    key = uuid.uuid4().hex
    accepted = call(
        stack, "POST", f"/v1/packages/{package_id}/exports", json=body, headers={"Idempotency-Key": key}
    )
    assert accepted.status_code == 202, accepted.text
    again = call(
        stack, "POST", f"/v1/packages/{package_id}/exports", json=body, headers={"Idempotency-Key": key}
    )
    assert again.json()["export_id"] == accepted.json()["export_id"]
    view = wait_done(stack, accepted.json()["export_id"])
    assert view["state"] == "done", view
    data = requests.get(view["download_url"], timeout=30).content
    assert len(data) == view["size"]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert descriptor in archive.namelist()


def test_an_export_is_refused_for_bad_options_and_hidden_from_other_tenants(stack, package_id):
    bad = call(
        stack,
        "POST",
        f"/v1/packages/{package_id}/exports",
        json={"format": "pdf"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert bad.status_code == 422 and bad.headers["Content-Type"].startswith("application/problem+json")
    accepted = call(
        stack,
        "POST",
        f"/v1/packages/{package_id}/exports",
        json={"format": "scorm12"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    export_id = accepted.json()["export_id"]
    assert call(stack, "GET", f"/v1/exports/{export_id}", tenant="tenant-b").status_code == 404
    foreign = call(
        stack,
        "POST",
        f"/v1/packages/{package_id}/exports",
        tenant="tenant-b",
        json={"format": "scorm12"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert foreign.status_code == 404


def test_a_branded_export_carries_the_tenants_branding_and_an_unbranded_tenant_gets_a_422(stack, package_id):
    def create(body: dict) -> requests.Response:
        return call(
            stack, "POST", f"/v1/packages/{package_id}/exports", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
        )

    call(stack, "PATCH", "/v1/tenant/settings", json={"branding": None})
    refused = create({"format": "scorm12", "branding": True})
    assert refused.status_code == 409 and "no branding" in refused.json()["detail"]
    branding = {"name": "Acme", "primary_colour": "#0a5cff", "css_properties": {"--brand-radius": "4px"}}
    assert call(stack, "PATCH", "/v1/tenant/settings", json={"branding": branding}).status_code == 200
    accepted = create({"format": "scorm12", "branding": True})
    assert accepted.status_code == 202, accepted.text
    view = wait_done(stack, accepted.json()["export_id"])
    assert view["state"] == "done", view
    with zipfile.ZipFile(io.BytesIO(requests.get(view["download_url"], timeout=30).content)) as archive:
        assert b"--brand-radius: 4px;" in archive.read("content-branding.css")
        assert b"content-branding.css" in archive.read("imsmanifest.xml")
    call(stack, "PATCH", "/v1/tenant/settings", json={"branding": None})
