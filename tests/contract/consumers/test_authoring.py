"""The authoring service's contract: it registers uploads and follows its package versions' status.

The authoring service uses content_service.client.ApiClient: ``create_upload`` (then a PUT to
the URL it got, with exactly the headers it got), and ``get_package`` until the version leaves
``building``. It reads only the fields below; everything else in the answers is free to change.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pact import Pact, match

from content_service.client import ApiClient, ApiError
from tests.contract.consumers.terms import (
    EXAMPLE_PACKAGE,
    PACKAGE_ID,
    TOKEN,
    caller,
    from_state,
    problem,
    timestamp,
)
from tests.contract.pactfiles import PROVIDER, ConsumerPacts, consumer_pacts, fresh_pact

pytestmark = pytest.mark.xdist_group("pact-authoring")

PACKAGE_STATE = r"^(building|built|failed|revoked)$"


@pytest.fixture(scope="module")
def pacts(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsumerPacts]:
    yield from consumer_pacts(request, tmp_path_factory, "authoring", PROVIDER)


@pytest.fixture
def pact(pacts: ConsumerPacts, request: pytest.FixtureRequest) -> Iterator[Pact]:
    yield from fresh_pact(pacts, request)


def test_an_upload_gets_a_presigned_put_with_the_headers_to_send(pact: Pact):
    interaction = pact.upon_receiving("a request to upload a new package")
    caller(interaction, "authoring service")
    (
        interaction.with_request("POST", "/v1/uploads")
        .with_header("Content-Type", "application/json")
        .with_body({"content_type": "application/zip", "content_length": match.int(2048)})
        .will_respond_with(201)
        # Relative or absolute, with or without the stage: the consumer follows it as a URL reference.
        .with_header("Location", match.regex("/v1/packages/pkg-1?version=1", regex=r"^\S*/v1/packages/\S+$"))
        .with_body(
            {
                "package": {
                    "package_id": match.regex(EXAMPLE_PACKAGE, regex=PACKAGE_ID),
                    "version": match.int(1),
                    "state": "building",
                },
                "upload": {
                    "url": match.regex("http://uploads.example/key?X-Amz-Signature=abc", regex=r"^https?://\S+$"),
                    "method": "PUT",
                    "headers": match.each_value_matches(
                        {"Content-Type": "application/zip", "Content-Length": "2048"},
                        rules=match.str("application/zip"),
                    ),
                    "expires_at": timestamp(),
                },
            },
            content_type="application/json",
        )
    )
    with pact.serve() as srv:
        created = ApiClient(str(srv.url), TOKEN).create_upload(2048)

    assert created["package"]["state"] == "building"
    assert created["upload"]["method"] == "PUT"
    assert created["upload"]["headers"]["Content-Type"] == "application/zip"


def test_a_built_package_version_reports_its_state_and_content_hash(pact: Pact):
    interaction = pact.upon_receiving("a request for a built package version")
    caller(interaction, "authoring service")
    interaction.given("a package version is built")
    (
        interaction.with_request(
            "GET",
            from_state(f"/v1/packages/{EXAMPLE_PACKAGE}", "/v1/packages/${package_id}", regex=r"^/v1/packages/\S+$"),
        )
        .with_query_parameter("version", match.regex("1", regex=r"^\d+$"))
        .will_respond_with(200)
        .with_body(
            {
                "package_id": match.regex(EXAMPLE_PACKAGE, regex=PACKAGE_ID),
                "version": match.int(1),
                "state": "built",
                "content_hash": match.regex("a" * 64, regex=r"^[0-9a-f]{64}$"),
                "updated_at": timestamp(),
            },
            content_type="application/json",
        )
    )
    with pact.serve() as srv:
        package = ApiClient(str(srv.url), TOKEN).get_package(EXAMPLE_PACKAGE, 1)

    assert package["state"] == "built"
    assert len(package["content_hash"]) == 64


def test_a_failed_package_version_says_why_with_a_problem_code(pact: Pact):
    interaction = pact.upon_receiving("a request for a package version whose build failed")
    caller(interaction, "authoring service")
    interaction.given("a package version failed to build")
    (
        interaction.with_request(
            "GET",
            from_state(f"/v1/packages/{EXAMPLE_PACKAGE}", "/v1/packages/${package_id}", regex=r"^/v1/packages/\S+$"),
        )
        .with_query_parameter("version", match.regex("1", regex=r"^\d+$"))
        .will_respond_with(200)
        .with_body(
            {
                "package_id": match.regex(EXAMPLE_PACKAGE, regex=PACKAGE_ID),
                "version": match.int(1),
                "state": "failed",
                "problem": {"code": match.str("package.no_descriptor"), "detail": match.str("why")},
            },
            content_type="application/json",
        )
    )
    with pact.serve() as srv:
        package = ApiClient(str(srv.url), TOKEN).get_package(EXAMPLE_PACKAGE, 1)

    assert package["state"] == "failed"
    assert package["problem"]["code"]


def test_an_unknown_package_is_a_problem_404(pact: Pact):
    interaction = pact.upon_receiving("a request for a package that does not exist")
    caller(interaction, "authoring service")
    (
        interaction.with_request("GET", "/v1/packages/pkg-never-uploaded")
        .will_respond_with(404)
        .with_body(problem(404), content_type="application/problem+json")
    )
    with pact.serve() as srv, pytest.raises(ApiError) as raised:
        ApiClient(str(srv.url), TOKEN).get_package("pkg-never-uploaded")

    assert raised.value.status == 404
