"""Bundles over real HTTP on the local stack: idempotent creation, licences, signed downloads, isolation."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator

import pytest
import requests

from content_service.client import ApiClient
from content_service.crypto.licence import device_public_jwk, generate_device_key
from content_service.crypto.signing import verify
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


class Api:
    """Raw HTTP calls, so status codes and problem bodies are checked as a client sees them."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return requests.request(method, self.base + path, headers=headers, timeout=30, **kwargs)


@pytest.fixture(scope="module")
def built(stack: LocalStack) -> dict:
    client = ApiClient(stack.api_url, stack.mint_token("tenant-a", "author-1", roles=["author"]))
    return upload_and_build(client, sample_zip_bytes("welcome"))


@pytest.fixture(scope="module")
def learner(stack: LocalStack) -> Api:
    return Api(stack.api_url, stack.mint_token("tenant-a", "learner-1"))


@pytest.fixture(scope="module")
def catalog(stack: LocalStack) -> Api:
    return Api(stack.api_url, stack.mint_service_token("tenant-a", "catalog", ["catalog"]))


def enroll(api: Api) -> str:
    response = api.call("POST", "/v1/devices", json={"public_key": device_public_jwk(generate_device_key())})
    assert response.status_code == 201, response.text
    return response.json()["device_id"]


def new_bundle(
    api: Api, package_id: str, key: str | None = None, user: str = "learner-1"
) -> requests.Response:
    return api.call(
        "POST",
        "/v1/bundles",
        json={"packages": [{"package_id": package_id}], "user_id": user},
        headers={"Idempotency-Key": key or uuid.uuid4().hex},
    )


def test_same_idempotency_key_same_body_is_the_same_bundle_and_another_body_is_422(catalog: Api, built: dict):
    key = uuid.uuid4().hex
    first = new_bundle(catalog, built["package_id"], key)
    again = new_bundle(catalog, built["package_id"], key)
    assert first.status_code == 201 and again.status_code == 201
    assert first.json()["bundle_id"] == again.json()["bundle_id"]
    other = catalog.call(
        "POST",
        "/v1/bundles",
        json={"packages": [{"package_id": built["package_id"], "version": 1}], "user_id": "learner-1"},
        headers={"Idempotency-Key": key},
    )
    assert other.status_code == 422
    assert other.headers["Content-Type"].startswith("application/problem+json")
    missing = catalog.call(
        "POST",
        "/v1/bundles",
        json={"packages": [{"package_id": built["package_id"]}], "user_id": "learner-1"},
    )
    assert missing.status_code == 422


def test_a_licence_is_signed_by_a_key_in_the_published_jwks(
    stack: LocalStack, learner: Api, catalog: Api, built: dict
):
    bundle = new_bundle(catalog, built["package_id"]).json()
    device_id = enroll(learner)
    issued = learner.call(
        "POST", f"/v1/bundles/{bundle['bundle_id']}/licenses", json={"device_id": device_id}
    )
    assert issued.status_code == 201, issued.text
    jwks = requests.get(f"{stack.api_url}/v1/.well-known/jwks.json", timeout=10)
    assert jwks.status_code == 200
    claims = verify(issued.json()["license"], jwks.json(), typ="license+jwt")
    assert claims["device_id"] == device_id and claims["bundle_id"] == bundle["bundle_id"]
    assert claims["keys"][0]["package_id"] == built["package_id"]


def test_signed_download_urls_serve_the_container_through_the_edge(learner: Api, catalog: Api, built: dict):
    bundle = new_bundle(catalog, built["package_id"]).json()
    device_id = enroll(learner)
    download = learner.call(
        "GET", f"/v1/bundles/{bundle['bundle_id']}/download", params={"device_id": device_id}
    )
    assert download.status_code == 200, download.text
    container = download.json()["containers"][0]
    body = requests.get(container["url"], timeout=30)
    assert body.status_code == 200
    assert hashlib.sha256(body.content).hexdigest() == container["sha256"]
    assert len(body.content) == container["size"]
    tampered_url = container["url"].replace("Signature=", "Signature=A")
    assert requests.get(tampered_url, timeout=30).status_code == 403


def test_another_tenant_sees_nothing_and_a_revoked_device_gets_nothing(
    stack: LocalStack, learner: Api, catalog: Api, built: dict
):
    bundle = new_bundle(catalog, built["package_id"]).json()
    device_id = enroll(learner)
    stranger = Api(stack.api_url, stack.mint_token("tenant-b", "learner-1"))
    assert stranger.call("GET", f"/v1/bundles/{bundle['bundle_id']}").status_code == 404
    refused = stranger.call(
        "POST", f"/v1/bundles/{bundle['bundle_id']}/licenses", json={"device_id": device_id}
    )
    assert refused.status_code == 404
    assert learner.call("POST", f"/v1/devices/{device_id}/revoke", json={"reason": "lost"}).status_code == 200
    revoked = learner.call(
        "POST", f"/v1/bundles/{bundle['bundle_id']}/licenses", json={"device_id": device_id}
    )
    assert revoked.status_code == 409
    assert revoked.headers["Content-Type"].startswith("application/problem+json")
    denied = learner.call(
        "GET", f"/v1/bundles/{bundle['bundle_id']}/download", params={"device_id": device_id}
    )
    assert denied.status_code == 409


def test_another_users_device_cannot_be_licensed(stack: LocalStack, learner: Api, catalog: Api, built: dict):
    bundle = new_bundle(catalog, built["package_id"]).json()
    other_user = Api(stack.api_url, stack.mint_token("tenant-a", "learner-2"))
    device_id = enroll(other_user)
    refused = learner.call(
        "POST", f"/v1/bundles/{bundle['bundle_id']}/licenses", json={"device_id": device_id}
    )
    # Another user's device is not found: neither its existence nor its state is revealed.
    assert refused.status_code == 404


def test_the_device_cap_is_enforced(stack: LocalStack):
    api = Api(stack.api_url, stack.mint_token("tenant-cap", "learner-cap"))
    statuses = [
        api.call(
            "POST", "/v1/devices", json={"public_key": device_public_jwk(generate_device_key())}
        ).status_code
        for _ in range(6)
    ]
    assert statuses == [201] * 5 + [409]


def test_a_tamper_report_is_accepted(learner: Api, catalog: Api, built: dict):
    bundle = new_bundle(catalog, built["package_id"]).json()
    device_id = enroll(learner)
    response = learner.call(
        "POST",
        f"/v1/devices/{device_id}/tamper-reports",
        json={"bundle_id": bundle["bundle_id"], "kind": "container", "detail": "segment tag failed"},
    )
    assert response.status_code == 202 and response.json()["report_id"].startswith("tmp_")


def test_a_bundle_gets_the_tenants_zone_and_naming_another_zone_is_a_409(
    stack: LocalStack, catalog: Api, built: dict
) -> None:
    admin = Api(stack.api_url, stack.mint_token("tenant-a", "root", roles=["admin"]))
    zone = admin.call("GET", "/v1/tenant/settings").json()["zone"]
    created = new_bundle(catalog, built["package_id"])
    assert created.status_code == 201 and created.json()["residency_zone"] == zone

    other = "us" if zone != "us" else "eu"
    refused = catalog.call(
        "POST",
        "/v1/bundles",
        json={"packages": [{"package_id": built["package_id"]}], "user_id": "learner-1", "residency_zone": other},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert refused.status_code == 409, refused.text
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert f"in zone {zone}, not {other}" in refused.json()["detail"]


def test_the_local_stack_keeps_the_figures_local_metrics_shows(stack: LocalStack, catalog: Api, built: dict) -> None:
    from content_service.local.metrics_view import read_summaries
    from content_service.local.stack import LOCAL_METRICS_FILE

    assert new_bundle(catalog, built["package_id"]).status_code == 201
    shown = {(s.name, dict(s.dimensions).get("operation")) for s in read_summaries(stack.home / LOCAL_METRICS_FILE)}
    assert ("ApiRequests", "create_bundle") in shown
    assert ("BuildSucceeded", None) in shown
