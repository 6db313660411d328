"""Who is calling: the principal the authorizer verified, never anything from the request itself.

The authorizer (``functions/authorizer``, and the local gateway with the same verifier) hands the
function a context: ``tenant_id``, ``principal_id``, ``principal_type`` (user or service) and the
space-separated ``roles`` its token grants. Anything missing or malformed there is a 401.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from content_service.domain import identifiers
from content_service.domain.errors import Unauthorized
from content_service.domain.principal import Principal, PrincipalKind, Role

TENANT_ID = re.compile(identifiers.TENANT_ID)
PRINCIPAL_ID = re.compile(identifiers.PRINCIPAL_ID)


@dataclass(frozen=True)
class Caller:
    tenant_id: str
    user_id: str


def principal_from_context(context: dict[str, Any] | None) -> Principal:
    """The principal of an authorizer context; 401 if a part is missing or not safe for keys."""
    context = context or {}
    tenant, principal_id = context.get("tenant_id"), context.get("principal_id")
    if not isinstance(tenant, str) or not TENANT_ID.fullmatch(tenant):
        raise Unauthorized("the token carries no usable tenant")
    if not isinstance(principal_id, str) or not PRINCIPAL_ID.fullmatch(principal_id):
        raise Unauthorized("the token carries no usable subject")
    try:
        kind = PrincipalKind(context.get("principal_type"))
    except ValueError:
        raise Unauthorized("the token names no principal type") from None
    roles = {
        Role(name) for name in str(context.get("roles") or "").split() if name in Role._value2member_map_
    }
    if kind is PrincipalKind.USER:
        return Principal.user(tenant, principal_id, *roles)
    return Principal.service(tenant, principal_id, *roles)


def principal_of(event: APIGatewayProxyEvent) -> Principal:
    """The verified caller of an API Gateway event."""
    return principal_from_context(event.get("requestContext", {}).get("authorizer"))


def caller_of(event: APIGatewayProxyEvent) -> Caller:
    """The caller's tenant and principal id (kept for routes that need no roles)."""
    principal = principal_of(event)
    return Caller(principal.tenant_id, principal.principal_id)
