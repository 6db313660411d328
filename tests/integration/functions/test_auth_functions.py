"""The Lambda authorizer and the Cognito pre-token trigger, as Lambda calls them (events/ shapes)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import boto3
import pytest
from joserfc.jwk import RSAKey
from moto import mock_aws

from content_service.auth import jwks
from content_service.local.dev_issuer import DevIssuer
from content_service.local.lambda_runtime import LambdaContext, load_handler

ROOT = Path(__file__).parents[3]
EVENTS = ROOT / "events"
ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_pool"


def _load(function: str, name: str):
    return load_handler(ROOT / "functions" / function / "app.py", "handler", name)


def _event(path: str) -> dict:
    return copy.deepcopy(json.loads((EVENTS / path).read_text()))


@pytest.fixture
def issuer() -> DevIssuer:
    return DevIssuer(RSAKey.generate_key(2048, auto_kid=True), ISSUER, "people")


@pytest.fixture
def authorizer(monkeypatch, issuer):
    monkeypatch.setenv("TOKEN_ISSUER", ISSUER)
    monkeypatch.setenv("USER_CLIENT_IDS", "people")
    monkeypatch.setenv("SERVICE_CLIENT_IDS", "catalog-client")
    keys = issuer.jwks()
    # The JWKS is what Cognito publishes at <issuer>/.well-known/jwks.json: served from memory here.
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return json.dumps(keys.as_dict()).encode()

    monkeypatch.setattr(jwks, "fetch_url", fetch)
    yield _load("authorizer", f"test_authorizer_fn_{id(issuer)}"), fetched


def test_a_valid_token_is_allowed_on_the_whole_stage_with_the_principal_as_context(authorizer, issuer) -> None:
    handler, fetched = authorizer
    event = _event("authorizer/token.json")
    event["authorizationToken"] = f"Bearer {issuer.mint_token('tenant-a', 'alice', roles=['catalog'])}"

    answer = handler(event, LambdaContext(function_name="authorizer", timeout_seconds=5))

    assert fetched == [f"{ISSUER}/.well-known/jwks.json"]
    assert answer["principalId"] == "alice"
    (statement,) = answer["policyDocument"]["Statement"]
    assert statement == {
        "Action": "execute-api:Invoke",
        "Effect": "Allow",
        "Resource": "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/*",
    }
    assert answer["context"] == {
        "tenant_id": "tenant-a",
        "principal_id": "alice",
        "principal_type": "user",
        "roles": "catalog learner",
        "token_use": "id",
    }


@pytest.mark.parametrize("token", ["", "Bearer nonsense", "Bearer a.b.c"])
def test_a_bad_token_is_the_exact_unauthorized_error_api_gateway_maps_to_401(authorizer, token) -> None:
    handler, _ = authorizer
    event = _event("authorizer/token.json")
    event["authorizationToken"] = token
    with pytest.raises(Exception, match="^Unauthorized$"):
        handler(event, LambdaContext(function_name="authorizer", timeout_seconds=5))


def test_a_service_token_is_allowed_with_its_scopes_as_roles(authorizer, issuer) -> None:
    handler, _ = authorizer
    event = _event("authorizer/token.json")
    event["authorizationToken"] = f"Bearer {issuer.mint_service_token('tenant-b', 'catalog-client', ['catalog'])}"
    answer = handler(event, LambdaContext(function_name="authorizer", timeout_seconds=5))
    assert answer["context"]["principal_type"] == "service"
    assert answer["context"]["tenant_id"] == "tenant-b"
    assert answer["context"]["roles"] == "catalog"


@pytest.fixture
def cognito(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("cognito-idp", region_name="eu-west-1")
        pool = client.create_user_pool(PoolName="users")["UserPool"]["Id"]
        yield client, pool


def _pre_token(event: dict) -> dict:
    # A fresh module per call, like a new container: its caches start empty.
    handler = _load("pre_token", f"test_pre_token_fn_{id(event)}")
    return handler(event, LambdaContext(function_name="pre-token", timeout_seconds=5))


def test_a_service_client_gets_the_tenant_its_name_registers(cognito) -> None:
    client, pool = cognito
    client_id = client.create_user_pool_client(UserPoolId=pool, ClientName="catalog@tenant-x")["UserPoolClient"][
        "ClientId"
    ]
    event = _event("pre_token/client_credentials.json")
    event["userPoolId"], event["callerContext"]["clientId"] = pool, client_id

    answer = _pre_token(event)

    assert answer["response"]["claimsAndScopeOverrideDetails"] == {
        "accessTokenGeneration": {"claimsToAddOrOverride": {"custom:tenant_id": "tenant-x"}}
    }


@pytest.mark.parametrize("name", ["catalog", "catalog@", "catalog@../x", "catalog@a b"])
def test_a_client_registered_for_no_usable_tenant_gets_no_token(cognito, name) -> None:
    client, pool = cognito
    client_id = client.create_user_pool_client(UserPoolId=pool, ClientName=name)["UserPoolClient"]["ClientId"]
    event = _event("pre_token/client_credentials.json")
    event["userPoolId"], event["callerContext"]["clientId"] = pool, client_id
    with pytest.raises(Exception, match="not registered for a tenant"):
        _pre_token(event)


def test_peoples_tokens_are_left_as_cognito_made_them(cognito) -> None:
    event = _event("pre_token/client_credentials.json")
    event["triggerSource"] = "TokenGeneration_Authentication"
    assert _pre_token(copy.deepcopy(event)) == event
