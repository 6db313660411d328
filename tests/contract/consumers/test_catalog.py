"""The catalog service's contract: it creates bundles for learners, reads them, and revokes them.

The catalog acts with its client-credentials token (the catalog role) through
content_service.client.ApiClient: ``create_bundle`` with an Idempotency-Key, ``get_bundle``,
``revoke_bundle``. It keeps a bundle's id, owner and state, and the package versions it holds.
When a tenant admin pulls a package version from the catalog's console, the catalog calls
``withdraw_package_version`` with that admin's token (the route is admin-only) and follows
``get_withdrawal`` until the fan-out is done, to stop offering the version.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pact import Pact, match

from content_service.client import ApiClient, ApiError
from tests.contract.consumers.terms import (
    BUNDLE_ID,
    EXAMPLE_BUNDLE,
    EXAMPLE_PACKAGE,
    EXAMPLE_USER,
    PACKAGE_ID,
    TOKEN,
    caller,
    from_state,
    idempotency_key,
    problem,
    timestamp,
)
from tests.contract.pactfiles import PROVIDER, ConsumerPacts, consumer_pacts, fresh_pact

pytestmark = pytest.mark.xdist_group("pact-catalog")

# Relative or absolute, with or without the stage: the consumer follows it as a URL reference.
BUNDLE_LOCATION = r"^\S*/v1/bundles/bnd_[0-9a-f]{32}$"
WITHDRAWAL_ID = r"^wdr_[0-9a-f]{32}$"
WITHDRAWAL_STATE = r"^(pending|planning|fanning_out|done)$"


@pytest.fixture(scope="module")
def pacts(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConsumerPacts]:
    yield from consumer_pacts(request, tmp_path_factory, "catalog", PROVIDER)


@pytest.fixture
def pact(pacts: ConsumerPacts, request: pytest.FixtureRequest) -> Iterator[Pact]:
    yield from fresh_pact(pacts, request)


def bundle_path(suffix: str = "") -> object:
    return from_state(f"/v1/bundles/{EXAMPLE_BUNDLE}{suffix}", "/v1/bundles/${bundle_id}" + suffix)


def bundle_body(state: object) -> dict[str, object]:
    return {
        "bundle_id": match.regex(EXAMPLE_BUNDLE, regex=BUNDLE_ID),
        "user_id": match.str(EXAMPLE_USER),
        "state": state,
        "packages": match.each_like(
            {"package_id": match.regex(EXAMPLE_PACKAGE, regex=PACKAGE_ID), "version": match.int(1)}
        ),
    }


def test_creating_a_bundle_for_a_learner_answers_201_with_its_location(pact: Pact):
    interaction = pact.upon_receiving("a request to create a bundle of a built package for a learner")
    caller(interaction, "catalog service")
    interaction.given("a package version is built")
    (
        interaction.with_request("POST", "/v1/bundles")
        .with_header("Idempotency-Key", idempotency_key())
        .with_header("Content-Type", "application/json")
        .with_body(
            {
                "packages": [{"package_id": from_state(EXAMPLE_PACKAGE, "${package_id}", regex=PACKAGE_ID)}],
                "user_id": EXAMPLE_USER,
            }
        )
        .will_respond_with(201)
        .with_header("Location", match.regex(f"/v1/bundles/{EXAMPLE_BUNDLE}", regex=BUNDLE_LOCATION))
        .with_body(
            {**bundle_body(match.regex("built", regex=r"^(building|built)$")), "user_id": EXAMPLE_USER},
            content_type="application/json",
        )
    )
    with pact.serve() as srv:
        bundle = ApiClient(str(srv.url), TOKEN).create_bundle(
            [{"package_id": EXAMPLE_PACKAGE}], "6f1c2a7e-0d6b-4c61-9a53-2f0f3c1b9e10", user_id=EXAMPLE_USER
        )

    assert bundle["user_id"] == EXAMPLE_USER
    assert bundle["packages"][0]["package_id"] == EXAMPLE_PACKAGE


def test_reading_a_bundle_gives_its_owner_state_and_packages(pact: Pact):
    interaction = pact.upon_receiving("a request for a built bundle")
    caller(interaction, "catalog service")
    interaction.given("a bundle is built for a learner")
    (
        interaction.with_request("GET", bundle_path())
        .will_respond_with(200)
        .with_body(bundle_body("built"), content_type="application/json")
    )
    with pact.serve() as srv:
        bundle = ApiClient(str(srv.url), TOKEN).get_bundle(EXAMPLE_BUNDLE)

    assert bundle["state"] == "built"
    assert bundle["packages"]


def test_revoking_a_bundle_answers_the_revoked_bundle(pact: Pact):
    interaction = pact.upon_receiving("a request to revoke a built bundle")
    caller(interaction, "catalog service")
    interaction.given("a bundle is built for a learner")
    (
        interaction.with_request("POST", bundle_path("/revoke"))
        .with_header("Content-Type", "application/json")
        .with_body({"reason": match.str("licence withdrawn")})
        .will_respond_with(200)
        .with_body(
            {"bundle_id": match.regex(EXAMPLE_BUNDLE, regex=BUNDLE_ID), "state": "revoked"},
            content_type="application/json",
        )
    )
    with pact.serve() as srv:
        bundle = ApiClient(str(srv.url), TOKEN).revoke_bundle(EXAMPLE_BUNDLE, "licence withdrawn")

    assert bundle["state"] == "revoked"


def test_an_unknown_bundle_is_a_problem_404(pact: Pact):
    missing = "bnd_" + "f" * 32
    interaction = pact.upon_receiving("a request for a bundle that does not exist")
    caller(interaction, "catalog service")
    (
        interaction.with_request("GET", f"/v1/bundles/{missing}")
        .will_respond_with(404)
        .with_body(problem(404), content_type="application/problem+json")
    )
    with pact.serve() as srv, pytest.raises(ApiError) as raised:
        ApiClient(str(srv.url), TOKEN).get_bundle(missing)

    assert raised.value.status == 404


def _version_path(suffix: str) -> object:
    return from_state(
        f"/v1/packages/{EXAMPLE_PACKAGE}/versions/1{suffix}",
        "/v1/packages/${package_id}/versions/1" + suffix,
        regex=r"^/v1/packages/\S+/versions/1" + suffix + "$",
    )


def test_withdrawing_a_package_version_answers_202_with_the_withdrawal_to_follow(pact: Pact):
    interaction = pact.upon_receiving("a request to withdraw a built package version")
    caller(interaction, "tenant admin")
    interaction.given("a built package version no bundle holds")
    (
        interaction.with_request("POST", _version_path("/revoke"))
        .with_header("Idempotency-Key", idempotency_key())
        .with_header("Content-Type", "application/json")
        .with_body({"reason": match.str("an error in the course")})
        .will_respond_with(202)
        .with_header(
            "Location",
            match.regex(
                f"/v1/packages/{EXAMPLE_PACKAGE}/versions/1/withdrawal",
                regex=r"^\S*/v1/packages/\S+/versions/1/withdrawal$",
            ),
        )
        .with_body(
            {
                "withdrawal_id": match.regex("wdr_" + "0" * 31 + "5", regex=WITHDRAWAL_ID),
                "package_id": match.regex(EXAMPLE_PACKAGE, regex=PACKAGE_ID),
                "version": match.int(1),
                "state": match.regex("pending", regex=WITHDRAWAL_STATE),
            },
            content_type="application/json",
        )
    )
    with pact.serve() as srv:
        withdrawal = ApiClient(str(srv.url), TOKEN).withdraw_package_version(
            EXAMPLE_PACKAGE, 1, "an error in the course", "6f1c2a7e-0d6b-4c61-9a53-2f0f3c1b9e10"
        )

    assert withdrawal["package_id"] == EXAMPLE_PACKAGE and withdrawal["state"] in {
        "pending",
        "planning",
        "fanning_out",
        "done",
    }


def test_a_withdrawal_reports_its_progress(pact: Pact):
    interaction = pact.upon_receiving("a request for a package version's withdrawal")
    caller(interaction, "tenant admin")
    interaction.given("a package version was withdrawn")
    (
        interaction.with_request("GET", _version_path("/withdrawal"))
        .will_respond_with(200)
        .with_body(
            {
                "withdrawal_id": match.regex("wdr_" + "0" * 31 + "5", regex=WITHDRAWAL_ID),
                "state": match.regex("done", regex=WITHDRAWAL_STATE),
                "reason": match.str("withdrawn for the pact"),
                "started_at": timestamp(),
                "bundles_revoked": match.int(0),
                "devices_notified": match.int(0),
            },
            content_type="application/json",
        )
    )
    with pact.serve() as srv:
        progress = ApiClient(str(srv.url), TOKEN).get_withdrawal(EXAMPLE_PACKAGE, 1)

    assert progress["state"] == "done" and progress["bundles_revoked"] == 0
