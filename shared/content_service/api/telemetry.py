"""API figures: each call's operation id, server error and latency (``ApiRequests`` and friends).

The operation id is noted by a resolver middleware, which runs once a route matched; the status is
read after the resolver's exception handlers shaped the reply, so an exception mapped to a 500 is
counted as the server error it is. A call no route matched (an unknown path: a probe, a scanner, a
stale client; a method the path does not serve) is counted under the operation ``unmatched``. A
token the API Gateway authorizer refuses never reaches the function: API Gateway's own ``4XXError``
counts it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from content_service.api.policy import POLICIES
from content_service.service.outbox_ports import Metrics
from content_service.service.telemetry import UNMATCHED_OPERATION, record_api_call

_operation: ContextVar[str | None] = ContextVar("api_operation", default=None)


def _note_operation(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response:
    # Only the policy table's operations: Powertools runs its not-found handler as a route whose
    # operation id names the requested path, which would make a metric dimension per probed path.
    operation = getattr(app.context.get("_route"), "operation_id", None)
    _operation.set(operation if operation in POLICIES else None)
    return next_middleware(app)


def install(app: APIGatewayRestResolver) -> None:
    """Note every matched route's operation id for :func:`measured`."""
    app.use(middlewares=[_note_operation])


def measured(
    resolve: Callable[[dict[str, Any], Any], dict[str, Any]],
    event: dict[str, Any],
    context: Any,
    metrics: Callable[[], Metrics],
) -> dict[str, Any]:
    """Resolve one event and record its operation's figures."""
    token = _operation.set(None)
    started = time.perf_counter()
    try:
        reply = resolve(event, context)
        operation = _operation.get() or UNMATCHED_OPERATION
        elapsed = (time.perf_counter() - started) * 1000
        record_api_call(metrics(), operation, int(reply.get("statusCode", 500)), elapsed)
        return reply
    finally:
        _operation.reset(token)
