"""The catalog's event contract: what it reads from the content service's event bus.

The catalog keeps, per tenant, which package versions are built (to offer them) and each
bundle's state: a created bundle becomes ``built``, a revoked one ``revoked`` with its reason, a
tampered one is flagged (with where the tampering was seen, and whether it was corroborated).
It keeps an inbox of event ids, so a redelivered event is ignored. The handler below is that
consumer logic; each message of the pact is fed to it and must be understood.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pact import Pact, match

from tests.contract.consumers.terms import (
    BUNDLE_ID,
    EXAMPLE_BUNDLE,
    EXAMPLE_PACKAGE,
    EXAMPLE_USER,
    PACKAGE_ID,
    event,
    on_the_bus,
)
from tests.contract.pactfiles import EVENTS_PROVIDER, ConsumerPacts, consumer_pacts, fresh_pact

pytestmark = pytest.mark.xdist_group("pact-catalog-events")


class CatalogProjection:
    """The catalog's view of the content service, fed by events (at-least-once, so with an inbox)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.offered: set[tuple[str, str, int]] = set()
        self.bundles: dict[tuple[str, str], dict[str, Any]] = {}

    def handle(self, body: str | bytes | None, metadata: dict[str, Any]) -> None:
        envelope = json.loads(body or b"")
        subject = metadata["detail-type"]
        assert metadata["source"] == "content-service" and envelope["subject"] == subject
        if envelope["id"] in self.seen:
            return
        self.seen.add(envelope["id"])
        tenant, data = envelope["tenant_id"], envelope["data"]
        if subject == "content.package.built.v1":
            self.offered.add((tenant, data["package_id"], int(data["version"])))
        elif subject == "content.bundle.created.v1":
            self.bundles[(tenant, data["bundle_id"])] = {
                "user_id": data["user_id"],
                "state": "built",
                "packages": [(p["package_id"], int(p["version"])) for p in data["packages"]],
            }
        elif subject == "content.bundle.tampered.v1":
            # Only corroborated evidence revokes; the catalog flags the bundle either way.
            bundle = self.bundles.setdefault((tenant, data["bundle_id"]), {})
            bundle.update(tampered=data["source"], corroborated=bool(data["corroborated"]))
        elif subject == "content.bundle.revoked.v1":
            bundle = self.bundles.setdefault((tenant, data["bundle_id"]), {"user_id": data["user_id"]})
            bundle.update(state="revoked", reason=data["reason"])
        else:
            raise ValueError(f"the catalog does not read {subject}")


@pytest.fixture(scope="module")
def pacts(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsumerPacts]:
    yield from consumer_pacts(request, tmp_path_factory, "catalog", EVENTS_PROVIDER)


@pytest.fixture
def pact(pacts: ConsumerPacts, request: pytest.FixtureRequest) -> Iterator[Pact]:
    yield from fresh_pact(pacts, request)


def receive(pact: Pact, subject: str, data: dict[str, Any]) -> CatalogProjection:
    (
        pact.upon_receiving(subject, "Async")
        .with_body(event(subject, data), content_type="application/json")
        .with_metadata(on_the_bus(subject))
    )
    catalog = CatalogProjection()
    pact.verify(catalog.handle, "Async")
    return catalog


def test_a_built_package_version_is_offered(pact: Pact):
    catalog = receive(
        pact,
        "content.package.built.v1",
        {"package_id": match.regex(EXAMPLE_PACKAGE, regex=PACKAGE_ID), "version": match.int(1)},
    )

    assert catalog.offered == {("tenant-example", EXAMPLE_PACKAGE, 1)}


def test_a_created_bundle_is_recorded_with_its_owner_and_packages(pact: Pact):
    catalog = receive(
        pact,
        "content.bundle.created.v1",
        {
            "bundle_id": match.regex(EXAMPLE_BUNDLE, regex=BUNDLE_ID),
            "user_id": match.str(EXAMPLE_USER),
            "packages": match.each_like(
                {"package_id": match.regex(EXAMPLE_PACKAGE, regex=PACKAGE_ID), "version": match.int(1)}
            ),
        },
    )

    assert catalog.bundles[("tenant-example", EXAMPLE_BUNDLE)]["packages"] == [(EXAMPLE_PACKAGE, 1)]


def test_a_revoked_bundle_is_marked_revoked_with_its_reason(pact: Pact):
    catalog = receive(
        pact,
        "content.bundle.revoked.v1",
        {
            "bundle_id": match.regex(EXAMPLE_BUNDLE, regex=BUNDLE_ID),
            "user_id": match.str(EXAMPLE_USER),
            "reason": match.str("licence withdrawn"),
        },
    )

    assert catalog.bundles[("tenant-example", EXAMPLE_BUNDLE)]["state"] == "revoked"


def test_a_tampered_bundle_is_flagged_with_where_it_was_seen(pact: Pact):
    catalog = receive(
        pact,
        "content.bundle.tampered.v1",
        {
            "bundle_id": match.regex(EXAMPLE_BUNDLE, regex=BUNDLE_ID),
            "source": match.regex("storage", regex=r"^(device|storage)$"),
            "corroborated": match.bool(True),
        },
    )

    assert catalog.bundles[("tenant-example", EXAMPLE_BUNDLE)] == {"tampered": "storage", "corroborated": True}
