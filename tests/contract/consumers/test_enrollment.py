"""The enrollment service's contract: it lists a learner's devices and revokes a device.

Listing a learner's devices is done with the enrollment service's catalog-role token
(``GET /v1/devices?user_id=``); revoking another user's device needs the admin role, so the
enrollment console revokes as the tenant admin who asked for it. It reads a device's id, owner
and state.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pact import Pact, match

from content_service.client import ApiClient
from tests.contract.consumers.terms import (
    DEVICE_ID,
    EXAMPLE_DEVICE,
    EXAMPLE_USER,
    TOKEN,
    caller,
    from_state,
)
from tests.contract.pactfiles import PROVIDER, ConsumerPacts, consumer_pacts, fresh_pact

pytestmark = pytest.mark.xdist_group("pact-enrollment")

DEVICE_STATE = r"^(active|revoked)$"


@pytest.fixture(scope="module")
def pacts(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsumerPacts]:
    yield from consumer_pacts(request, tmp_path_factory, "enrollment", PROVIDER)


@pytest.fixture
def pact(pacts: ConsumerPacts, request: pytest.FixtureRequest) -> Iterator[Pact]:
    yield from fresh_pact(pacts, request)


class EnrollmentClient(ApiClient):
    """What the enrollment service adds to the shared client: a named user's devices."""

    def devices_of(self, user_id: str) -> list[dict]:
        return self._request("GET", "/v1/devices", params={"user_id": user_id}).json()["items"]


def test_a_learners_devices_are_listed_for_the_enrollment_service(pact: Pact):
    interaction = pact.upon_receiving("a request for a learner's devices")
    caller(interaction, "catalog service")
    interaction.given("a learner has an enrolled device")
    (
        interaction.with_request("GET", "/v1/devices")
        .with_query_parameter("user_id", from_state(EXAMPLE_USER, "${user_id}"))
        .will_respond_with(200)
        .with_body(
            {
                "items": match.each_like(
                    {
                        "device_id": match.regex(EXAMPLE_DEVICE, regex=DEVICE_ID),
                        "user_id": match.str(EXAMPLE_USER),
                        "state": match.regex("active", regex=DEVICE_STATE),
                    }
                )
            },
            content_type="application/json",
        )
    )
    with pact.serve() as srv:
        devices = EnrollmentClient(str(srv.url), TOKEN).devices_of(EXAMPLE_USER)

    assert [d["device_id"] for d in devices] == [EXAMPLE_DEVICE]
    assert devices[0]["state"] == "active"


def test_revoking_a_device_answers_the_revoked_device(pact: Pact):
    interaction = pact.upon_receiving("a request to revoke a learner's device")
    caller(interaction, "tenant admin")
    interaction.given("a learner has an enrolled device")
    (
        interaction.with_request(
            "POST", from_state(f"/v1/devices/{EXAMPLE_DEVICE}/revoke", "/v1/devices/${device_id}/revoke")
        )
        .with_header("Content-Type", "application/json")
        .with_body({"reason": match.str("device lost")})
        .will_respond_with(200)
        .with_body(
            {
                "device_id": match.regex(EXAMPLE_DEVICE, regex=DEVICE_ID),
                "user_id": match.str(EXAMPLE_USER),
                "state": "revoked",
            },
            content_type="application/json",
        )
    )
    with pact.serve() as srv:
        device = EnrollmentClient(str(srv.url), TOKEN).revoke_device(EXAMPLE_DEVICE, "device lost")

    assert device["state"] == "revoked"
