"""The sync consumer's event contract: the events that change what a learner's devices hold.

A revoked bundle must leave every device of its user; a revoked device gets nothing more. The
sync consumer (a device-fleet service, or the reference device's push channel) reads only the
fields below; the handler is that logic and each pact message is fed to it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pact import Pact, match

from tests.contract.consumers.terms import (
    BUNDLE_ID,
    DEVICE_ID,
    EXAMPLE_BUNDLE,
    EXAMPLE_DEVICE,
    EXAMPLE_USER,
    event,
    on_the_bus,
)
from tests.contract.pactfiles import EVENTS_PROVIDER, ConsumerPacts, consumer_pacts, fresh_pact

pytestmark = pytest.mark.xdist_group("pact-sync-events")


class SyncFanIn:
    """What the sync consumer does with an event: the work it queues for a user's devices."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.unmount: list[tuple[str, str, str]] = []
        self.silenced: list[tuple[str, str]] = []

    def handle(self, body: str | bytes | None, metadata: dict[str, Any]) -> None:
        envelope = json.loads(body or b"")
        if envelope["id"] in self.seen:
            return
        self.seen.add(envelope["id"])
        tenant, data = envelope["tenant_id"], envelope["data"]
        if metadata["detail-type"] == "content.bundle.revoked.v1":
            self.unmount.append((tenant, data["user_id"], data["bundle_id"]))
        elif metadata["detail-type"] == "content.device.revoked.v1":
            self.silenced.append((tenant, data["device_id"]))
        else:
            raise ValueError(f"sync does not read {metadata['detail-type']}")


@pytest.fixture(scope="module")
def pacts(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsumerPacts]:
    yield from consumer_pacts(request, tmp_path_factory, "sync", EVENTS_PROVIDER)


@pytest.fixture
def pact(pacts: ConsumerPacts, request: pytest.FixtureRequest) -> Iterator[Pact]:
    yield from fresh_pact(pacts, request)


def receive(pact: Pact, subject: str, data: dict[str, Any]) -> SyncFanIn:
    (
        pact.upon_receiving(subject, "Async")
        .with_body(event(subject, data), content_type="application/json")
        .with_metadata(on_the_bus(subject))
    )
    sync = SyncFanIn()
    pact.verify(sync.handle, "Async")
    return sync


def test_a_revoked_bundle_is_unmounted_from_its_users_devices(pact: Pact):
    sync = receive(
        pact,
        "content.bundle.revoked.v1",
        {"bundle_id": match.regex(EXAMPLE_BUNDLE, regex=BUNDLE_ID), "user_id": match.str(EXAMPLE_USER)},
    )

    assert sync.unmount == [("tenant-example", EXAMPLE_USER, EXAMPLE_BUNDLE)]


def test_a_revoked_device_is_silenced(pact: Pact):
    sync = receive(pact, "content.device.revoked.v1", {"device_id": match.regex(EXAMPLE_DEVICE, regex=DEVICE_ID)})

    assert sync.silenced == [("tenant-example", EXAMPLE_DEVICE)]
