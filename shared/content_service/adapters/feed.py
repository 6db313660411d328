"""The sync projection on the single table.

Keys:
  user's devices   pk = ``TENANT#{t}#USER#{u}#SYNC``   sk = ``DEVICE#{device}``  (state)
  user's bundles   pk = ``TENANT#{t}#USER#{u}#SYNC``   sk = ``BUNDLE#{bundle}``  (added event, revoked)
  feed entry       pk = ``TENANT#{t}#DEVICE#{d}#FEED`` sk = ``E#{seq:012d}``     (event_id, body)
  claim            pk = ``TENANT#{t}#DEVICE#{d}#FEED`` sk = ``CLAIM#{event_id}`` (seq, claimed_at)

Appending an event to a device's feed is one read and two conditional puts, no transaction: the
feed's last entry (a strongly consistent query, newest first, limit 1), the event's claim
(absent → ``seq`` = last + 1), the entry at that ``seq`` (absent → present). Two write units per
device is what a withdrawal's fan-out to thousands of devices pays, so there is no head item to
keep up to date: the last entry is the position, and it never runs ahead of the entries. A writer
whose position is taken moves on by one, so an entry is only ever written right after an existing
one, entries exist in sequence order with no gaps, and a reader stops at the first gap: a cursor
never skips a late writer. The claim makes a redelivered event append nothing: it finds its claim and
its entry. A claim whose entry is missing is a crash between the two puts (finished by the next
delivery once the claim is older than the grace period) or a position another event took first
(the claim moves on).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from content_service.migrations.kinds import stamped, versioned_update
from content_service.service.outbox_ports import FeedChange, FeedEntry, UserBundle

_MAX_SEQ = 10**12 - 1


class FeedContention(RuntimeError):
    """The feed kept moving under this writer, or another delivery holds the event's fresh claim;
    the stream retries the record."""


class _Retry(Exception):
    """Start the append over: a concurrent writer changed what was read."""


class DynamoSyncStore:
    def __init__(self, client: Any, table_name: str, attempts: int = 32, claim_grace: float = 10.0) -> None:
        self._client = client
        self._table = table_name
        self._attempts = attempts
        self._claim_grace = claim_grace

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
            seq: int | None = self._last_seq(pk) + 1
            # The common case is one read and two writes: claim the position after the last
            # entry, write the entry there.
            if not self._claim(pk, change.event_id, seq):
                try:
                    seq = self._resume(pk, change)
                except _Retry:
                    continue
                if seq is None:
                    return False  # This event is already in this device's feed.
            if self._put_entry(pk, seq, change):
                return True
        raise FeedContention(f"feed of device {device_id} kept changing; giving up for now")

    def _resume(self, pk: str, change: FeedChange) -> int | None:
        """The position to write an already claimed event at; None if its entry is written."""
        claim = self._get(pk, f"CLAIM#{change.event_id}")
        if claim is None:
            raise _Retry  # The claim that refused ours is gone (it cannot be; be safe and retry).
        claimed = int(claim["seq"]["N"])
        entry = self._get(pk, f"E#{claimed:012d}")
        if entry is not None and entry["event_id"]["S"] == change.event_id:
            return None
        if entry is not None:
            # The claimed position went to another event: move the claim past it.
            seq = max(self._last_seq(pk), claimed) + 1
            if not self._move_claim(pk, change.event_id, claimed, seq):
                raise _Retry
            return seq
        if time.time() - float(claim["claimed_at"]["N"]) < self._claim_grace:
            # Another delivery may be writing this entry right now; the stream retries later.
            raise FeedContention(f"event {change.event_id} is being appended to {pk}")
        return claimed  # A crash between claim and entry: finish the job.

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
    def _last_seq(self, pk: str) -> int:
        """The sequence number of the feed's last entry (0 for an empty feed)."""
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :low AND :high",
            ExpressionAttributeValues={
                ":pk": {"S": pk},
                ":low": {"S": f"E#{1:012d}"},
                ":high": {"S": f"E#{_MAX_SEQ:012d}"},
            },
            ProjectionExpression="seq",
            ScanIndexForward=False,
            ConsistentRead=True,
            Limit=1,
        )
        items = response.get("Items", [])
        return int(items[0]["seq"]["N"]) if items else 0

    def _claim(self, pk: str, event_id: str, seq: int) -> bool:
        return self._conditional_put(
            {
                "pk": {"S": pk},
                "sk": {"S": f"CLAIM#{event_id}"},
                "entity": {"S": "feed_claim"},
                "seq": {"N": str(seq)},
                "claimed_at": {"N": f"{time.time():.3f}"},
            },
            "attribute_not_exists(pk)",
        )

    def _move_claim(self, pk: str, event_id: str, old: int, new: int) -> bool:
        return self._conditional_put(
            {
                "pk": {"S": pk},
                "sk": {"S": f"CLAIM#{event_id}"},
                "entity": {"S": "feed_claim"},
                "seq": {"N": str(new)},
                "claimed_at": {"N": f"{time.time():.3f}"},
            },
            "seq = :old",
            {":old": {"N": str(old)}},
        )

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

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        return self._client.get_item(
            TableName=self._table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
        ).get("Item")

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
