"""Enforcement of the policy table, before anything else of a route runs.

Powertools puts its request validation first in every route's middleware stack, so a caller who
lacks the role would learn from a 422 what a valid request looks like. The role check therefore
wraps the validation middleware (:func:`install`), and a caller without the role gets a 403 whatever
it sent. Ownership is checked by the use cases where they load the resource.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.middlewares import BaseMiddlewareHandler, NextMiddleware

from content_service.api.auth import principal_of
from content_service.api.policy import policy_for, require_policy_for, require_role
from content_service.api.request_shape import check_body, check_query
from content_service.domain.principal import Principal

#: The name of the function Powertools routes a request to when no route matches (it answers 404).
_NOT_FOUND_HANDLER = "not_found_handler"


def authorize(app: APIGatewayRestResolver) -> Principal | None:
    """Check the matched route's policy for the caller; None for a public route or no route at all."""
    route = app.context.get("_route")
    if getattr(getattr(route, "func", None), "__name__", None) == _NOT_FOUND_HANDLER:
        return None
    operation_id = getattr(route, "operation_id", None)
    policy = policy_for(str(operation_id))
    if policy.public:
        return None
    principal = principal_of(app.current_event)
    require_role(principal, str(operation_id))
    return principal


class _AuthorizeThenCheckThenValidate(BaseMiddlewareHandler):
    def __init__(self, validate: BaseMiddlewareHandler | None) -> None:
        super().__init__()
        self._validate = validate

    def handler(self, app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Any:
        authorize(app)
        # Then the body's shape (415, 400, 413), so validation only ever sees decodable JSON.
        event = app.current_event
        route = app.context.get("_route")
        check_body(
            event.headers,
            event.body,
            bool(event.is_base64_encoded),
            takes_body=getattr(route, "body_field", None) is not None,
        )
        if route is not None:
            declared = {field.alias for field in route.dependant.query_params}
            check_query(event.get("multiValueQueryStringParameters") or event.get("queryStringParameters"), declared)
        if self._validate is None:
            return next_middleware(app)
        return self._validate.handler(app, next_middleware)


def install(app: APIGatewayRestResolver) -> None:
    """Enforce the policy table on every route of ``app``; refuse to start if a route has no entry.

    The resolver keeps its request-validation middleware in ``_request_validation_middleware`` and
    puts it first in each route's stack; replacing it with a wrapper is the only way to run before it
    (a test proves the order: a learner's invalid revoke is a 403, not a 422).
    """
    require_policy_for(operation_ids(app))
    validate = getattr(app, "_request_validation_middleware", None)
    app._request_validation_middleware = _AuthorizeThenCheckThenValidate(validate)  # type: ignore[attr-defined]


def operation_ids(app: APIGatewayRestResolver) -> list[str]:
    """The operation id of every route the app serves, from its own OpenAPI document."""
    schema = app.get_openapi_schema()
    return [
        operation.operationId
        for path in (schema.paths or {}).values()
        for operation in (path.get, path.put, path.post, path.delete, path.patch, path.head, path.options)
        if operation is not None and operation.operationId
    ]
