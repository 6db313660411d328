"""The sync side of a learner's device: its change feed, page by page, from its cursor.

content_service.device.sync calls ``ApiClient.sync_device`` with the cursor it kept, applies each
change by ``type`` and ``bundle_id`` in ``seq`` order, keeps ``next_cursor``, syncs again at once
while ``has_more``, and verifies the signed ``status``. Nothing else in the page is read.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pact import Pact, match

from content_service.client import ApiClient
from tests.contract.consumers.terms import (
    BUNDLE_ID,
    COMPACT_JWS,
    EXAMPLE_BUNDLE,
    EXAMPLE_DEVICE,
    EXAMPLE_JWS,
    TOKEN,
    caller,
    from_state,
    timestamp,
)
from tests.contract.pactfiles import PROVIDER, ConsumerPacts, consumer_pacts, fresh_pact

pytestmark = pytest.mark.xdist_group("pact-sync")

CHANGE_TYPES = r"^(bundle\.added|bundle\.revoked|licence\.renewed)$"
HOLDS_A_BUNDLE = "a learner's device holds a built bundle"


@pytest.fixture(scope="module")
def pacts(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsumerPacts]:
    yield from consumer_pacts(request, tmp_path_factory, "sync", PROVIDER)


@pytest.fixture
def pact(pacts: ConsumerPacts, request: pytest.FixtureRequest) -> Iterator[Pact]:
    yield from fresh_pact(pacts, request)


def sync_path() -> object:
    return from_state(f"/v1/devices/{EXAMPLE_DEVICE}/sync", "/v1/devices/${device_id}/sync")


def page(change: dict[str, object]) -> dict[str, object]:
    return {
        "changes": match.each_like(
            {"seq": match.int(1), "bundle_id": match.regex(EXAMPLE_BUNDLE, regex=BUNDLE_ID), **change}
        ),
        "next_cursor": match.str("opaque-cursor"),
        "has_more": match.bool(False),
        "server_time": timestamp(),
        "status": match.regex(EXAMPLE_JWS, regex=COMPACT_JWS),
    }


def test_a_first_sync_lists_the_bundles_the_device_should_hold(pact: Pact):
    interaction = pact.upon_receiving("a first sync of a device that holds a bundle")
    caller(interaction, "learner")
    interaction.given(HOLDS_A_BUNDLE)
    (
        interaction.with_request("GET", sync_path())
        .will_respond_with(200)
        .with_body(page({"type": match.regex("bundle.added", regex=CHANGE_TYPES)}), content_type="application/json")
    )
    with pact.serve() as srv:
        answer = ApiClient(str(srv.url), TOKEN).sync_device(EXAMPLE_DEVICE)

    assert [(c["type"], c["bundle_id"]) for c in answer["changes"]] == [("bundle.added", EXAMPLE_BUNDLE)]
    assert answer["next_cursor"]


def test_a_sync_from_a_cursor_brings_a_revocation_with_its_reason(pact: Pact):
    interaction = pact.upon_receiving("a sync from the cursor of the last sync, after a revocation")
    caller(interaction, "learner")
    interaction.given(HOLDS_A_BUNDLE).given("the device has synced, then a bundle it holds was revoked")
    (
        interaction.with_request("GET", sync_path())
        .with_query_parameter("cursor", from_state("opaque-cursor", "${cursor}"))
        .will_respond_with(200)
        .with_body(
            page({"type": "bundle.revoked", "reason": match.str("withdrawn")}), content_type="application/json"
        )
    )
    with pact.serve() as srv:
        answer = ApiClient(str(srv.url), TOKEN).sync_device(EXAMPLE_DEVICE, cursor="opaque-cursor")

    assert answer["changes"][0]["type"] == "bundle.revoked"
    assert answer["changes"][0]["reason"]
