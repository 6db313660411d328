"""A licence issue becomes content.licence.issued.v1 and a licence.renewed entry in that device's feed only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from content_service.domain.events import DomainEvent
from content_service.events.mapping import OutboxRow, envelopes
from content_service.events.models import LicenceIssuedV1
from content_service.service.outbox_ports import UserBundle
from content_service.service.sync import project
from tests.fakes import FakeClock
from tests.outbox_fakes import FakeMetrics, FakeSyncStore

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def licence_row(revision: int) -> OutboxRow:
    event = DomainEvent(
        "content.licence.issued.v1",
        "t",
        "lic_1",
        NOW,
        {"bundle_id": "bnd_1", "device_id": "dev_a", "expires_at": (NOW + timedelta(days=7)).isoformat()},
    )
    return OutboxRow("TENANT#t#BUNDLE#bnd_1", "LICENCE#dev_a", revision, (event.as_dict(),))


def test_a_licence_record_row_is_published_as_a_licence_issued_event() -> None:
    (event,) = envelopes(licence_row(1))
    assert isinstance(event, LicenceIssuedV1)
    assert event.data.licence_id == "lic_1" and event.data.device_id == "dev_a"


def test_each_issue_has_its_own_event_id() -> None:
    assert envelopes(licence_row(1))[0].id != envelopes(licence_row(2))[0].id


def test_only_the_licensed_device_gets_a_licence_renewed_entry_once() -> None:
    store = FakeSyncStore()
    for device in ("dev_a", "dev_b"):
        store.put_device("t", "u", device)
    store.put_bundle("t", "u", UserBundle("bnd_1", "evt_x", NOW, revoked=False))
    (event,) = envelopes(licence_row(1))
    assert project(event, store=store, metrics=FakeMetrics(), clock=FakeClock()) == 1
    assert project(event, store=store, metrics=FakeMetrics(), clock=FakeClock()) == 0
    assert store.feed("t", "dev_a") == [("licence.renewed", "bnd_1")]
    assert store.feed("t", "dev_b") == []
