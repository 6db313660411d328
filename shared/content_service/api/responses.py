"""Replies of the calls that create something: status, body and a Location the client can follow.

API Gateway hands the function the resource path (``/v1/bundles``) in ``path`` and the path the
client really requested, behind the stage (``/prod/v1/bundles``) or a custom domain's base-path
mapping (``/content/v1/bundles``), in ``requestContext.path``. A Location made from the resource
path alone would send a client that follows it outside the API, so it keeps the prefix the request
came through.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from content_service.api.auth import principal_of
from content_service.api.idempotency import Creator, run_once


def api_location(event: APIGatewayProxyEvent, path: str) -> str:
    """``path`` (an API path such as ``/v1/bundles/bnd_...``) as this request's client must ask for it."""
    requested = (event.raw_event.get("requestContext") or {}).get("path") or ""
    prefix = requested[: -len(event.path)] if event.path and requested.endswith(event.path) else ""
    return prefix + path


def created(event: APIGatewayProxyEvent, body: dict[str, Any], path: str, status: int = 201) -> Response:
    """A 201 (or 202 for work that goes on) with the JSON ``body`` and a Location of ``path``."""
    return Response(
        status_code=status,
        content_type="application/json",
        body=body,
        headers={"Location": api_location(event, path)},
    )


def create_once(
    event: APIGatewayProxyEvent,
    operation: str,
    create: Creator,
    *,
    key: str,
    body: dict[str, Any],
    location: Callable[[dict[str, Any]], str],
    status: int = 201,
) -> Response:
    """Run ``create`` once per caller and Idempotency-Key (a replay answers the first result) and
    reply with its view and a Location of ``location(view)``."""
    view = run_once(operation, create, principal=principal_of(event), key=key, path=event.path, body=body)
    return created(event, view, location(view), status)
