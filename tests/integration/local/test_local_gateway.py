"""The local gateway authorizes like the Cognito authorizer and speaks the REST proxy event format."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from content_service.local.runner import RunnerSettings
from content_service.local.stack import LocalStack
from content_service.local.template import ApiEventSource, FunctionSpec
from tests.integration.local.probes import Probe


def _echo(event: dict[str, Any]) -> dict[str, Any]:
    if event["path"].endswith("/crash"):
        raise RuntimeError("the handler crashed")
    return {
        "statusCode": 201,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {"X-Seen": ["a", "b"]},
        "body": json.dumps({"ok": True}),
        "isBase64Encoded": False,
    }


@pytest.fixture(scope="module")
def api_probe() -> Probe:
    return Probe(_echo)


@pytest.fixture(scope="module")
def public_probe() -> Probe:
    return Probe(lambda event: {"statusCode": 200, "body": '{"keys": []}'})


@pytest.fixture(scope="module")
def stack(
    api_probe: Probe, public_probe: Probe, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    # What a route with `Auth: {Authorizer: NONE}` in template.yaml becomes, on a throwaway function.
    public = FunctionSpec(
        logical_id="PublicKeysFunction",
        code_dir=Path("unused"),
        handler="app.handler",
        timeout=3,
        memory_mb=128,
        raw_environment={},
        events=(ApiEventSource("Probe", "/v1/.well-known/probe", "GET", authorized=False),),
    )
    with LocalStack(
        home=tmp_path_factory.mktemp("home"),
        handlers={
            "ApiFunction": api_probe,
            "PublicKeysFunction": public_probe,
            "BuildPackageFunction": Probe(),
            "SweepStaleBuildsFunction": Probe(),
        },
        extra_functions=[public],
        runner_settings=RunnerSettings(schedules_enabled=False),
    ) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh_probe(api_probe: Probe) -> None:
    api_probe.calls.clear()


def _assert_refused(response: requests.Response, probe: Probe) -> None:
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 401
    assert probe.calls == []


def _token(stack: LocalStack, key: RSAKey | None = None, **overrides: Any) -> str:
    """A token like the dev issuer's, with some claims changed or signed by another key."""
    assert stack.issuer is not None
    good = jwt.decode(stack.mint_token("tenant-a", "user-1"), stack.issuer.jwks()).claims
    claims = {**good, **overrides}
    signing_key = key or stack.issuer.key
    return jwt.encode(
        {"alg": "RS256", "kid": stack.issuer.key.kid}, claims, signing_key, algorithms=["RS256"]
    )


def test_a_request_without_a_token_is_refused(stack: LocalStack, api_probe: Probe) -> None:
    _assert_refused(requests.get(f"{stack.api_url}/v1/packages", timeout=5), api_probe)


def test_a_token_signed_by_another_key_is_refused(stack: LocalStack, api_probe: Probe) -> None:
    forged = _token(stack, key=RSAKey.generate_key(2048))
    response = requests.get(
        f"{stack.api_url}/v1/packages", headers={"Authorization": f"Bearer {forged}"}, timeout=5
    )
    _assert_refused(response, api_probe)


def test_a_tampered_token_is_refused(stack: LocalStack, api_probe: Probe) -> None:
    header, payload, signature = stack.mint_token("tenant-a", "user-1").split(".")
    other_payload = _token(stack, **{"custom:tenant_id": "tenant-b"}).split(".")[1]
    tampered = f"{header}.{other_payload}.{signature}"
    response = requests.get(
        f"{stack.api_url}/v1/packages", headers={"Authorization": f"Bearer {tampered}"}, timeout=5
    )
    _assert_refused(response, api_probe)


def test_an_expired_token_is_refused(stack: LocalStack, api_probe: Probe) -> None:
    assert stack.issuer is not None
    expired = stack.issuer.mint_token("tenant-a", "user-1", ttl=-10)
    response = requests.get(
        f"{stack.api_url}/v1/packages", headers={"Authorization": f"Bearer {expired}"}, timeout=5
    )
    _assert_refused(response, api_probe)


@pytest.mark.parametrize(
    "claims",
    [{"aud": "some-other-client"}, {"iss": "https://evil.example"}, {"token_use": "access"}],
    ids=["audience", "issuer", "access-token"],
)
def test_a_token_for_someone_else_is_refused(
    stack: LocalStack, api_probe: Probe, claims: dict[str, str]
) -> None:
    token = _token(stack, **claims)
    response = requests.get(
        f"{stack.api_url}/v1/packages", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    _assert_refused(response, api_probe)


def test_a_good_token_passes_its_claims_to_the_handler(stack: LocalStack, api_probe: Probe) -> None:
    token = stack.mint_token("tenant-a", "user-1", roles=["author"])

    response = requests.post(
        f"{stack.api_url}/v1/packages/p-1/exports?format=scorm12&tag=a&tag=b",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "k-1"},
        json={"format": "scorm12"},
        timeout=5,
    )

    assert response.status_code == 201
    assert response.json() == {"ok": True}
    assert response.headers["X-Seen"] == "a, b"
    ((event, context),) = api_probe.calls
    assert event["requestContext"]["authorizer"] == {
        "principalId": "user-1",
        "tenant_id": "tenant-a",
        "principal_id": "user-1",
        "principal_type": "user",
        "roles": "author learner",
        "token_use": "id",
    }
    assert event["resource"] == "/v1/{proxy+}"
    assert event["path"] == "/v1/packages/p-1/exports"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"proxy": "packages/p-1/exports"}
    assert event["queryStringParameters"] == {"format": "scorm12", "tag": "b"}
    assert event["multiValueQueryStringParameters"] == {"format": ["scorm12"], "tag": ["a", "b"]}
    assert event["headers"]["Idempotency-Key"] == "k-1"
    assert event["multiValueHeaders"]["Idempotency-Key"] == ["k-1"]
    assert json.loads(event["body"]) == {"format": "scorm12"}
    assert event["isBase64Encoded"] is False
    assert event["requestContext"]["stage"] == stack.template.api_stage
    assert event["requestContext"]["resourcePath"] == "/v1/{proxy+}"
    assert context.function_name == stack.template.resolver.refs["ApiFunction"]


def test_a_service_token_passes_the_service_and_its_scopes_as_roles(
    stack: LocalStack, api_probe: Probe
) -> None:
    token = stack.mint_service_token("tenant-b", "catalog", ["catalog"])

    response = requests.get(f"{stack.api_url}/v1/bundles", headers={"Authorization": f"Bearer {token}"}, timeout=5)

    assert response.status_code == 201
    ((event, _),) = api_probe.calls
    assert event["requestContext"]["authorizer"] == {
        "principalId": "catalog",
        "tenant_id": "tenant-b",
        "principal_id": "catalog",
        "principal_type": "service",
        "roles": "catalog",
        "token_use": "access",
    }


@pytest.mark.parametrize(
    ("client_id", "roles", "overrides"),
    [
        ("someone-else", ["catalog"], {}),
        ("catalog", [], {}),
        ("catalog", ["learner"], {}),
        ("catalog", ["catalog"], {"sub": "user-1"}),
        ("catalog", ["catalog"], {"custom:tenant_id": "../tenant"}),
        ("local-client", ["admin"], {}),
    ],
    ids=["unknown-client", "no-scope", "learner-scope", "subject-not-client", "unsafe-tenant", "people-client"],
)
def test_a_service_token_the_pool_would_not_issue_is_refused(
    stack: LocalStack, api_probe: Probe, client_id: str, roles: list[str], overrides: dict[str, str]
) -> None:
    assert stack.issuer is not None
    token = stack.issuer.mint_service_token("tenant-a", client_id, roles, **overrides)
    response = requests.get(
        f"{stack.api_url}/v1/packages", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    _assert_refused(response, api_probe)


def test_binary_bodies_arrive_base64_encoded(stack: LocalStack, api_probe: Probe) -> None:
    token = stack.mint_token("tenant-a", "user-1")
    requests.put(
        f"{stack.api_url}/v1/blob", headers={"Authorization": f"Bearer {token}"}, data=b"\xff\xfe", timeout=5
    )

    ((event, _),) = api_probe.calls
    assert event["isBase64Encoded"] is True
    assert event["body"] == "//4="


def test_paths_outside_the_template_routes_are_not_found(stack: LocalStack, api_probe: Probe) -> None:
    token = stack.mint_token("tenant-a", "user-1")
    response = requests.get(
        f"{stack.api_url}/v2/packages", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert response.status_code == 404
    assert api_probe.calls == []


def test_a_crashing_handler_is_a_502(stack: LocalStack, api_probe: Probe) -> None:
    token = stack.mint_token("tenant-a", "user-1")
    response = requests.get(
        f"{stack.api_url}/v1/crash", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert response.status_code == 502
    assert len(api_probe.calls) == 1


def test_a_route_without_an_authorizer_needs_no_token(
    stack: LocalStack, api_probe: Probe, public_probe: Probe
) -> None:
    response = requests.get(f"{stack.api_url}/v1/.well-known/probe", timeout=5)

    assert response.status_code == 200
    ((event, _),) = public_probe.calls
    assert event["requestContext"]["authorizer"] is None
    # The literal route wins over the greedy /v1/{proxy+} one, as in API Gateway.
    assert event["resource"] == "/v1/.well-known/probe"
    assert api_probe.calls == []


def test_the_templates_jwks_route_is_public_and_reaches_the_api_function(
    stack: LocalStack, api_probe: Probe
) -> None:
    response = requests.get(f"{stack.api_url}/v1/.well-known/jwks.json", timeout=5)

    assert response.status_code == 201  # whatever the API probe answers, without a token
    ((event, _),) = api_probe.calls
    assert event["resource"] == "/v1/.well-known/jwks.json"
    assert event["requestContext"]["authorizer"] is None


def test_other_methods_on_a_public_route_fall_through_to_the_authorized_proxy(
    stack: LocalStack, api_probe: Probe
) -> None:
    response = requests.post(f"{stack.api_url}/v1/.well-known/jwks.json", timeout=5)
    assert response.status_code == 401
