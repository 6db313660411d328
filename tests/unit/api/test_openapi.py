"""The committed OpenAPI document is the one the code generates, and it documents every route."""

from __future__ import annotations

import json
from pathlib import Path

from content_service.api.app import openapi_document

COMMITTED = Path(__file__).parents[3] / "docs" / "openapi.json"


def test_the_committed_openapi_document_is_up_to_date():
    generated = json.loads(openapi_document())
    committed = json.loads(COMMITTED.read_text())
    assert committed == generated, "docs/openapi.json is stale: run `make openapi` and commit it"


def test_every_route_is_documented_with_its_parameters():
    document = json.loads(openapi_document())
    paths = document["paths"]
    assert set(paths) >= {
        "/v1/uploads",
        "/v1/packages",
        "/v1/packages/{package_id}",
        "/v1/packages/{package_id}/manifest",
    }
    list_params = {p["name"] for p in paths["/v1/packages"]["get"]["parameters"]}
    assert list_params == {"cursor", "limit"}
    assert "CreateUpload" in document["components"]["schemas"]


def _operations(document):
    return [
        (method, path, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    ]


def test_every_error_is_documented_as_a_problem_document_and_every_creation_has_a_location():
    document = json.loads(openapi_document())
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for method, path, operation in _operations(document):
        responses = operation["responses"]
        statuses = {int(status) for status in responses}
        for status in statuses - {200, 201, 202}:
            content = responses[str(status)]["content"]
            assert set(content) == {"application/problem+json"}, (method, path, status)
            assert content["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
        assert len(statuses & {200, 201, 202}) == 1, (method, path)
        if 201 in statuses:
            assert "Location" in responses["201"]["headers"], (method, path)
        if operation["security"]:
            assert {401, 403} <= statuses, (method, path)
        if "requestBody" in operation:
            assert {400, 413, 415, 422} <= statuses, (method, path)
        if any(p["in"] == "path" for p in operation.get("parameters", [])):
            assert 404 in statuses, (method, path)


def test_creating_calls_document_their_idempotency_key_pattern():
    document = json.loads(openapi_document())
    keyed = [
        operation["operationId"]
        for _, _, operation in _operations(document)
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "header" and parameter["name"].lower() == "idempotency-key"
        and parameter["required"] and parameter["schema"]["pattern"] == "^[A-Za-z0-9._:-]{8,128}$"
    ]
    assert {"create_bundle", "create_export"} <= set(keyed)
