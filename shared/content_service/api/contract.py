"""What Powertools' generated OpenAPI leaves out, added by rule so every route gets it.

Powertools documents a route's success as 200 and its validation error as an ``application/json``
422. The API answers more than that, by rules that hold for every route: a problem
(``application/problem+json``, RFC 9457) for 401 and 403 on every non-public route, for 400, 413
and 415 on every route with a body, for 404 on every route that names a resource, 409 on every
creating or changing call, 422 on every route with input; creating calls answer 201 (or 202 for
work that continues) with a ``Location`` header. Listing those rules here, instead of in each
route's decorator, keeps a new route documented without anyone remembering to.
"""

from __future__ import annotations

from typing import Any

from content_service.api.policy import policy_for
from content_service.domain.errors import PROBLEM_BASE

PROBLEM_JSON = "application/problem+json"

#: Operations whose success is not a 200, and whether the reply carries a Location header.
SUCCESS: dict[str, tuple[int, bool]] = {
    "create_upload": (201, True),
    "enroll_device": (201, True),
    "create_bundle": (201, True),
    "issue_licence": (201, True),
    "create_export": (202, True),
    "report_tamper": (202, False),
    "create_assistant_config": (202, True),
    "create_migration": (202, True),
}

#: Problems an operation answers beyond the rules above (its use case raises them).
EXTRA_PROBLEMS: dict[str, tuple[int, ...]] = {
    "create_upload": (404,),  # a new version of a package id that does not exist
    "list_devices": (404,),  # ?user_id= of another user, for a learner
    "list_bundles": (404,),
    "get_branding_logo": (404,),  # the tenant's branding has no logo
    "sync_device": (421,),  # the tenant moved zones and this zone no longer knows the device
}

_IMAGE = {"schema": {"type": "string", "format": "binary"}}
_LOGO_TYPES = ("image/png", "image/jpeg", "image/webp")

#: Operations whose body is not JSON (Powertools documents only pydantic bodies): the raw body.
RAW_BODIES: dict[str, dict[str, Any]] = {
    "put_branding_logo": {
        "required": True,
        "description": (
            "the logo's bytes, at most the deployment's BRANDING_LOGO_MAX_BYTES (256 KiB by default);"
            " the Content-Type must be the type the bytes' signature shows. SVG is refused: it can"
            " carry scripts"
        ),
        "content": {media_type: _IMAGE for media_type in _LOGO_TYPES},
    },
}

#: Operations whose success body is not JSON: its media types.
RAW_SUCCESS: dict[str, dict[str, Any]] = {
    "get_branding_logo": {
        "description": "the logo's bytes (their SHA-256 is the overlay's branding.logo.sha256, also the ETag)",
        "headers": {"ETag": {"description": "the logo's SHA-256 in quotes", "schema": {"type": "string"}}},
        "content": {media_type: _IMAGE for media_type in _LOGO_TYPES},
    },
}

DESCRIPTIONS = {
    400: "The body cannot be decoded: not base64/UTF-8, not JSON, or nested too deep",
    401: "No valid bearer token, or the token carries no usable tenant or subject",
    403: "The caller's roles do not allow this operation (docs/api.md has the role table)",
    404: "No such resource for this caller (another user's or tenant's is a 404 too)",
    409: "The resource's state does not allow this, or it changed meanwhile",
    413: "The body (or the declared upload) is larger than allowed",
    415: "The body's media type is not one the operation takes (application/json, or the listed ones)",
    422: "The request is not valid (the errors list names each field)",
    421: "The tenant moved to another residency zone: sync at the problem's api_endpoints",
    429: "Throttled by the API Gateway stage; retry with backoff",
    502: "The assistant generator answered with nothing usable",
    503: "The assistant generator is unavailable; retry later",
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "a URI naming the problem (docs/api.md lists them)"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "422 only: each invalid field, its location and why (a failed job's problem lists its errors alike)",
            "items": {
                "type": "object",
                "required": ["loc", "type", "msg"],
                "properties": {
                    "loc": {"type": "array", "items": {"type": "string"}},
                    "type": {"type": "string"},
                    "msg": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}

EXAMPLE_PROBLEMS = {
    400: ("malformed-body", "The request body cannot be decoded", "the request body is not valid JSON"),
    401: ("unauthorized", "Authentication required", "the token carries no usable tenant"),
    403: ("forbidden", "The caller's role does not allow this", "create_bundle needs one of: admin, catalog"),
    404: ("not-found", "Resource not found", "no such bundle"),
    409: ("invalid-transition", "The resource is not in a state that allows this", "the package is building"),
    413: ("request-too-large", "The request body is larger than allowed", "the limit is 10485760 bytes"),
    415: ("unsupported-media-type", "The request body's media type is not supported", "send application/json"),
    422: ("validation-failed", "The request is not valid", "body.content_length: Field required"),
    421: ("tenant-moved", "The tenant moved to another residency zone", "the tenant is served by zone us now"),
    429: ("throttled", "Too many requests", "the stage's rate limit was exceeded"),
    502: ("assistant-generation-failed", "The generator's output was refused", "it named a URL"),
    503: ("assistant-generator-unavailable", "The generator is unavailable", "Bedrock throttled"),
}

LOCATION_HEADER = {
    "description": (
        "where the created resource (or the job doing the work) can be read: an absolute path"
        " keeping the stage or base path the request came through"
    ),
    "schema": {"type": "string"},
}


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """Add the bearer scheme, roles, success statuses, headers and every problem to ``document``."""
    components = document.setdefault("components", {})
    components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
    components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for operations in document["paths"].values():
        for method, operation in operations.items():
            _complete_operation(method, operation)
    return document


def _complete_operation(method: str, operation: dict[str, Any]) -> None:
    operation_id = operation["operationId"]
    policy = policy_for(operation_id)
    operation["x-roles"] = sorted(policy.roles) if policy.roles is not None else []
    operation["x-ownership"] = policy.ownership.value
    operation["security"] = [] if policy.public else [{"bearer": []}]

    if operation_id in RAW_BODIES:
        operation["requestBody"] = RAW_BODIES[operation_id]
    responses = operation["responses"]
    if operation_id in RAW_SUCCESS:
        responses["200"] = RAW_SUCCESS[operation_id]
    status, location = SUCCESS.get(operation_id, (200, False))
    if status != 200 and "200" in responses:
        responses[str(status)] = responses.pop("200")
    if location:
        responses[str(status)].setdefault("headers", {})["Location"] = LOCATION_HEADER
    problem_statuses = _problem_statuses(method, operation, policy.public)
    # Powertools documents a 422 for every route, even one with no input that can never answer it.
    if 422 not in problem_statuses:
        responses.pop("422", None)
    for problem_status in sorted(problem_statuses):
        responses[str(problem_status)] = _problem_response(problem_status)
    operation["responses"] = dict(sorted(responses.items()))


def _problem_statuses(method: str, operation: dict[str, Any], public: bool) -> set[int]:
    parameters = operation.get("parameters", [])
    has_body = "requestBody" in operation
    statuses = {429}
    if not public:
        statuses |= {401, 403}
    if has_body:
        statuses |= {400, 413, 415}
    if parameters or has_body:
        statuses.add(422)
    if any(p["in"] == "path" for p in parameters):
        statuses.add(404)
    if method in ("post", "put", "patch", "delete"):
        statuses |= {404, 409}
    statuses |= set(EXTRA_PROBLEMS.get(operation["operationId"], ()))
    return statuses


def _problem_response(status: int) -> dict[str, Any]:
    name, title, detail = EXAMPLE_PROBLEMS[status]
    example: dict[str, Any] = {"type": PROBLEM_BASE + name, "title": title, "status": status, "detail": detail}
    if status == 422:
        example["errors"] = [{"loc": ["body", "content_length"], "type": "missing", "msg": "Field required"}]
    return {
        "description": DESCRIPTIONS[status],
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}, "example": example}},
    }
