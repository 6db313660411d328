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
