"""The API's resolver and routes: each route parses, calls one use case, shapes the reply."""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from content_service.api import (
    assistant_routes,
    authorization,
    bundle_routes,
    contract,
    export_routes,
    migration_routes,
    problems,
    request_shape,
    signal_routes,
    sync_routes,
    telemetry,
    tenant_routes,
    withdrawal_routes,
)
from content_service.api.auth import principal_of
from content_service.api.idempotency import idempotency_config
from content_service.api.models import (
    CreateUpload,
    ManifestView,
    PackagePage,
    PackageView,
    UploadCreated,
    UploadInstructions,
)
from content_service.api.policy import markdown_table
from content_service.api.responses import created as created_reply
from content_service.bootstrap import dependencies
from content_service.domain.errors import PROBLEM_BASE, DomainError
from content_service.domain.identifiers import PACKAGE_ID
from content_service.service import packages as use_cases

app = APIGatewayRestResolver(enable_validation=True)
app.include_router(bundle_routes.router)
app.include_router(sync_routes.router)
app.include_router(signal_routes.router)
app.include_router(export_routes.router)
app.include_router(assistant_routes.router)
app.include_router(tenant_routes.router)
app.include_router(withdrawal_routes.router)
app.include_router(migration_routes.router)


@app.post(
    "/v1/uploads",
    operation_id="create_upload",
    summary="Register a package version and get a presigned PUT URL for its zip",
)
def create_upload(body: CreateUpload) -> Response[UploadCreated]:
    who = principal_of(app.current_event)
    deps = dependencies()
    ticket = use_cases.request_upload(
        use_cases.RequestUpload(
            who.tenant_id, who.principal_id, body.content_type, body.content_length, body.package_id
        ),
        packages=deps.packages,
        uploads=deps.uploads,
        clock=deps.clock,
        limits=deps.settings.import_limits,
        url_ttl_seconds=deps.settings.upload_url_ttl_seconds,
    )
    created = UploadCreated(
        package=PackageView.of(ticket.package),
        upload=UploadInstructions(
            url=ticket.url, method="PUT", headers=ticket.headers, expires_at=ticket.expires_at
        ),
    )
    location = f"/v1/packages/{ticket.package.package_id}?version={ticket.package.version}"
    return created_reply(app.current_event, created.model_dump(mode="json"), location)


@app.get(
    "/v1/packages", operation_id="list_packages", summary="List the caller's package versions, newest first"
)
def list_packages(
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
) -> PackagePage:
    deps = dependencies()
    page = use_cases.list_packages(
        principal_of(app.current_event).tenant_id,
        packages=deps.packages,
        cursor=cursor,
        limit=limit or deps.settings.page_size_default,
    )
    return PackagePage(items=[PackageView.of(p) for p in page.items], next_cursor=page.next_cursor)


@app.get(
    "/v1/packages/<package_id>",
    operation_id="get_package",
    summary="A package version (the latest unless ?version=)",
)
def get_package(
    package_id: Annotated[str, Path(pattern=PACKAGE_ID)],
    version: Annotated[int | None, Query(ge=1)] = None,
) -> PackageView:
    tenant = principal_of(app.current_event).tenant_id
    return PackageView.of(
        use_cases.get_package(tenant, package_id, packages=dependencies().packages, version=version)
    )


@app.get(
    "/v1/packages/<package_id>/manifest",
    operation_id="get_manifest",
    summary="A built package version's full manifest",
)
def get_manifest(
    package_id: Annotated[str, Path(pattern=PACKAGE_ID)],
    version: Annotated[int | None, Query(ge=1)] = None,
) -> ManifestView:
    tenant = principal_of(app.current_event).tenant_id
    deps = dependencies()
    package = use_cases.get_package(tenant, package_id, packages=deps.packages, version=version)
    manifest = use_cases.get_manifest(
        tenant, package_id, packages=deps.packages, store=deps.store, version=package.version
    )
    return ManifestView.of(package_id, package.version, manifest)


@app.exception_handler(DomainError)
def handle_domain_error(error: DomainError) -> Response:
    return problems.from_domain_error(error)


@app.exception_handler(IdempotencyAlreadyInProgressError)
def handle_idempotency_in_flight(_: IdempotencyAlreadyInProgressError) -> Response:
    return problems.problem(
        409,
        "A request with this Idempotency-Key is in progress",
        "retry after the first request has finished",
        PROBLEM_BASE + "idempotency-in-progress",
    )


@app.exception_handler(RequestValidationError)
def handle_validation_error(error: RequestValidationError) -> Response:
    return problems.from_validation_error(error)


@app.not_found
def handle_not_found(_: NotFoundError) -> Response:
    path = app.current_event.path
    allowed = request_shape.allowed_methods(app, path)
    if allowed:
        method = app.current_event.http_method.upper()
        response = problems.from_domain_error(request_shape.method_not_allowed(method, allowed))
        response.headers["Allow"] = ", ".join(allowed)
        return response
    return problems.not_found(path)


@app.exception_handler(Exception)
def handle_unexpected(error: Exception) -> Response:
    return problems.internal_error(error)


# Every route must have an entry in the policy table, or the app refuses to start.
authorization.install(app)
telemetry.install(app)


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Resolve one API Gateway event; idempotency learns the invocation's remaining time first."""
    idempotency_config().register_lambda_context(context)
    return telemetry.measured(app.resolve, event, context, lambda: dependencies().metrics)


def openapi_document() -> str:
    """The OpenAPI document generated from the routes (committed as docs/openapi.json).

    :func:`contract.complete` adds what Powertools leaves out: each operation's policy-table entry
    (``x-roles`` / ``x-ownership``), the bearer scheme, the real success status with its headers,
    and every problem the route can answer.
    """
    document = json.loads(
        app.get_openapi_json_schema(
            title="content-service API",
            version="1.0.0",
            description="Uploads, PlayPackages, devices, bundles, licences, sync and exports. "
            "Send a Cognito ID token (people) or a client-credentials access token (services) as "
            "`Authorization: Bearer <token>`; docs/api.md has the role table.",
        )
    )
    contract.complete(document)
    # Powertools' own 422 schemas are replaced by the problem schema everywhere.
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        document["components"]["schemas"].pop(unused, None)
    return json.dumps(document, indent=2)


def policy_table() -> str:
    """The policy table as markdown, with each operation's route (kept in docs/api.md)."""
    document = json.loads(openapi_document())
    routes = {
        operation["operationId"]: (method.upper(), path)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    return markdown_table(routes)
