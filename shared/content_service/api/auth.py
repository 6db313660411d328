"""Who is calling: the tenant and user, from the verified JWT claims only (never from the request)."""

from __future__ import annotations

from dataclasses import dataclass

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from content_service.domain.errors import Unauthorized

TENANT_CLAIM = "custom:tenant_id"


@dataclass(frozen=True)
class Caller:
    tenant_id: str
    user_id: str


def caller_of(event: APIGatewayProxyEvent) -> Caller:
    """The caller named by the authorizer's claims; 401 if the token carried no tenant or subject."""
    claims = event.request_context.authorizer.claims or {}
    tenant, user = claims.get(TENANT_CLAIM), claims.get("sub")
    if not tenant or not user:
        raise Unauthorized("the token carries no tenant or subject")
    return Caller(str(tenant), str(user))
