"""Cognito pre-token-generation trigger (V3_0): put the service client's tenant into its token.

A platform service signs in with the client-credentials grant; Cognito's access token then names
the app client but no tenant. Each service app client is registered for one tenant by its name,
``<service>@<tenant>`` (template.yaml names this stack's clients so), and this trigger adds
``custom:tenant_id`` from it, so the authorizer reads the tenant of every principal from a
verified claim. A client whose name names no usable tenant gets no token at all (the trigger
fails, so Cognito refuses the grant). People's tokens are left as they are: their tenant is the
immutable ``custom:tenant_id`` user attribute.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from content_service.auth.verifier import TENANT_CLAIM, TENANT_ID

logger = Logger()
tracer = Tracer()
CLIENT_CREDENTIALS = "TokenGeneration_ClientCredentials"


class UnregisteredClient(Exception):
    """The app client's name does not register it for a tenant."""


@cache
def _cognito() -> Any:
    return boto3.client("cognito-idp")


@cache
def tenant_of_client(user_pool_id: str, client_id: str) -> str:
    """The tenant a service app client is registered for (cached per container)."""
    described = _cognito().describe_user_pool_client(UserPoolId=user_pool_id, ClientId=client_id)
    name = str(described["UserPoolClient"].get("ClientName", ""))
    _, separator, tenant = name.rpartition("@")
    if not separator or not TENANT_ID.match(tenant):
        raise UnregisteredClient(f"app client {client_id} is not registered for a tenant")
    return tenant


@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context
def handler(event: dict, context: LambdaContext) -> dict:
    if event.get("triggerSource") != CLIENT_CREDENTIALS:
        return event
    tenant = tenant_of_client(event["userPoolId"], event["callerContext"]["clientId"])
    event.setdefault("response", {})["claimsAndScopeOverrideDetails"] = {
        "accessTokenGeneration": {"claimsToAddOrOverride": {TENANT_CLAIM: tenant}}
    }
    return event
