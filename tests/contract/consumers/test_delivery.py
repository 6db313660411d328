"""The delivery side of a learner's device: licences, signed download URLs, and the JWKS.

The reference device agent (content_service.device) calls these through ApiClient with its
learner's token: ``issue_licence`` (it keeps the compact JWS and verifies it itself),
``download_urls`` (it fetches the manifest and each container by URL), and ``jwks`` (it pins the
keys by ``kid``). Nothing else in these answers is read.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pact import Pact, match

from content_service.client import ApiClient
from tests.contract.consumers.terms import (
    COMPACT_JWS,
    DEVICE_ID,
    EXAMPLE_BUNDLE,
    EXAMPLE_DEVICE,
    EXAMPLE_JWS,
    EXAMPLE_PACKAGE,
    HTTP_URL,
    PACKAGE_ID,
    TOKEN,
    caller,
    from_state,
    timestamp,
)
from tests.contract.pactfiles import PROVIDER, ConsumerPacts, consumer_pacts, fresh_pact

pytestmark = pytest.mark.xdist_group("pact-delivery")

HOLDS_A_BUNDLE = "a learner's device holds a built bundle"


@pytest.fixture(scope="module")
def pacts(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsumerPacts]:
    yield from consumer_pacts(request, tmp_path_factory, "delivery", PROVIDER)


@pytest.fixture
def pact(pacts: ConsumerPacts, request: pytest.FixtureRequest) -> Iterator[Pact]:
    yield from fresh_pact(pacts, request)


def test_a_licence_for_the_device_is_a_compact_jws_with_its_expiry(pact: Pact):
    interaction = pact.upon_receiving("a request for a licence of a bundle for the learner's device")
    caller(interaction, "learner")
    interaction.given(HOLDS_A_BUNDLE)
    (
        interaction.with_request(
            "POST", from_state(f"/v1/bundles/{EXAMPLE_BUNDLE}/licenses", "/v1/bundles/${bundle_id}/licenses")
        )
        .with_header("Content-Type", "application/json")
        .with_body({"device_id": from_state(EXAMPLE_DEVICE, "${device_id}", regex=DEVICE_ID)})
        .will_respond_with(201)
        .with_body(
            {
                "license": match.regex(EXAMPLE_JWS, regex=COMPACT_JWS),
                "license_id": match.str("lic_1"),
                "expires_at": timestamp(),
            },
            content_type="application/json",
        )
    )
    with pact.serve() as srv:
        licence = ApiClient(str(srv.url), TOKEN).issue_licence(EXAMPLE_BUNDLE, EXAMPLE_DEVICE)

    assert licence["license"].count(".") == 2


def test_download_urls_name_the_manifest_and_each_container(pact: Pact):
    interaction = pact.upon_receiving("a request for the signed download URLs of a bundle")
    caller(interaction, "learner")
    interaction.given(HOLDS_A_BUNDLE)
    (
        interaction.with_request(
            "GET", from_state(f"/v1/bundles/{EXAMPLE_BUNDLE}/download", "/v1/bundles/${bundle_id}/download")
        )
        .with_query_parameter("device_id", from_state(EXAMPLE_DEVICE, "${device_id}", regex=DEVICE_ID))
        .will_respond_with(200)
        .with_body(
            {
                "manifest_url": match.regex("https://cdn.example/manifest.jws?Signature=x", regex=HTTP_URL),
                "containers": match.each_like(
                    {
                        "package_id": match.regex(EXAMPLE_PACKAGE, regex=PACKAGE_ID),
                        "version": match.int(1),
                        "url": match.regex("https://cdn.example/container?Signature=x", regex=HTTP_URL),
                    }
                ),
            },
            content_type="application/json",
        )
    )
    with pact.serve() as srv:
        signed = ApiClient(str(srv.url), TOKEN).download_urls(EXAMPLE_BUNDLE, EXAMPLE_DEVICE)

    urls = {(c["package_id"], int(c["version"])): c["url"] for c in signed["containers"]}
    assert list(urls) == [(EXAMPLE_PACKAGE, 1)]
    assert signed["manifest_url"].startswith("https://")


def test_the_jwks_lists_es256_keys_by_kid(pact: Pact):
    interaction = pact.upon_receiving("a request for the keys that verify manifests and licences")
    caller(interaction, "learner")
    (
        interaction.with_request("GET", "/v1/.well-known/jwks.json")
        .will_respond_with(200)
        .with_body(
            {
                "keys": match.each_like(
                    {
                        "kty": "EC",
                        "crv": "P-256",
                        "alg": "ES256",
                        "kid": match.str("key-1"),
                        "x": match.regex("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", regex=r"^[A-Za-z0-9_-]{43}$"),
                        "y": match.regex("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", regex=r"^[A-Za-z0-9_-]{43}$"),
                    }
                )
            },
            content_type="application/json",
        )
    )
    with pact.serve() as srv:
        jwks = ApiClient(str(srv.url), TOKEN).jwks()

    assert all(key["kid"] for key in jwks["keys"])
