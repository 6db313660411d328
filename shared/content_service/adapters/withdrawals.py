"""Withdrawals on the single table: the holder index and each withdrawal's progress record.

Keys:
  holder        pk = ``TENANT#{t}#PACKAGE#{p}#V#{v:010d}#HOLDERS``  sk = ``BUNDLE#{bundle}``  (user_id)
  progress      pk = ``TENANT#{t}#WITHDRAWAL#{p}#V#{v:010d}``        sk = ``WITHDRAWAL``
  chunk marker  pk = ``TENANT#{t}#WITHDRAWAL#{p}#V#{v:010d}``        sk = ``CHUNK#{n}``

The holder index has its own partition per version (not a GSI): the planner reads it strongly
consistent, which is what orders it against a bundle indexed at the same moment. A chunk is
counted by one transaction, its marker (absent → present) with the counters' ``ADD``, so a chunk
delivered twice is counted once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from content_service.domain.withdrawal import Holder, WithdrawalChunk, WithdrawalProgress
from content_service.migrations.kinds import stamped, versioned_update

_COUNTERS = ("chunks_done", "bundles_revoked", "devices_notified")


def _holders_pk(tenant_id: str, package_id: str, version: int) -> str:
    return f"TENANT#{tenant_id}#PACKAGE#{package_id}#V#{version:010d}#HOLDERS"


def _progress_pk(tenant_id: str, package_id: str, version: int) -> str:
    return f"TENANT#{tenant_id}#WITHDRAWAL#{package_id}#V#{version:010d}"


class DynamoHolderIndex:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def add(self, tenant_id: str, package_id: str, version: int, holder: Holder) -> None:
        # A plain put: the same holder written twice is the same item.
        self._client.put_item(
            TableName=self._table,
            Item=stamped(
                {
                    "pk": {"S": _holders_pk(tenant_id, package_id, version)},
                    "sk": {"S": f"BUNDLE#{holder.bundle_id}"},
                    "entity": {"S": "package_holder"},
                    "user_id": {"S": holder.user_id},
                }
            ),
        )

    def holders(self, tenant_id: str, package_id: str, version: int) -> list[Holder]:
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": _holders_pk(tenant_id, package_id, version)}},
            "ConsistentRead": True,
        }
        found: list[Holder] = []
        while True:
            response = self._client.query(**arguments)
            found.extend(
                Holder(item["sk"]["S"].removeprefix("BUNDLE#"), item["user_id"]["S"])
                for item in response.get("Items", [])
            )
            if "LastEvaluatedKey" not in response:
                return found
            arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]


class DynamoWithdrawalLog:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def start(self, progress: WithdrawalProgress) -> None:
        item = stamped(
            {
                **self._key(progress.tenant_id, progress.package_id, progress.version),
                "entity": {"S": "withdrawal"},
                "withdrawal_id": {"S": progress.withdrawal_id},
                "reason": {"S": progress.reason},
                "started_at": {"S": _iso(progress.started_at)},
                **{name: {"N": "0"} for name in _COUNTERS},
            }
        )
        try:
            self._client.put_item(
                TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def get(self, tenant_id: str, package_id: str, version: int) -> WithdrawalProgress | None:
        item = self._client.get_item(
            TableName=self._table, Key=self._key(tenant_id, package_id, version), ConsistentRead=True
        ).get("Item")
        if item is None:
            return None
        return WithdrawalProgress(
            tenant_id=tenant_id,
            package_id=package_id,
            version=version,
            reason=item["reason"]["S"],
            started_at=_time(item, "started_at"),
            planned_at=_time(item, "planned_at"),
            completed_at=_time(item, "completed_at"),
            bundles_total=_number(item, "bundles_total"),
            chunks_total=_number(item, "chunks_total"),
            **{name: _number(item, name) or 0 for name in _COUNTERS},
        )

    def planned(
        self, tenant_id: str, package_id: str, version: int, bundles: int, chunks: int, now: datetime
    ) -> None:
        # SET, not ADD: a planner delivered twice plans the same holders again and says so once.
        self._client.update_item(
            TableName=self._table,
            Key=self._key(tenant_id, package_id, version),
            **versioned_update(
                "withdrawal",
                "SET bundles_total = :bundles, chunks_total = :chunks, planned_at = :now",
                {":bundles": {"N": str(bundles)}, ":chunks": {"N": str(chunks)}, ":now": {"S": _iso(now)}},
            ),
        )
        self._complete_if_done(tenant_id, package_id, version, now)

    def chunk_done(
        self, chunk: WithdrawalChunk, bundles_revoked: int, devices_notified: int, now: datetime
    ) -> None:
        if chunk.number < 0:
            return  # A bundle that raced the withdrawal: revoked outside the planned chunks.
        key = self._key(chunk.tenant_id, chunk.package_id, chunk.version)
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": stamped(
                                {
                                    "pk": key["pk"],
                                    "sk": {"S": f"CHUNK#{chunk.number:06d}"},
                                    "entity": {"S": "withdrawal_chunk"},
                                    "done_at": {"S": _iso(now)},
                                }
                            ),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": key,
                            **versioned_update(
                                "withdrawal",
                                "ADD chunks_done :one, bundles_revoked :bundles, devices_notified :devices",
                                {
                                    ":one": {"N": "1"},
                                    ":bundles": {"N": str(bundles_revoked)},
                                    ":devices": {"N": str(devices_notified)},
                                },
                            ),
                        }
                    },
                ]
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            if reasons[:1] != ["ConditionalCheckFailed"]:
                raise  # Not the marker: a conflict the queue's retry resolves.
        self._complete_if_done(chunk.tenant_id, chunk.package_id, chunk.version, now)

    def _complete_if_done(self, tenant_id: str, package_id: str, version: int, now: datetime) -> None:
        # Whoever sees the last chunk counted (a worker, or the planner if the chunks were faster)
        # stamps the time; the condition keeps the first stamp.
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(tenant_id, package_id, version),
                UpdateExpression="SET completed_at = :now",
                ConditionExpression="attribute_exists(chunks_total) AND chunks_done >= chunks_total "
                "AND attribute_not_exists(completed_at)",
                ExpressionAttributeValues={":now": {"S": _iso(now)}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    @staticmethod
    def _key(tenant_id: str, package_id: str, version: int) -> dict[str, Any]:
        return {"pk": {"S": _progress_pk(tenant_id, package_id, version)}, "sk": {"S": "WITHDRAWAL"}}


def _iso(moment: datetime | None) -> str:
    if moment is None:
        raise ValueError("a withdrawal time is required")
    return moment.isoformat()


def _time(item: dict[str, Any], name: str) -> datetime | None:
    return datetime.fromisoformat(item[name]["S"]) if name in item else None


def _number(item: dict[str, Any], name: str) -> int | None:
    return int(item[name]["N"]) if name in item else None
