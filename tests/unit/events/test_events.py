"""Published events: the mapping from outbox rows, deterministic ids, and the committed schemas."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from content_service.domain.bundle import Bundle, BundlePackage
from content_service.domain.package import ContainerRef
from content_service.events import schemas
from content_service.events.mapping import OutboxRow, envelopes, event_id
from content_service.events.models import EVENT_MODELS, BundleRevokedV1, BundleTamperedV1, PackageBuiltV1

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _bundle() -> Bundle:
    member = BundlePackage(
        "pkg_1", 1, "a" * 64, ContainerRef("tenants/t/containers/pkg_1/v1/x.cspc", 10, "b" * 64)
    )
    return Bundle.create(
        tenant_id="t", bundle_id="bnd_1", user_id="u", residency_zone="eu", packages=(member,), now=NOW
    )


def _row(events: list[dict], revision: int = 2) -> OutboxRow:
    return OutboxRow("TENANT#t#BUNDLE#bnd_1", "BUNDLE", revision, tuple(events))


def test_a_revoked_bundle_row_becomes_a_versioned_revoked_event() -> None:
    revoked = _bundle().mark_built("k", "s", NOW).revoke("withdrawn", NOW)
    row = _row([e.as_dict() for e in revoked.events[-1:]])

    (event,) = envelopes(row)

    assert isinstance(event, BundleRevokedV1)
    assert event.subject == "content.bundle.revoked.v1" and event.version == 1
    assert event.tenant_id == "t" and event.occurred_at == NOW
    assert event.data.model_dump() == {
        "bundle_id": "bnd_1",
        "user_id": "u",
        "reason": "withdrawn",
        "withdrawal_id": None,
    }


def test_a_bundle_revoked_by_a_withdrawal_names_it_in_its_event() -> None:
    revoked = _bundle().mark_built("k", "s", NOW).revoke("takedown", NOW, withdrawal_id="wdr_1")
    (event,) = envelopes(_row([e.as_dict() for e in revoked.events[-1:]]))
    assert isinstance(event, BundleRevokedV1) and event.data.withdrawal_id == "wdr_1"


def test_internal_events_are_not_published() -> None:
    building = _bundle()
    assert envelopes(_row([e.as_dict() for e in building.events])) == []


def test_the_same_row_always_gives_the_same_event_id_and_another_revision_another() -> None:
    events = [e.as_dict() for e in _bundle().mark_built("k", "s", NOW).events[-1:]]
    assert envelopes(_row(events))[0].id == envelopes(_row(events))[0].id
    assert envelopes(_row(events))[0].id != envelopes(_row(events, revision=3))[0].id
    assert event_id(_row(events), 0, "x").startswith("evt_")


def test_package_events_carry_their_version() -> None:
    event = {
        "name": "content.package.built.v1",
        "tenant_id": "t",
        "package_id": "pkg_1",
        "version": 3,
        "occurred_at": NOW.isoformat(),
        "data": {"content_hash": "c" * 64, "standard": "scorm12"},
    }
    (built,) = envelopes(OutboxRow("TENANT#t#PACKAGE#pkg_1", "V#0000000003", 2, (event,)))
    assert isinstance(built, PackageBuiltV1)
    assert (built.data.package_id, built.data.version, built.data.standard) == ("pkg_1", 3, "scorm12")


def test_a_device_tamper_report_defaults_to_the_device_source() -> None:
    event = {
        "name": "content.bundle.tampered.v1",
        "tenant_id": "t",
        "subject_id": "bnd_1",
        "occurred_at": NOW.isoformat(),
        "data": {"device_id": "dev_1", "kind": "container", "report_id": "tmp_1"},
    }
    (tampered,) = envelopes(_row([event], revision=0))
    assert isinstance(tampered, BundleTamperedV1)
    assert tampered.data.source == "device" and tampered.data.device_id == "dev_1"


def test_an_event_with_an_unexpected_field_is_refused() -> None:
    event = {
        "name": "content.bundle.revoked.v1",
        "tenant_id": "t",
        "subject_id": "bnd_1",
        "occurred_at": NOW.isoformat(),
        "data": {"user_id": "u", "reason": "r", "surprise": 1},
    }
    with pytest.raises(ValidationError):
        envelopes(_row([event]))


def test_the_committed_schemas_are_the_generated_ones() -> None:
    generated = schemas.rendered()
    committed = {
        path.name: path.read_text(encoding="utf-8") for path in schemas.DEFAULT_DIRECTORY.glob("*.json")
    }
    assert committed == generated, "run: python -m content_service.events.schemas"


def test_every_subject_has_a_schema_that_pins_its_subject() -> None:
    for subject in EVENT_MODELS:
        schema = json.loads(schemas.rendered()[f"{subject}.json"])
        assert schema["properties"]["subject"]["const"] == subject
        assert set(schema["required"]) >= {"id", "data", "tenant_id", "occurred_at"}
