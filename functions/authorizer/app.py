"""The API's Lambda TOKEN authorizer: verify the bearer token, hand the principal to the function.

API Gateway caches the answer per token for the authorizer's TTL, so the policy allows the whole
stage (a narrower one would be reused for other routes and refuse them); what each principal may
do is the API function's policy table, not IAM. A refusal raises ``Unauthorized``, which API
Gateway turns into its 401 gateway response (problem+json, template.yaml).
"""

from __future__ import annotations

import os
from functools import cache

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from content_service.auth.jwks import RemoteKeySet
from content_service.auth.verifier import TokenRefused, TokenRules, TokenVerifier

logger = Logger()
tracer = Tracer()


@cache
def verifier() -> TokenVerifier:
    rules = TokenRules.from_environment(dict(os.environ))
    return TokenVerifier(RemoteKeySet(f"{rules.issuer}/.well-known/jwks.json"), rules)


def stage_arn(method_arn: str) -> str:
    """``arn:aws:execute-api:region:account:api/stage/METHOD/path`` → ``…:api/stage/*``."""
    prefix, _, resource = method_arn.partition(":execute-api:")
    parts = resource.split("/")
    if not prefix or len(parts) < 2:
        raise TokenRefused("the method ARN is not an execute-api ARN")
    return f"{prefix}:execute-api:{parts[0]}/{parts[1]}/*"


@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context
def handler(event: dict, context: LambdaContext) -> dict:
    try:
        principal = verifier().context_for(event.get("authorizationToken"))
        resource = stage_arn(str(event.get("methodArn", "")))
    except TokenRefused as refusal:
        logger.info("token refused", extra={"reason": str(refusal)})
        # The exact message API Gateway maps to a 401 (anything else would be a 500).
        raise Exception("Unauthorized") from None  # noqa: TRY002
    return {
        "principalId": principal["principal_id"],
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": resource}],
        },
        "context": principal,
    }
