"""The sync feed and the inbox on moto (table from template.yaml): order, no gaps, no duplicates."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from content_service.adapters.feed import CLOCK_SKEW, DynamoSyncStore, FeedContention
from content_service.adapters.inbox import DynamoInbox
from content_service.service.outbox_ports import FeedChange, UserBundle

ROOT = Path(__file__).parents[3]
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture
def table(aws_template):
    return aws_template.tables["Table"].name


def change(event: str, kind: str = "bundle.added") -> FeedChange:
    return FeedChange(kind, f"bnd_{event}", NOW, event)


def test_appends_are_numbered_in_order_and_an_event_is_appended_once(table):
    store = DynamoSyncStore(boto3.client("dynamodb"), table)
    assert [store.append("t", "d1", change(e)) for e in ("e1", "e2", "e1", "e3")] == [True, True, False, True]
    entries = store.read("t", "d1", 0, 10)
    assert [(e.seq, e.change.event_id) for e in entries] == [(1, "e1"), (2, "e2"), (3, "e3")]
    assert [e.seq for e in store.read("t", "d1", 1, 1)] == [2]
    assert store.read("t", "other-device", 0, 10) == []


def test_concurrent_writers_leave_no_gap_and_no_duplicate(table):
    client = boto3.client("dynamodb")
    events = [f"e{i}" for i in range(20)]

    def write(offset: int) -> None:
        store = DynamoSyncStore(client, table, attempts=50)
        for event in events[offset:] + events[:offset]:
            # A feed that kept moving under this writer: retry later, as the stream does.
            while True:
                try:
                    store.append("t", "d1", change(event))
                    break
                except FeedContention:
                    time.sleep(0.01)

    crashes: list[BaseException] = []

    def guarded(offset: int) -> None:
        try:
            write(offset)
        except BaseException as error:  # noqa: BLE001 - a crashed writer must fail the test
            crashes.append(error)

    threads = [threading.Thread(target=guarded, args=(offset,)) for offset in (0, 7, 13)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert crashes == []
    entries = DynamoSyncStore(client, table).read("t", "d1", 0, 100)
    assert [e.seq for e in entries] == list(range(1, 21))
    assert sorted(e.change.event_id for e in entries) == sorted(events)


def test_an_event_redelivered_after_many_others_is_found_deep_in_the_tail(table):
    store = DynamoSyncStore(boto3.client("dynamodb"), table)
    events = [f"e{i}" for i in range(30)]
    assert all(store.append("t", "d1", change(e)) for e in events)
    # The first event again, 29 entries (several tail pages) later: the tail read goes back to it.
    assert not store.append("t", "d1", change("e0"))
    assert [e.change.event_id for e in store.read("t", "d1", 0, 100)] == events


def test_the_tail_read_stops_at_the_entries_written_before_the_event_happened(table):
    client = boto3.client("dynamodb")
    store = DynamoSyncStore(client, table)
    for i in range(20):
        store.append("t", "d1", change(f"old{i}"))
    queries: list[int] = []

    class Counting:
        def __getattr__(self, name):
            if name == "query":
                queries.append(1)
            return getattr(client, name)

    later = datetime.now(UTC) + CLOCK_SKEW + timedelta(minutes=1)
    assert DynamoSyncStore(Counting(), table).append("t", "d1", FeedChange("bundle.added", "b", later, "new"))
    assert len(queries) == 1  # one page: its first entry is older than the event, less the skew
    assert [e.seq for e in store.read("t", "d1", 20, 10)] == [21]


def test_claims_left_by_the_former_layout_are_ignored(table):
    client = boto3.client("dynamodb")
    store = DynamoSyncStore(client, table)
    store.append("t", "d1", change("e1"))
    client.put_item(
        TableName=table,
        Item={
            "pk": {"S": "TENANT#t#DEVICE#d1#FEED"},
            "sk": {"S": "CLAIM#e2"},  # a crashed two-put append of e2: its claim, no entry
            "entity": {"S": "feed_claim"},
            "seq": {"N": "2"},
            "claimed_at": {"N": "0"},
        },
    )
    assert store.append("t", "d1", change("e2"))
    assert not store.append("t", "d1", change("e2"))
    assert [(e.seq, e.change.event_id) for e in store.read("t", "d1", 0, 10)] == [(1, "e1"), (2, "e2")]


def test_the_user_index_never_undoes_a_revocation(table):
    store = DynamoSyncStore(boto3.client("dynamodb"), table)
    store.mark_bundle_revoked("t", "u", "b1")
    store.put_bundle("t", "u", UserBundle("b1", "e1", NOW, revoked=False))
    store.put_device("t", "u", "d1")
    store.deactivate_device("t", "u", "d1")
    store.put_device("t", "u", "d1")
    store.put_device("t", "u", "d2")
    assert [b.revoked for b in store.user_bundles("t", "u")] == [True]
    assert store.active_devices("t", "u") == ["d2"]


def test_the_inbox_remembers_per_consumer_and_expires(table):
    client = boto3.client("dynamodb")
    inbox = DynamoInbox(client, table, ttl_seconds=86400)
    assert not inbox.seen("sync", "evt_1")
    inbox.mark("sync", "evt_1")
    inbox.mark("sync", "evt_1")
    assert inbox.seen("sync", "evt_1") and not inbox.seen("bus", "evt_1")
    item = client.get_item(TableName=table, Key={"pk": {"S": "INBOX#evt_1"}, "sk": {"S": "sync"}})["Item"]
    assert int(item["ttl"]["N"]) > 0


def test_an_append_costs_one_read_and_one_write_and_keeps_no_head_and_no_claim(table):
    client = boto3.client("dynamodb")
    store = DynamoSyncStore(client, table)
    store.append("t", "d1", change("e1"))
    calls: list[str] = []

    class Counting:
        def __getattr__(self, name):
            calls.append(name)
            return getattr(client, name)

    assert DynamoSyncStore(Counting(), table).append("t", "d1", change("e2"))
    assert sorted(calls) == ["put_item", "query"]
    items = client.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "TENANT#t#DEVICE#d1#FEED"}},
    )["Items"]
    assert sorted(item["sk"]["S"] for item in items) == ["E#000000000001", "E#000000000002"]
    assert [e.seq for e in store.read("t", "d1", 0, 10)] == [1, 2]


def test_an_approval_is_told_to_the_active_devices_of_each_unrevoked_holder_once(table):
    from content_service.domain.withdrawal import Holder
    from content_service.events.models import AssistantConfigApprovedData, AssistantConfigApprovedV1
    from content_service.service.sync import announce_assistant_approval, approval_feed_event_id

    store = DynamoSyncStore(boto3.client("dynamodb"), table)
    for user, device in (("u1", "dev_a"), ("u1", "dev_b"), ("u2", "dev_c"), ("u3", "dev_d")):
        store.put_device("t", user, device)
    store.deactivate_device("t", "u1", "dev_b")
    store.put_bundle("t", "u1", UserBundle("bnd_1", "evt_b1", NOW, revoked=False))
    store.put_bundle("t", "u2", UserBundle("bnd_2", "evt_b2", NOW, revoked=False))
    store.mark_bundle_revoked("t", "u2", "bnd_2")
    event = AssistantConfigApprovedV1(
        id="evt_approved",
        tenant_id="t",
        occurred_at=NOW,
        data=AssistantConfigApprovedData(
            config_id="v3r2", package_id="pkg", version=3, output_sha256="a" * 64, approved_by="admin-1"
        ),
    )
    holders = [Holder("bnd_1", "u1"), Holder("bnd_2", "u2")]
    assert announce_assistant_approval(event, holders, store) == 1
    [entry] = store.read("t", "dev_a", 0, 10)
    assert (entry.change.type, entry.change.bundle_id, entry.change.event_id) == (
        "assistant_config.approved", "bnd_1", approval_feed_event_id("evt_approved", "bnd_1"),
    )  # fmt: skip
    assert entry.change.detail == {"package_id": "pkg", "version": 3, "config_id": "v3r2", "revision": 2}
    assert [store.read("t", d, 0, 10) for d in ("dev_b", "dev_c", "dev_d")] == [[], [], []]
    assert announce_assistant_approval(event, holders, store) == 0  # redelivered: nothing twice


def _approval(config_id: str = "v1r1"):  # noqa: ANN202
    from content_service.events.models import AssistantConfigApprovedData, AssistantConfigApprovedV1

    return AssistantConfigApprovedV1(
        id=f"evt_{config_id}",
        tenant_id="t",
        occurred_at=NOW,
        data=AssistantConfigApprovedData(
            config_id=config_id, package_id="pkg", version=1, output_sha256="a" * 64, approved_by="admin-1"
        ),
    )


def test_a_device_holding_two_bundles_of_the_version_gets_one_approval_entry_per_bundle(table):
    from content_service.domain.withdrawal import Holder
    from content_service.service.sync import announce_assistant_approval

    store = DynamoSyncStore(boto3.client("dynamodb"), table)
    store.put_device("t", "u1", "dev_a")
    for bundle in ("bnd_1", "bnd_2"):
        store.put_bundle("t", "u1", UserBundle(bundle, f"evt_{bundle}", NOW, revoked=False))
    holders = [Holder("bnd_1", "u1"), Holder("bnd_2", "u1")]

    assert announce_assistant_approval(_approval(), holders, store) == 2
    entries = store.read("t", "dev_a", 0, 10)
    assert sorted((e.change.type, e.change.bundle_id) for e in entries) == [
        ("assistant_config.approved", "bnd_1"),
        ("assistant_config.approved", "bnd_2"),
    ]
    assert announce_assistant_approval(_approval(), holders, store) == 0


def test_an_approval_held_by_more_bundles_than_the_bound_tells_the_bound_and_counts_the_rest(table):
    from content_service.domain.withdrawal import Holder
    from content_service.service.sync import APPROVAL_HOLDERS_UNTOLD, announce_assistant_approval
    from tests.outbox_fakes import FakeMetrics

    store = DynamoSyncStore(boto3.client("dynamodb"), table)
    holders = []
    for n in range(5):
        store.put_device("t", f"u{n}", f"dev_{n}")
        store.put_bundle("t", f"u{n}", UserBundle(f"bnd_{n}", f"evt_{n}", NOW, revoked=False))
        holders.append(Holder(f"bnd_{n}", f"u{n}"))
    metrics = FakeMetrics()

    assert announce_assistant_approval(_approval(), holders, store, metrics=metrics, limit=3, threads=2) == 3
    assert [len(store.read("t", f"dev_{n}", 0, 10)) for n in range(5)] == [1, 1, 1, 0, 0]
    assert metrics.named(APPROVAL_HOLDERS_UNTOLD) == [2]
