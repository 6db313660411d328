"""The EventBridge publisher's batching and retries (a stub client), and stream record decoding."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from content_service.adapters.eventbus import EventBridgeBus
from content_service.adapters.stream import outbox_row
from content_service.events.models import DeviceEnrolledData, DeviceEnrolledV1

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _event(i: int) -> DeviceEnrolledV1:
    return DeviceEnrolledV1(
        id=f"evt_{i}", tenant_id="t", occurred_at=NOW, data=DeviceEnrolledData(device_id=f"d{i}", user_id="u")
    )


class StubEvents:
    """Refuses the entries named in ``refuse`` for ``times`` calls each, like a throttled PutEvents."""

    def __init__(self, refuse: dict[str, int] | None = None) -> None:
        self.calls: list[list[dict]] = []
        self.refuse = dict(refuse or {})

    def put_events(self, Entries: list[dict]) -> dict:
        self.calls.append(Entries)
        results = []
        for entry in Entries:
            event_id = json.loads(entry["Detail"])["id"]
            if self.refuse.get(event_id, 0) > 0:
                self.refuse[event_id] -= 1
                results.append({"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"})
            else:
                results.append({"EventId": event_id})
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}


def test_events_are_put_in_batches_of_at_most_ten_on_the_configured_bus() -> None:
    client = StubEvents()
    assert EventBridgeBus(client, "bus").publish([_event(i) for i in range(23)]) == set()
    assert [len(call) for call in client.calls] == [10, 10, 3]
    entry = client.calls[0][0]
    assert (entry["EventBusName"], entry["Source"], entry["DetailType"]) == (
        "bus",
        "content-service",
        "content.device.enrolled.v1",
    )
    assert json.loads(entry["Detail"])["data"] == {"device_id": "d0", "user_id": "u"}


def test_only_refused_entries_are_retried_and_persistent_refusals_are_reported() -> None:
    client = StubEvents(refuse={"evt_1": 1, "evt_2": 99})
    failed = EventBridgeBus(client, "bus", attempts=3).publish([_event(i) for i in range(4)])
    assert failed == {"evt_2"}
    assert [len(call) for call in client.calls] == [4, 2, 1]


def _record(image: dict, name: str = "MODIFY") -> dict:
    return {
        "eventName": name,
        "dynamodb": {
            "ApproximateCreationDateTime": 1795867200,
            "Keys": {"pk": image["pk"], "sk": image["sk"]},
            "NewImage": image,
            "SequenceNumber": "1",
        },
    }


def test_entity_and_package_records_decode_to_rows_and_others_to_nothing() -> None:
    events = [{"name": "content.device.enrolled.v1"}]
    entity = {"pk": {"S": "P"}, "sk": {"S": "S"}, "revision": {"N": "3"}, "events": {"S": json.dumps(events)}}
    row = outbox_row(_record(entity))
    assert row is not None and (row.pk, row.sk, row.revision, row.events) == ("P", "S", 3, tuple(events))
    assert row.written_at == datetime.fromtimestamp(1795867200, UTC)

    package = {
        "pk": {"S": "P"},
        "sk": {"S": "V#1"},
        "revision": {"N": "2"},
        "last_event": {"S": json.dumps(events[0])},
    }
    assert outbox_row(_record(package)).events == tuple(events)

    assert outbox_row(_record({"pk": {"S": "INBOX#x"}, "sk": {"S": "sync"}})) is None
    assert outbox_row(_record(entity, name="REMOVE")) is None


def test_a_rewrite_that_kept_the_revision_publishes_nothing_again() -> None:
    # A migration stamping schema_version rewrites the item with its old events and revision.
    events = [{"name": "content.device.enrolled.v1"}]
    old = {"pk": {"S": "P"}, "sk": {"S": "S"}, "revision": {"N": "3"}, "events": {"S": json.dumps(events)}}
    stamped = {**old, "schema_version": {"N": "2"}}
    record = _record(stamped, name="MODIFY")
    record["dynamodb"]["OldImage"] = old
    assert outbox_row(record) is None
    record["dynamodb"]["OldImage"] = {**old, "revision": {"N": "2"}}
    assert outbox_row(record) is not None
