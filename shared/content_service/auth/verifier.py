"""Verify the two kinds of bearer token the API accepts and turn them into an authorizer context.

People send a Cognito **ID token** (``token_use=id``, ``aud`` = the people's app client): the
principal is ``sub``, the tenant ``custom:tenant_id``, the roles the user-pool groups in
``cognito:groups`` (plus ``learner``, which every signed-in person has). Platform services send a
client-credentials **access token** (``token_use=access``, ``client_id`` = one of the service app
clients): the principal is the client id, the roles are the OAuth scopes of our resource server
(``content-service/catalog`` → ``catalog``), and the tenant is ``custom:tenant_id``, which the
pre-token-generation trigger put there from the app client's registration. Each kind is checked
for its own audience claim, the issuer, the expiry and the signature (RS256 against the pool's
JWKS); anything else is refused. Nothing here is read from the request besides the token.

The context is flat strings, as API Gateway passes a Lambda authorizer's context to the function:
``tenant_id``, ``principal_id``, ``principal_type`` (user | service), ``roles`` (space-separated)
and ``token_use``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

from content_service.domain import identifiers
from content_service.domain.principal import Role

TENANT_ID = re.compile(identifiers.TENANT_ID)
PRINCIPAL_ID = re.compile(identifiers.PRINCIPAL_ID)
TENANT_CLAIM = "custom:tenant_id"
# Groups and scopes that name a role; `learner` is implied for every person and granted to no service.
GRANTABLE_ROLES = frozenset({Role.AUTHOR, Role.CATALOG, Role.ADMIN})


class TokenRefused(Exception):
    """No token, or one the authorizer refuses; the message says why (for logs, not for callers)."""


@dataclass(frozen=True)
class TokenRules:
    """What a token must say to be accepted: the pool's issuer and the app clients of each kind."""

    issuer: str
    user_client_ids: frozenset[str]
    service_client_ids: frozenset[str]
    scope_prefix: str = "content-service"

    @classmethod
    def from_environment(cls, environment: dict[str, str]) -> TokenRules:
        """The rules from the authorizer function's settings (template.yaml sets them)."""
        return cls(
            issuer=environment["TOKEN_ISSUER"],
            user_client_ids=_id_set(environment.get("USER_CLIENT_IDS", "")),
            service_client_ids=_id_set(environment.get("SERVICE_CLIENT_IDS", "")),
            scope_prefix=environment.get("SCOPE_PREFIX", "content-service"),
        )


class TokenVerifier:
    """Checks ``Authorization: Bearer <jwt>`` and returns the authorizer context."""

    def __init__(self, keys: Callable[[], KeySet], rules: TokenRules, leeway_seconds: int = 0) -> None:
        self._keys = keys
        self.rules = rules
        self.leeway_seconds = leeway_seconds

    def context_for(self, authorization_header: str | None) -> dict[str, str]:
        """The authorizer context of a valid token, or :class:`TokenRefused`."""
        claims = self._verified_claims(_bearer(authorization_header))
        token_use = claims.get("token_use")
        if token_use == "id":
            return self._person(claims)
        if token_use == "access":
            return self._service(claims)
        raise TokenRefused(f"token_use {token_use!r} is not accepted")

    def _verified_claims(self, token: str) -> dict[str, Any]:
        try:
            decoded = jwt.decode(token, self._key_set_for(token), algorithms=["RS256"])
            jwt.JWTClaimsRegistry(
                leeway=self.leeway_seconds,
                iss={"essential": True, "value": self.rules.issuer},
                exp={"essential": True},
                sub={"essential": True},
                token_use={"essential": True, "values": ["id", "access"]},
            ).validate(decoded.claims)
        except (JoseError, ValueError, TypeError, UnicodeError) as error:
            raise TokenRefused(f"invalid token: {error}") from error
        return dict(decoded.claims)

    def _key_set_for(self, token: str) -> KeySet:
        """The keys; refetched once (if the source can) when the token names a kid we lack."""
        keys = self._keys()
        kid = extract_compact(token.encode("ascii")).headers().get("kid")
        refresh = getattr(self._keys, "refresh", None)
        if kid and all(key.kid != kid for key in keys.keys) and refresh is not None and refresh():
            keys = self._keys()
        return keys

    def _person(self, claims: dict[str, Any]) -> dict[str, str]:
        audience = claims.get("aud")
        if not isinstance(audience, str) or audience not in self.rules.user_client_ids:
            raise TokenRefused("the ID token is not for an app client of this API")
        groups = claims.get("cognito:groups") or []
        if not isinstance(groups, list):
            raise TokenRefused("cognito:groups is not a list")
        roles = {Role.LEARNER} | {Role(g) for g in groups if g in _GRANTABLE_NAMES}
        return _context(claims, "user", roles)

    def _service(self, claims: dict[str, Any]) -> dict[str, str]:
        client_id = claims.get("client_id")
        if not isinstance(client_id, str) or client_id not in self.rules.service_client_ids:
            raise TokenRefused("the access token is not from a service client of this API")
        if claims.get("sub") != client_id:
            raise TokenRefused("a client-credentials token's subject is its client")
        prefix = f"{self.rules.scope_prefix}/"
        scopes = str(claims.get("scope") or "").split()
        names = {scope.removeprefix(prefix) for scope in scopes if scope.startswith(prefix)}
        roles = {Role(name) for name in names if name in _GRANTABLE_NAMES}
        if not roles:
            raise TokenRefused("the access token grants no role of this API")
        return _context(claims, "service", roles)


_GRANTABLE_NAMES = frozenset(role.value for role in GRANTABLE_ROLES)


def _context(claims: dict[str, Any], principal_type: str, roles: set[Role]) -> dict[str, str]:
    tenant = claims.get(TENANT_CLAIM)
    if not isinstance(tenant, str) or not TENANT_ID.fullmatch(tenant):
        raise TokenRefused("the token carries no usable tenant")
    principal = claims.get("sub")
    if not isinstance(principal, str) or not PRINCIPAL_ID.fullmatch(principal):
        raise TokenRefused("the token carries no usable subject")
    return {
        "tenant_id": tenant,
        "principal_id": principal,
        "principal_type": principal_type,
        "roles": " ".join(sorted(role.value for role in roles)),
        "token_use": str(claims["token_use"]),
    }


def _bearer(header: str | None) -> str:
    if not header:
        raise TokenRefused("missing Authorization header")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenRefused("the Authorization header is not 'Bearer <token>'")
    return token.strip()


def _id_set(text: str) -> frozenset[str]:
    return frozenset(part.strip() for part in text.split(",") if part.strip())
