"""The sync projection on the single table.

Keys:
  user's devices   pk = ``TENANT#{t}#USER#{u}#SYNC``   sk = ``DEVICE#{device}``  (state)
  user's bundles   pk = ``TENANT#{t}#USER#{u}#SYNC``   sk = ``BUNDLE#{bundle}``  (added event, revoked)
  feed head        pk = ``TENANT#{t}#DEVICE#{d}#FEED`` sk = ``HEAD``             (seq: the last entry)
  feed entry       pk = ``TENANT#{t}#DEVICE#{d}#FEED`` sk = ``E#{seq:012d}``
  applied marker   pk = ``TENANT#{t}#DEVICE#{d}#FEED`` sk = ``APPLIED#{event_id}``

An entry is appended in one transaction with the head (``seq = n → n + 1``) and the event's
marker (absent → present). The head condition makes entries appear in sequence order with no
gaps, so a reader that has seen entry n has seen every entry below it and a cursor never skips
a late writer; the marker makes a redelivered event append nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from content_service.service.outbox_ports import FeedChange, FeedEntry, UserBundle

_MAX_SEQ = 10**12 - 1


class FeedContention(RuntimeError):
    """The feed head kept moving under this writer; the record is retried by the stream."""


class DynamoSyncStore:
    def __init__(self, client: Any, table_name: str, attempts: int = 8) -> None:
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
            Item={
                **self._user_key(tenant_id, user_id, f"DEVICE#{device_id}"),
                "entity": {"S": "sync_device"},
                "state": {"S": "revoked"},
            },
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
            UpdateExpression="SET revoked = :true, entity = :entity",
            ExpressionAttributeValues={":true": {"BOOL": True}, ":entity": {"S": "sync_bundle"}},
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
            head = self._head(pk)
            try:
                self._client.transact_write_items(TransactItems=self._append_items(pk, head, change))
                return True
            except ClientError as error:
                reasons = error.response.get("CancellationReasons") or []
                codes = [reason.get("Code") for reason in reasons]
                if len(codes) == 3 and codes[2] == "ConditionalCheckFailed":
                    return False  # This event is already in this device's feed.
                if len(codes) == 3 and codes[0] == "ConditionalCheckFailed":
                    continue  # Another writer appended first: read the head again.
                if error.response["Error"]["Code"] == "TransactionConflictException":
                    continue
                raise
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
        return [_entry(item) for item in response.get("Items", [])]

    # --------------------------------------------------------------- helpers
    def _append_items(self, pk: str, head: int, change: FeedChange) -> list[dict[str, Any]]:
        seq = head + 1
        head_update: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"pk": {"S": pk}, "sk": {"S": "HEAD"}},
            "UpdateExpression": "SET seq = :next, entity = :entity",
            "ExpressionAttributeValues": {":next": {"N": str(seq)}, ":entity": {"S": "feed_head"}},
        }
        if head == 0:
            head_update["ConditionExpression"] = "attribute_not_exists(seq)"
        else:
            head_update["ConditionExpression"] = "seq = :prev"
            head_update["ExpressionAttributeValues"][":prev"] = {"N": str(head)}
        body = {
            "type": change.type,
            "bundle_id": change.bundle_id,
            "at": change.at.isoformat(),
            "event_id": change.event_id,
            "reason": change.reason,
            "written_at": datetime.now(UTC).isoformat(),
        }
        return [
            {"Update": head_update},
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {
                        "pk": {"S": pk},
                        "sk": {"S": f"E#{seq:012d}"},
                        "entity": {"S": "feed_entry"},
                        "seq": {"N": str(seq)},
                        "body": {"S": json.dumps(body)},
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {
                        "pk": {"S": pk},
                        "sk": {"S": f"APPLIED#{change.event_id}"},
                        "entity": {"S": "feed_applied"},
                        "seq": {"N": str(seq)},
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]

    def _head(self, pk: str) -> int:
        item = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": pk}, "sk": {"S": "HEAD"}}, ConsistentRead=True
        ).get("Item")
        return int(item["seq"]["N"]) if item else 0

    def _put_if_absent(self, item: dict[str, Any]) -> None:
        try:
            self._client.put_item(
                TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)"
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
        ),
        written_at=datetime.fromisoformat(body["written_at"]),
    )
