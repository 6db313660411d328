"""A development token issuer that stands in for Cognito on the local stack.

It signs tokens shaped like Cognito's with an RSA key kept in the local state directory, so
tokens minted by one process (``content-service local token``) verify in another (the running
gateway): people's ID tokens (``token_use=id``, ``aud`` = the people's app client,
``custom:tenant_id``, roles as ``cognito:groups``) and services' client-credentials access tokens
(``token_use=access``, ``client_id``, roles as OAuth scopes, and the ``custom:tenant_id`` the
pre-token trigger adds on AWS).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

DEV_ISSUER = "https://dev-issuer.content-service.local"
KEY_FILE_NAME = "dev-issuer-key.json"


@dataclass(frozen=True)
class DevIssuer:
    """Mints and describes dev tokens; verification lives in the gateway, as in AWS."""

    key: RSAKey
    issuer: str
    audience: str

    @classmethod
    def load_or_create(cls, state_dir: Path, audience: str, issuer: str = DEV_ISSUER) -> DevIssuer:
        """Reuse the key in ``state_dir`` (so tokens survive restarts) or make a new one (0600)."""
        path = state_dir / KEY_FILE_NAME
        if path.exists():
            return cls.load(state_dir, audience, issuer)
        key = RSAKey.generate_key(2048, auto_kid=True)
        _write_private(path, json.dumps(key.as_dict(private=True)))
        return cls(key=key, issuer=issuer, audience=audience)

    @classmethod
    def load(cls, state_dir: Path, audience: str, issuer: str = DEV_ISSUER) -> DevIssuer:
        """Load the existing key from ``state_dir``; raise FileNotFoundError if there is none."""
        key = RSAKey.import_key(json.loads((state_dir / KEY_FILE_NAME).read_text(encoding="utf-8")))
        return cls(key=key, issuer=issuer, audience=audience)

    def jwks(self) -> KeySet:
        """The public key set a verifier trusts (what Cognito publishes at /.well-known/jwks.json)."""
        return KeySet([RSAKey.import_key(self.key.as_dict(private=False))])

    def mint_token(
        self,
        tenant_id: str,
        user_id: str,
        ttl: int = 3600,
        roles: Iterable[str] = (),
        **extra_claims: Any,
    ) -> str:
        """An ID token for ``user_id`` in ``tenant_id``, in the groups ``roles``, for ``ttl`` seconds.

        Every person is a learner; ``learner`` is no group, so it is left out of ``cognito:groups``.
        """
        now = int(time.time())
        groups = sorted({role for role in roles if role != "learner"})
        claims: dict[str, Any] = {
            "sub": user_id,
            "custom:tenant_id": tenant_id,
            "cognito:username": user_id,
            **({"cognito:groups": groups} if groups else {}),
            "iss": self.issuer,
            "aud": self.audience,
            "token_use": "id",
            "auth_time": now,
            "iat": now,
            "exp": now + ttl,
            "jti": str(uuid.uuid4()),
            **extra_claims,
        }
        return self._sign(claims)

    def mint_service_token(
        self,
        tenant_id: str,
        client_id: str,
        roles: Iterable[str],
        ttl: int = 3600,
        scope_prefix: str = "content-service",
        **extra_claims: Any,
    ) -> str:
        """A client-credentials access token of app client ``client_id``, acting for ``tenant_id``."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": client_id,
            "client_id": client_id,
            "custom:tenant_id": tenant_id,
            "scope": " ".join(f"{scope_prefix}/{role}" for role in sorted(set(roles))),
            "iss": self.issuer,
            "token_use": "access",
            "version": 2,
            "auth_time": now,
            "iat": now,
            "exp": now + ttl,
            "jti": str(uuid.uuid4()),
            **extra_claims,
        }
        return self._sign(claims)

    def _sign(self, claims: dict[str, Any]) -> str:
        header = {"alg": "RS256", "kid": self.key.kid}
        return jwt.encode(header, claims, self.key, algorithms=["RS256"])


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # The file is created with 0600 in one step, so the key is never readable by others, even briefly.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        stream.write(text)
