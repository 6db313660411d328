"""Verify bearer tokens as API Gateway's Cognito user-pool authorizer does.

The authorizer accepts an ID token whose RS256 signature verifies against the pool's JWKS, whose
issuer is the pool, whose audience is an app client of the pool, whose ``token_use`` is ``id``
and which has not expired. It then hands the claims to the function as strings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet


class Unauthorized(Exception):
    """The request carries no token, or one the authorizer would refuse."""


@dataclass(frozen=True)
class CognitoStyleAuthorizer:
    """Checks ``Authorization: Bearer <jwt>`` against a JWKS, issuer and app client id."""

    jwks: KeySet
    issuer: str
    audience: str
    leeway_seconds: int = 0

    def claims_for(self, authorization_header: str | None) -> dict[str, str]:
        """Return the claims as the REST authorizer delivers them, or raise :class:`Unauthorized`."""
        if not authorization_header:
            raise Unauthorized("missing Authorization header")
        scheme, _, token = authorization_header.partition(" ")
        # API Gateway's Cognito authorizer also accepts the bare token; so do we.
        token = token.strip() if scheme.lower() == "bearer" else authorization_header.strip()
        try:
            decoded = jwt.decode(token, self.jwks, algorithms=["RS256"])
            jwt.JWTClaimsRegistry(
                leeway=self.leeway_seconds,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.audience},
                exp={"essential": True},
                sub={"essential": True},
                token_use={"essential": True, "value": "id"},
            ).validate(decoded.claims)
        except (JoseError, ValueError) as error:
            raise Unauthorized(f"invalid token: {error}") from error
        return _as_authorizer_claims(decoded.claims)


def _as_authorizer_claims(claims: dict[str, Any]) -> dict[str, str]:
    # The REST API authorizer passes every claim as a string and renders exp/iat as dates.
    rendered: dict[str, str] = {}
    for name, value in claims.items():
        if name in ("exp", "iat") and isinstance(value, int | float):
            rendered[name] = dt.datetime.fromtimestamp(value, dt.UTC).strftime("%a %b %d %H:%M:%S UTC %Y")
        else:
            rendered[name] = str(value)
    return rendered
