"""The API routes on fake adapters: status codes, bodies, problem+json and tenant scoping."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from content_service.api import app as api
from content_service.bootstrap import Dependencies
from content_service.domain.package import FileEntry, Launch, PackageManifest, Standard
from content_service.settings import Settings
from tests.fakes import FakeClock, FakePackageRepository, FakePackageStore, FakeUploadStore

EVENTS = Path(__file__).parents[3] / "events" / "api"


class Context:
    function_name = "api"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:api"
    aws_request_id = "req-1"


@pytest.fixture
def deps(tmp_path, monkeypatch):
    dependencies = Dependencies(Settings(import_limits={"max_upload_bytes": 10_000}))
    dependencies.clock = FakeClock()
    # Each adapter is a cached property; setting the attribute puts the fake in its place.
    dependencies.__dict__.update(
        packages=FakePackageRepository(), uploads=FakeUploadStore(tmp_path), store=FakePackageStore()
    )
    monkeypatch.setattr(api, "dependencies", lambda: dependencies)
    return dependencies


def api_event(
    method: str, path: str, *, body=None, query=None, tenant="tenant-a", claims=None, roles="author learner"
) -> dict:
    """The sample API Gateway event sent to ``path``: a JSON (or string) body, a query, and the
    authorizer's claims (a user of ``tenant`` with ``roles`` unless ``claims`` are given)."""
    event = copy.deepcopy(json.loads((EVENTS / "post_uploads.json").read_text()))
    event["httpMethod"] = method
    event["path"] = path
    event["requestContext"]["path"] = f"/Prod{path}"
    event["body"] = None if body is None else (body if isinstance(body, str) else json.dumps(body))
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
    event["requestContext"]["authorizer"] = (
        claims
        if claims is not None
        else {
            "principalId": "user-1",
            "tenant_id": tenant,
            "principal_id": "user-1",
            "principal_type": "user",
            "roles": roles,
            "token_use": "id",
        }
    )
    return event


def with_content_type(event: dict, content_type: str | None) -> dict:
    """``event`` with ``content_type`` as its only Content-Type header (none if it is None)."""
    headers = {k: v for k, v in event["headers"].items() if k != "Content-Type"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    event["headers"], event["multiValueHeaders"] = headers, {k: [v] for k, v in headers.items()}
    return event


def resolve(event: dict) -> tuple[int, dict[str, str], dict]:
    """The API's answer to ``event``: its status, its headers (the last value of each) and itself."""
    response = api.app.resolve(event, Context())
    headers = {name: values[-1] for name, values in response["multiValueHeaders"].items()}
    return response["statusCode"], headers, response


def call(
    method: str, path: str, *, body=None, query=None, tenant="tenant-a", claims=None, roles="author learner"
):
    """Send :func:`api_event` and read the JSON body of the answer."""
    status, headers, response = resolve(
        api_event(method, path, body=body, query=query, tenant=tenant, claims=claims, roles=roles)
    )
    return status, headers, json.loads(response["body"]) if response["body"] else None


def test_post_uploads_returns_201_with_a_presigned_put_and_a_building_package(deps):
    status, headers, body = call(
        "POST", "/v1/uploads", body={"content_type": "application/zip", "content_length": 99}
    )
    assert status == 201
    assert body["package"]["state"] == "building"
    assert body["upload"]["method"] == "PUT"
    assert body["upload"]["headers"] == {"Content-Type": "application/zip", "Content-Length": "99"}
    assert headers["Location"] == f"/Prod/v1/packages/{body['package']['package_id']}?version=1"


def test_an_upload_over_the_limit_is_a_413_problem(deps):
    status, headers, body = call(
        "POST", "/v1/uploads", body={"content_type": "application/zip", "content_length": 10_001}
    )
    assert status == 413
    assert headers["Content-Type"] == "application/problem+json"
    assert body["status"] == 413 and body["type"].endswith("payload-too-large")


@pytest.mark.parametrize(
    "body",
    [
        {"content_type": "text/plain", "content_length": 5},
        {"content_type": "application/zip", "content_length": 0},
        {"content_type": "application/zip"},
        {"content_type": "application/zip", "content_length": 5, "tenant_id": "tenant-b"},
    ],
)
def test_an_invalid_body_is_a_422_problem_listing_the_errors(deps, body):
    status, headers, problem = call("POST", "/v1/uploads", body=body)
    assert status == 422
    assert headers["Content-Type"] == "application/problem+json"
    assert problem["errors"] and problem["title"]


def test_a_package_is_readable_by_its_tenant_and_a_404_for_another(deps):
    _, _, created = call("POST", "/v1/uploads", body={"content_type": "application/zip", "content_length": 9})
    package_id = created["package"]["package_id"]
    status, _, body = call("GET", f"/v1/packages/{package_id}")
    assert status == 200 and body["package_id"] == package_id
    status, headers, problem = call("GET", f"/v1/packages/{package_id}", tenant="tenant-b")
    assert status == 404
    assert headers["Content-Type"] == "application/problem+json"


def test_a_request_without_tenant_claims_is_a_401_problem(deps):
    status, headers, _ = call(
        "GET", "/v1/packages", claims={"principal_id": "user-1", "principal_type": "user"}
    )
    assert status == 401
    assert headers["Content-Type"] == "application/problem+json"


def test_listing_pages_with_an_opaque_cursor_and_only_the_callers_packages(deps):
    for _ in range(3):
        call("POST", "/v1/uploads", body={"content_type": "application/zip", "content_length": 9})
    call(
        "POST",
        "/v1/uploads",
        body={"content_type": "application/zip", "content_length": 9},
        tenant="tenant-b",
    )
    status, _, first = call("GET", "/v1/packages", query={"limit": "2"})
    assert status == 200 and len(first["items"]) == 2 and first["next_cursor"]
    _, _, second = call("GET", "/v1/packages", query={"limit": "2", "cursor": first["next_cursor"]})
    assert len(second["items"]) == 1 and second["next_cursor"] is None


@pytest.mark.parametrize("limit", ["0", "101", "x"])
def test_a_bad_limit_is_a_422_problem(deps, limit):
    status, _, problem = call("GET", "/v1/packages", query={"limit": limit})
    assert status == 422 and problem["errors"][0]["loc"][-1] == "limit"


def test_an_unknown_route_is_a_404_problem(deps):
    status, headers, body = call("GET", "/v1/nothing-here")
    assert status == 404 and headers["Content-Type"] == "application/problem+json" and body["status"] == 404


def test_the_manifest_of_a_built_package_is_served_and_a_building_one_is_404(deps):
    _, _, created = call("POST", "/v1/uploads", body={"content_type": "application/zip", "content_length": 9})
    package_id = created["package"]["package_id"]
    assert call("GET", f"/v1/packages/{package_id}/manifest")[0] == 404
    package = deps.packages.get("tenant-a", package_id)
    manifest = PackageManifest(
        Standard.NATIVE,
        "T",
        "en",
        (Launch("e", "T", "index.html"),),
        (FileEntry("index.html", 1, "text/html", "0" * 64),),
    )
    deps.packages.save(package.mark_built(manifest, deps.clock.now()))
    deps.store.put_manifest("tenant-a", package_id, 1, manifest)
    status, _, body = call("GET", f"/v1/packages/{package_id}/manifest")
    assert status == 200 and body["manifest"]["content_hash"] == manifest.content_hash
    status, _, view = call("GET", f"/v1/packages/{package_id}")
    assert view["state"] == "built" and view["files"] == 1 and view["standard"] == "native"
