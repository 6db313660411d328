"""The authoring service's contract: it registers uploads, follows its package versions' status,
and asks for their study-assistant configurations.

The authoring service uses content_service.client.ApiClient: ``create_upload`` (then a PUT to
the URL it got, with exactly the headers it got), and ``get_package`` until the version leaves
``building``; ``create_assistant_config`` (202), ``get_assistant_generation`` until it is ready,
``get_assistant_config`` to show the draft and its provenance to the author, and, in its review
screen acting for the tenant admin who approves, ``approve_assistant_config``. It reads only the
fields below; everything else in the answers is free to change.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pact import Pact, match

from content_service.client import ApiClient, ApiError
from tests.contract.consumers.terms import (
    EXAMPLE_PACKAGE,
    PACKAGE_ID,
    SHA256,
    TOKEN,
    caller,
    from_state,
    idempotency_key,
    problem,
    timestamp,
)
from tests.contract.pactfiles import PROVIDER, ConsumerPacts, consumer_pacts, fresh_pact

pytestmark = pytest.mark.xdist_group("pact-authoring")

PACKAGE_STATE = r"^(building|built|failed|revoked)$"
GENERATION_ID = r"^asg_[0-9a-f]{32}$"
CONFIG_ID = r"^v[1-9][0-9]*r[1-9][0-9]*$"
EXAMPLE_GENERATION = "asg_" + "0" * 31 + "4"
EXAMPLE_CONFIG = "v1r1"


@pytest.fixture(scope="module")
def pacts(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConsumerPacts]:
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
                    "url": match.regex(
                        "http://uploads.example/key?X-Amz-Signature=abc", regex=r"^https?://\S+$"
                    ),
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
            from_state(
                f"/v1/packages/{EXAMPLE_PACKAGE}", "/v1/packages/${package_id}", regex=r"^/v1/packages/\S+$"
            ),
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
            from_state(
                f"/v1/packages/{EXAMPLE_PACKAGE}", "/v1/packages/${package_id}", regex=r"^/v1/packages/\S+$"
            ),
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


def test_asking_for_an_assistant_config_queues_a_generation_to_follow(pact: Pact):
    interaction = pact.upon_receiving("a request to generate an assistant config of a built package version")
    caller(interaction, "authoring service")
    interaction.given("a package version is built")
    (
        interaction.with_request(
            "POST",
            from_state(
                f"/v1/packages/{EXAMPLE_PACKAGE}/assistant-configs",
                "/v1/packages/${package_id}/assistant-configs",
                regex=r"^/v1/packages/\S+/assistant-configs$",
            ),
        )
        .with_header("Idempotency-Key", idempotency_key())
        .with_header("Content-Type", "application/json")
        .with_body({"version": match.int(1)})
        .will_respond_with(202)
        .with_header(
            "Location",
            match.regex(
                f"/v1/assistant-generations/{EXAMPLE_GENERATION}",
                regex=r"^\S*/v1/assistant-generations/asg_[0-9a-f]{32}$",
            ),
        )
        .with_body(
            {
                "generation_id": match.regex(EXAMPLE_GENERATION, regex=GENERATION_ID),
                "package_id": match.regex(EXAMPLE_PACKAGE, regex=PACKAGE_ID),
                "version": match.int(1),
                "state": "pending",
            },
            content_type="application/json",
        )
    )
    with pact.serve() as srv:
        queued = ApiClient(str(srv.url), TOKEN).create_assistant_config(
            EXAMPLE_PACKAGE, "6f1c2a7e-0d6b-4c61-9a53-2f0f3c1b9e10", 1
        )

    assert queued["state"] == "pending" and queued["generation_id"].startswith("asg_")


def test_a_finished_generation_names_the_draft_it_made(pact: Pact):
    interaction = pact.upon_receiving("a request for an assistant generation that is ready")
    caller(interaction, "authoring service")
    interaction.given("an assistant generation of a built package version is ready")
    (
        interaction.with_request(
            "GET",
            from_state(
                f"/v1/assistant-generations/{EXAMPLE_GENERATION}",
                "/v1/assistant-generations/${generation_id}",
                regex=r"^/v1/assistant-generations/asg_[0-9a-f]{32}$",
            ),
        )
        .will_respond_with(200)
        .with_body(
            {
                "generation_id": match.regex(EXAMPLE_GENERATION, regex=GENERATION_ID),
                "state": "ready",
                "config_id": match.regex(EXAMPLE_CONFIG, regex=CONFIG_ID),
            },
            content_type="application/json",
        )
    )
    with pact.serve() as srv:
        job = ApiClient(str(srv.url), TOKEN).wait_for_assistant_generation(EXAMPLE_GENERATION, timeout=5)

    assert job["state"] == "ready" and job["config_id"] == EXAMPLE_CONFIG


def _config_path(suffix: str = "") -> object:
    return from_state(
        f"/v1/packages/{EXAMPLE_PACKAGE}/assistant-configs/{EXAMPLE_CONFIG}{suffix}",
        "/v1/packages/${package_id}/assistant-configs/${config_id}" + suffix,
        regex=r"^/v1/packages/\S+/assistant-configs/v\d+r\d+" + suffix + "$",
    )


def test_a_draft_assistant_config_shows_what_it_says_and_its_provenance(pact: Pact):
    interaction = pact.upon_receiving("a request for a draft assistant config")
    caller(interaction, "authoring service")
    interaction.given("a draft assistant config of a built package version exists")
    (
        interaction.with_request("GET", _config_path())
        .will_respond_with(200)
        .with_body(
            {
                "config_id": match.regex(EXAMPLE_CONFIG, regex=CONFIG_ID),
                "state": "draft",
                "config": {
                    "summary": match.str("What the course is about."),
                    "key_terms": match.each_like({"term": match.str("swing")}),
                    "questions": match.each_like({"question": match.str("What is a swing?")}),
                },
                "provenance": {
                    "generator": match.str("local-extractive"),
                    "model_id": match.str("yake"),
                    "prompt_template_sha256": match.regex("b" * 64, regex=SHA256),
                    "input": {"content_hash": match.regex("a" * 64, regex=SHA256)},
                    "output_sha256": match.regex("c" * 64, regex=SHA256),
                    "requested_by": match.str("authoring"),
                    "requested_at": timestamp(),
                },
            },
            content_type="application/json",
        )
    )
    with pact.serve() as srv:
        draft = ApiClient(str(srv.url), TOKEN).get_assistant_config(EXAMPLE_PACKAGE, EXAMPLE_CONFIG)

    assert draft["state"] == "draft" and draft["config"]["questions"]
    assert len(draft["provenance"]["output_sha256"]) == 64


def test_the_tenant_admin_approves_a_draft_so_it_ships(pact: Pact):
    interaction = pact.upon_receiving("a request to approve a draft assistant config")
    caller(interaction, "tenant admin")
    interaction.given("a draft assistant config of a built package version exists")
    (
        interaction.with_request("POST", _config_path("/approve"))
        .will_respond_with(200)
        .with_body(
            {
                "config_id": match.regex(EXAMPLE_CONFIG, regex=CONFIG_ID),
                "state": "approved",
                "approved_by": match.str("admin-pact"),
                "approved_at": timestamp(),
            },
            content_type="application/json",
        )
    )
    with pact.serve() as srv:
        approved = ApiClient(str(srv.url), TOKEN).approve_assistant_config(EXAMPLE_PACKAGE, EXAMPLE_CONFIG)

    assert approved["state"] == "approved" and approved["approved_by"]
