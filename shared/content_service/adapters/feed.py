"""The sync projection on the single table.

Keys:
  user's devices   pk = ``TENANT#{t}#USER#{u}#SYNC``   sk = ``DEVICE#{device}``  (state)
  user's bundles   pk = ``TENANT#{t}#USER#{u}#SYNC``   sk = ``BUNDLE#{bundle}``  (added event, revoked)
  feed entry       pk = ``TENANT#{t}#DEVICE#{d}#FEED`` sk = ``E#{seq:012d}``     (event_id, body)

Appending an event to a device's feed is one read and one conditional put, no transaction, no
claim and no head item: one write unit per device is what a withdrawal's fan-out to thousands of
devices pays. The read is the feed's tail, newest first and strongly consistent, back to the
entries written before the event happened (``FeedChange.at`` less ``CLOCK_SKEW``): an entry of this
event can only be among those, so finding it there means the event is already appended. Otherwise
the entry is put at the last position + 1, on condition that the position is free. The condition
is what makes the read exact: the put succeeds only if nothing was appended since the read, so
the tail that did not hold the event is still the whole tail. A writer whose position is taken
reads again (and may then find its own event, written by a concurrent delivery). So an entry is
only ever written right after an existing one, entries exist in sequence order with no gaps, a
redelivered event appends nothing, and a reader stops at the first gap: a cursor never skips a
late writer. The tail read costs one read unit in the common case (the feed's last entries are
older than the event); a device told many events within the skew reads those few entries too.

Feeds written before this layout also hold ``CLAIM#{event_id}`` items (the former two-put append);
nothing reads them, and the feed's range queries (``E#…``) never meet them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from content_service.migrations.kinds import stamped, versioned_update
from content_service.service.outbox_ports import FeedChange, FeedEntry, UserBundle

_MAX_SEQ = 10**12 - 1
#: How far apart two writers' clocks (an event's producer and a feed's writer) may be. Lambda
#: clocks are NTP-synchronised to well under a second; five minutes also covers a put that
#: took its time after the writer read its clock.
CLOCK_SKEW = timedelta(minutes=5)
#: Entries read per page of the tail; the first page usually ends the read (about 300 bytes each).
_TAIL_PAGE = 8


class FeedContention(RuntimeError):
    """The feed kept moving under this writer; the stream retries the record."""


class DynamoSyncStore:
    def __init__(self, client: Any, table_name: str, attempts: int = 32) -> None:
        self._client = client
        self._table = table_name
        self._attempts = attempts

    # ------------------------------------------------------------ user index
    def put_device(self, tenant_id: str, user_id: str, device_id: str) -> None:
        # Put only if absent: a late, redelivered enrolment never reactivates a revoked device.
        self._put_if_absent(
            {
                **self._user_key(tenant_id, user_id, f"DEVICE#{device_id}"),
                "entity": {"S": "sync_device"},
                "state": {"S": "active"},
            }
        )

    def deactivate_device(self, tenant_id: str, user_id: str, device_id: str) -> None:
        self._client.put_item(
            TableName=self._table,
            Item=stamped(
                {
                    **self._user_key(tenant_id, user_id, f"DEVICE#{device_id}"),
                    "entity": {"S": "sync_device"},
                    "state": {"S": "revoked"},
                }
            ),
        )

    def active_devices(self, tenant_id: str, user_id: str) -> list[str]:
        return [
            item["sk"]["S"].removeprefix("DEVICE#")
            for item in self._query_user(tenant_id, user_id, "DEVICE#")
            if item["state"]["S"] == "active"
        ]

    def put_bundle(self, tenant_id: str, user_id: str, bundle: UserBundle) -> None:
        self._put_if_absent(
            {
                **self._user_key(tenant_id, user_id, f"BUNDLE#{bundle.bundle_id}"),
                "entity": {"S": "sync_bundle"},
                "added_event_id": {"S": bundle.added_event_id},
                "added_at": {"S": bundle.added_at.isoformat()},
                "revoked": {"BOOL": bundle.revoked},
            }
        )

    def mark_bundle_revoked(self, tenant_id: str, user_id: str, bundle_id: str) -> None:
        # An update, not a put: a revocation seen before its creation still leaves a revoked row.
        self._client.update_item(
            TableName=self._table,
            Key=self._user_key(tenant_id, user_id, f"BUNDLE#{bundle_id}"),
            **versioned_update(
                "sync_bundle",
                "SET revoked = :true, entity = :entity",
                {":true": {"BOOL": True}, ":entity": {"S": "sync_bundle"}},
            ),
        )

    def user_bundles(self, tenant_id: str, user_id: str) -> list[UserBundle]:
        return [
            UserBundle(
                bundle_id=item["sk"]["S"].removeprefix("BUNDLE#"),
                added_event_id=item.get("added_event_id", {}).get("S", ""),
                added_at=datetime.fromisoformat(item["added_at"]["S"]) if "added_at" in item else _EPOCH,
                revoked=item.get("revoked", {}).get("BOOL", False),
            )
            for item in self._query_user(tenant_id, user_id, "BUNDLE#")
        ]

    # ------------------------------------------------------------------ feed
    def append(self, tenant_id: str, device_id: str, change: FeedChange) -> bool:
        pk = _feed_pk(tenant_id, device_id)
        for _ in range(self._attempts):
            last, present = self._tail(pk, change)
            if present:
                return False  # This event is already in this device's feed.
            if self._put_entry(pk, last + 1, change):
                return True
        raise FeedContention(f"feed of device {device_id} kept changing; giving up for now")

    def read(self, tenant_id: str, device_id: str, after: int, limit: int) -> list[FeedEntry]:
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :low AND :high",
            ExpressionAttributeValues={
                ":pk": {"S": _feed_pk(tenant_id, device_id)},
                ":low": {"S": f"E#{after + 1:012d}"},
                ":high": {"S": f"E#{_MAX_SEQ:012d}"},
            },
            ConsistentRead=True,
            Limit=limit,
        )
        entries = [_entry(item) for item in response.get("Items", [])]
        # Only the gapless run after the cursor: an entry is written only once the one before it
        # exists, but a read racing two writes must not hand out a later entry without its predecessor.
        run: list[FeedEntry] = []
        for entry in entries:
            if entry.seq != after + 1 + len(run):
                break
            run.append(entry)
        return run

    # --------------------------------------------------------------- helpers
    def _tail(self, pk: str, change: FeedChange) -> tuple[int, bool]:
        """(the feed's last position, 0 if empty; whether ``change``'s event is among its entries).

        Reads newest first until an entry written before the event happened (less the skew
        between writers' clocks): no entry of this event can be older than that.
        """
        horizon = change.at - CLOCK_SKEW
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": {
                ":pk": {"S": pk},
                ":low": {"S": f"E#{1:012d}"},
                ":high": {"S": f"E#{_MAX_SEQ:012d}"},
            },
            "ProjectionExpression": "seq, event_id, body",
            "ScanIndexForward": False,
            "ConsistentRead": True,
            "Limit": _TAIL_PAGE,
        }
        last = 0
        while True:
            response = self._client.query(**arguments)
            for item in response.get("Items", []):
                last = last or int(item["seq"]["N"])
                if item["event_id"]["S"] == change.event_id:
                    return last, True
                if _written_at(item) < horizon:
                    return last, False
            if "LastEvaluatedKey" not in response:
                return last, False
            arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _put_entry(self, pk: str, seq: int, change: FeedChange) -> bool:
        body: dict[str, Any] = {
            "type": change.type,
            "bundle_id": change.bundle_id,
            "at": change.at.isoformat(),
            "event_id": change.event_id,
            "reason": change.reason,
            "written_at": datetime.now(UTC).isoformat(),
        }
        if change.detail is not None:
            body["detail"] = change.detail
        return self._conditional_put(
            {
                "pk": {"S": pk},
                "sk": {"S": f"E#{seq:012d}"},
                "entity": {"S": "feed_entry"},
                "seq": {"N": str(seq)},
                "event_id": {"S": change.event_id},
                "body": {"S": json.dumps(body)},
            },
            "attribute_not_exists(pk)",
        )

    def _conditional_put(
        self, item: dict[str, Any], condition: str, values: dict[str, Any] | None = None
    ) -> bool:
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "Item": stamped(item),
            "ConditionExpression": condition,
        }
        if values:
            arguments["ExpressionAttributeValues"] = values
        try:
            self._client.put_item(**arguments)
            return True
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise

    def _put_if_absent(self, item: dict[str, Any]) -> None:
        try:
            self._client.put_item(
                TableName=self._table, Item=stamped(item), ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def _query_user(self, tenant_id: str, user_id: str, prefix: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {
                ":pk": {"S": _user_pk(tenant_id, user_id)},
                ":prefix": {"S": prefix},
            },
            "ConsistentRead": True,
        }
        while True:
            response = self._client.query(**arguments)
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items
            arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    @staticmethod
    def _user_key(tenant_id: str, user_id: str, sk: str) -> dict[str, Any]:
        return {"pk": {"S": _user_pk(tenant_id, user_id)}, "sk": {"S": sk}}


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _user_pk(tenant_id: str, user_id: str) -> str:
    return f"TENANT#{tenant_id}#USER#{user_id}#SYNC"


def _feed_pk(tenant_id: str, device_id: str) -> str:
    return f"TENANT#{tenant_id}#DEVICE#{device_id}#FEED"


def _written_at(item: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(json.loads(item["body"]["S"])["written_at"])


def _entry(item: dict[str, Any]) -> FeedEntry:
    body = json.loads(item["body"]["S"])
    return FeedEntry(
        seq=int(item["seq"]["N"]),
        change=FeedChange(
            type=body["type"],
            bundle_id=body["bundle_id"],
            at=datetime.fromisoformat(body["at"]),
            event_id=body["event_id"],
            reason=body.get("reason"),
            detail=body.get("detail"),
        ),
        written_at=datetime.fromisoformat(body["written_at"]),
    )
