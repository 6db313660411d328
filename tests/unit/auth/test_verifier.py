"""The token verifier: each kind of token for its own audience claim, roles only from the token."""

from __future__ import annotations

import json
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from content_service.auth.jwks import RemoteKeySet
from content_service.auth.verifier import TokenRefused, TokenRules, TokenVerifier
from content_service.local.dev_issuer import DevIssuer

ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_pool"
RULES = TokenRules(ISSUER, frozenset({"people"}), frozenset({"catalog-client", "authoring-client"}))


@pytest.fixture(scope="module")
def issuer() -> DevIssuer:
    return DevIssuer(RSAKey.generate_key(2048, auto_kid=True), ISSUER, "people")


@pytest.fixture(scope="module")
def verifier(issuer: DevIssuer) -> TokenVerifier:
    keys = issuer.jwks()
    return TokenVerifier(lambda: keys, RULES)


def _bearer(token: str) -> str:
    return f"Bearer {token}"


def test_a_persons_groups_become_roles_and_learner_is_implied(issuer, verifier) -> None:
    context = verifier.context_for(_bearer(issuer.mint_token("t-1", "alice", roles=["author", "admin"])))
    assert context == {
        "tenant_id": "t-1",
        "principal_id": "alice",
        "principal_type": "user",
        "roles": "admin author learner",
        "token_use": "id",
    }


def test_groups_that_name_no_role_grant_nothing(issuer, verifier) -> None:
    token = issuer.mint_token("t-1", "alice", **{"cognito:groups": ["superuser", "learner"]})
    assert verifier.context_for(_bearer(token))["roles"] == "learner"


def test_a_service_gets_only_the_roles_its_scopes_grant(issuer, verifier) -> None:
    token = issuer.mint_service_token("t-2", "catalog-client", ["catalog"], scope_prefix="content-service")
    token_with_foreign_scope = issuer.mint_service_token(
        "t-2", "catalog-client", ["catalog"], scope="content-service/catalog other-api/admin"
    )
    assert verifier.context_for(_bearer(token)) == {
        "tenant_id": "t-2",
        "principal_id": "catalog-client",
        "principal_type": "service",
        "roles": "catalog",
        "token_use": "access",
    }
    assert verifier.context_for(_bearer(token_with_foreign_scope))["roles"] == "catalog"


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "another-client"},
        {"iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_other"},
        {"token_use": "refresh"},
        {"custom:tenant_id": None},
        {"custom:tenant_id": "a/b"},
        {"custom:tenant_id": ["t-1"]},
        {"sub": "has space"},
        {"cognito:groups": "admin"},
    ],
    ids=["audience", "issuer", "token-use", "no-tenant", "unsafe-tenant", "tenant-list", "subject", "groups-string"],
)
def test_an_id_token_that_is_not_ours_is_refused(issuer, verifier, overrides: dict[str, Any]) -> None:
    claims = {k: v for k, v in overrides.items() if v is not None}
    token = issuer.mint_token("t-1", "alice", **claims)
    if overrides.get("custom:tenant_id", "") is None:
        decoded = jwt.decode(token, issuer.jwks()).claims
        decoded.pop("custom:tenant_id")
        token = issuer._sign(decoded)
    with pytest.raises(TokenRefused):
        verifier.context_for(_bearer(token))


def test_a_persons_access_token_is_refused(issuer, verifier) -> None:
    # A user-flow access token names the people's client: only service clients may send one.
    token = issuer.mint_service_token("t-1", "people", ["admin"], sub="alice")
    with pytest.raises(TokenRefused, match="service client"):
        verifier.context_for(_bearer(token))


@pytest.mark.parametrize("ttl", [-1, -3600])
def test_an_expired_token_is_refused(issuer, verifier, ttl: int) -> None:
    with pytest.raises(TokenRefused):
        verifier.context_for(_bearer(issuer.mint_token("t-1", "alice", ttl=ttl)))


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Basic abc", "bearer not-a-jwt", "Bearer a.b.c", "Bearer \u00e9.\u00e9.\u00e9"],
)
def test_a_header_without_a_usable_bearer_token_is_refused(verifier, header) -> None:
    with pytest.raises(TokenRefused):
        verifier.context_for(header)


def test_a_token_signed_by_another_key_or_alg_is_refused(issuer, verifier) -> None:
    stranger = DevIssuer(RSAKey.generate_key(2048, auto_kid=True), ISSUER, "people")
    claims = jwt.decode(issuer.mint_token("t-1", "alice"), issuer.jwks()).claims
    unsigned = jwt.encode({"alg": "none"}, claims, None, algorithms=["none"])
    for token in (stranger.mint_token("t-1", "alice"), unsigned):
        with pytest.raises(TokenRefused):
            verifier.context_for(_bearer(token))


def test_an_unknown_kid_refetches_the_jwks_once(issuer) -> None:
    rotated = DevIssuer(RSAKey.generate_key(2048, auto_kid=True), ISSUER, "people")
    published = [issuer.jwks()]
    fetches: list[str] = []

    def fetch(url: str) -> bytes:
        fetches.append(url)
        return json.dumps(published[0].as_dict()).encode()

    keys = RemoteKeySet(f"{ISSUER}/.well-known/jwks.json", fetch, min_refetch_seconds=0)
    verifier = TokenVerifier(keys, RULES)
    assert verifier.context_for(_bearer(issuer.mint_token("t-1", "alice")))["principal_id"] == "alice"
    published[0] = KeySet([*issuer.jwks().keys, *rotated.jwks().keys])

    assert verifier.context_for(_bearer(rotated.mint_token("t-1", "bob")))["principal_id"] == "bob"
    assert fetches == [f"{ISSUER}/.well-known/jwks.json"] * 2


def test_a_flood_of_unknown_kids_does_not_refetch_every_time(issuer) -> None:
    stranger = DevIssuer(RSAKey.generate_key(2048, auto_kid=True), ISSUER, "people")
    fetches: list[str] = []

    def fetch(url: str) -> bytes:
        fetches.append(url)
        return json.dumps(issuer.jwks().as_dict()).encode()

    verifier = TokenVerifier(RemoteKeySet("https://x/jwks", fetch, min_refetch_seconds=3600), RULES)
    for _ in range(5):
        with pytest.raises(TokenRefused):
            verifier.context_for(_bearer(stranger.mint_token("t-1", "eve")))
    assert len(fetches) == 1


def test_rules_come_from_the_authorizer_settings() -> None:
    rules = TokenRules.from_environment(
        {"TOKEN_ISSUER": ISSUER, "USER_CLIENT_IDS": "people", "SERVICE_CLIENT_IDS": "a, b,", "SCOPE_PREFIX": "x"}
    )
    assert rules == TokenRules(ISSUER, frozenset({"people"}), frozenset({"a", "b"}), "x")
